"""Background coding: the image with its text taken out.

The encoder removes the pixels of every redrawn glyph (`remove_text`), then codes what is left
with a `BackgroundCodec` under a byte budget. The decoder gets the background back at full size
and the renderer draws the text layer on top of it.

`ClassicalBackgroundCodec` (container codec id 1) is the v1 codec and the baseline that learned
codecs must beat: the background is downscaled by a factor chosen for the budget and coded with
AVIF or WebP from Pillow, whichever gives the lower error in the bytes available; in a
kilobyte or less also as flat rectangles (`picd.rects`), which keep a screen's boxes and edges
where AVIF's few hundred bytes blur them. The fixed
container boxes of those formats (about 270 bytes for AVIF) are deflated against a template that
ships with the code, so they cost a few bytes instead of a tenth of the file.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from PIL import Image

from picd import rects
from picd.container import read_varint, write_varint
from picd.errors import BadStreamError
from picd.search import largest_fitting, narrowed


class BackgroundCodec(ABC):
    """Codes an RGB background (H, W, 3) uint8 under a byte budget.

    ``weight`` (H, W) float in 0..1, optional, says how much each pixel matters (0 where the
    text layer will be drawn on top, so no bits need be spent there).
    """

    codec_id: int
    name: str

    @abstractmethod
    def compress(self, image: np.ndarray, max_bytes: int, weight: np.ndarray | None = None) -> bytes:
        """Payload bytes, at most ``max_bytes`` long where the codec can reach that."""

    @abstractmethod
    def decompress(self, data: bytes, width: int, height: int) -> np.ndarray:
        """The background at full size (height, width, 3) uint8."""

    def min_bytes(self) -> int:
        """Smallest payload this codec can produce."""
        return 4


# --------------------------------------------------------------------------------------------
# Text removal


def remove_text(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill the masked pixels smoothly from their surroundings (push-pull pyramid fill).

    Unlike diffusion inpainting its cost does not grow with the size of the holes: every level
    of a pyramid of (premultiplied colour, weight) is averaged down, then holes are filled from
    the next coarser level on the way back up.
    """
    if not mask.any():
        return image.copy()
    img = image.astype(np.float32)
    w = (~mask).astype(np.float32)
    levels = [(img * w[..., None], w)]
    while min(levels[-1][1].shape) > 1:
        c, wt = levels[-1]
        h, wd = wt.shape
        nh, nw = (h + 1) // 2, (wd + 1) // 2
        c = _pad_even(c)
        wt = _pad_even(wt)
        c2 = c.reshape(nh, 2, nw, 2, 3).sum(axis=(1, 3))
        w2 = wt.reshape(nh, 2, nw, 2).sum(axis=(1, 3))
        levels.append((c2, w2))
    # pull: colour estimate at each level, filled from the coarser level where weight is thin
    c, wt = levels[-1]
    est = c / np.maximum(wt, 1e-6)[..., None]
    for c, wt in reversed(levels[:-1]):
        h, wd = wt.shape
        up = np.repeat(np.repeat(est, 2, axis=0), 2, axis=1)[:h, :wd]
        a = np.clip(wt, 0.0, 1.0)[..., None]
        est = a * (c / np.maximum(wt, 1e-6)[..., None]) + (1 - a) * up
    out = image.copy()
    out[mask] = np.clip(np.rint(est[mask]), 0, 255).astype(np.uint8)
    return out


def _pad_even(a: np.ndarray) -> np.ndarray:
    ph, pw = a.shape[0] % 2, a.shape[1] % 2
    if not (ph or pw):
        return a
    pad = ((0, ph), (0, pw)) + ((0, 0),) * (a.ndim - 2)
    return np.pad(a, pad, mode="constant")


# --------------------------------------------------------------------------------------------
# Classical codec

# Fixed container boxes as Pillow's libavif and libwebp write them; they are the zlib preset
# dictionaries for the headers. Never change these bytes: old files are decoded with them.
_AVIF_TEMPLATE = bytes.fromhex(
    "00000020667479706176696600000000617669666d6966316d6961664d413142000000eb6d65746100000000"
    "0000002168646c72000000000000000070696374000000000000000000000000000000000e7069746d000000"
    "0000010000001e696c6f630000000044000001000100000001000001130000001f0000002869696e66000000"
    "0000010000001a696e6665020000000001000061763031436f6c6f72000000006a697072700000004b697063"
    "6f000000146973706500000000000000100000001000000010706978690000000003080808000000"
    "0c6176314381000c0000000013636f6c726e636c780001000d0006800000001769706d61000000000000"
    "000100010401028304000000276d646174"
)
_WEBP_TEMPLATE = bytes.fromhex("52494646240000005745425056503820180000005001009d012a10001000")

_FMT_FLAT, _FMT_AVIF, _FMT_WEBP, _FMT_RECTS = 0, 1, 2, 3
_TEMPLATES = {_FMT_AVIF: _AVIF_TEMPLATE, _FMT_WEBP: _WEBP_TEMPLATE}
_SCALES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
# libaom's speed for the encoder (0 slowest .. 10): 6, Pillow's default, codes the screen
# backgrounds about 0.2 dB better than 8 in the same bytes for about twice the time
# (docs/history.md).
_AVIF_SPEED = 6
# A format and downscaled size at which the last image's quality 0 was this many times over the
# budget is not tried: the images one instance codes differ by a few words' ink.
_SURE_MISS = 1.5
# Rectangles (`picd.rects`) are tried in budgets up to this many bytes. Where AVIF has a few
# hundred bytes its image is a blur of the colours, and a few dozen flat boxes with crisp edges
# come closer; with more bytes AVIF's detail wins on most screens (on 8 screens at 0.02 bpp,
# rectangles in any budget lost up to 7 dB on one and took twice the time; docs/history.md).
RECTS_MAX_BYTES = 1024
_RECTS_FULL_GRID = 600_000  # pixels up to which rectangles are cut on every pixel, above on every 2nd
_RECTS_STEPS = (4, 16)  # colour steps tried (`picd.rects.STEPS`)


def _deflate(data: bytes, zdict: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
    return c.compress(data) + c.flush()


def _inflate(data: bytes, zdict: bytes) -> bytes:
    d = zlib.decompressobj(-15, zdict)
    out = d.decompress(data) + d.flush()
    if not d.eof:
        raise BadStreamError("corrupted background section (header)")
    return out


def _header_split(fmt: int, data: bytes) -> int:
    if fmt == _FMT_AVIF:
        i = data.find(b"mdat")
        return i + 4 if i >= 0 else len(data)
    return min(len(data), 30)


def _pack_image(fmt: int, data: bytes) -> bytes:
    cut = _header_split(fmt, data)
    head = _deflate(data[:cut], _TEMPLATES[fmt])
    return bytes([fmt]) + write_varint(len(head)) + head + data[cut:]


def _unpack_image(payload: bytes) -> Image.Image:
    fmt = payload[0]
    n, pos = read_varint(payload, 1, len(payload))
    if fmt not in _TEMPLATES or pos + n > len(payload):
        raise BadStreamError("corrupted background section")
    data = _inflate(payload[pos : pos + n], _TEMPLATES[fmt]) + payload[pos + n :]
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception as exc:  # Pillow raises many types for broken data
        raise BadStreamError(f"corrupted background section ({exc.__class__.__name__})") from None
    return im.convert("RGB")


def _encode(fmt: int, small: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == _FMT_AVIF:
        small.save(buf, "AVIF", quality=quality, speed=_AVIF_SPEED, subsampling="4:2:0")
    else:
        small.save(buf, "WEBP", quality=quality, method=4)
    return _pack_image(fmt, buf.getvalue())


@dataclass(frozen=True)
class _Candidate:
    payload: bytes
    error: float


class ClassicalBackgroundCodec(BackgroundCodec):
    """Downscale + AVIF/WebP, the v1 background codec (container codec id 1); in budgets of at
    most `RECTS_MAX_BYTES` also rectangles of flat colour (`picd.rects`). Whichever comes
    closest to the image (weighted squared error) is kept, rectangles only where they also
    lose no MS-SSIM against the best of the others.

    Payload: ``format:u8`` then, for AVIF/WebP, ``varint n, deflated header[n], rest of file``;
    for a flat background, three bytes of colour; for rectangles, `picd.rects`'s stream.

    ``rects=False`` leaves the rectangles out (the AVIF/WebP baseline alone).

    An instance is for one page: it remembers what it has coded (see `_fit`), and takes the
    images it is given to be versions of one background.
    """

    codec_id = 1
    name = "classical"

    def __init__(self, formats: tuple[int, ...] = (_FMT_AVIF, _FMT_WEBP), rects: bool = True):
        self.formats = formats
        self.rects = rects
        # What this instance has coded: the encoder codes one page's background several times
        # (without ink patches, with them, with large text as patches; see `_fit`).
        self._coded: dict[tuple[bytes, int], dict[int, bytes | int]] = {}
        self._floors: dict[tuple[int, int, int], int] = {}  # (format, w, h): size at quality 0

    def compress(self, image: np.ndarray, max_bytes: int, weight: np.ndarray | None = None) -> bytes:
        h, w = image.shape[:2]
        wt = np.ones((h, w), np.float32) if weight is None else weight.astype(np.float32)
        flat = self._flat(image, wt)
        if max_bytes <= len(flat):
            return flat
        # candidates are compared on a reduced copy (at most ~250k pixels): same ranking, less time
        r = max(1.0, (w * h / 250_000) ** 0.5)
        ew, eh = max(1, round(w / r)), max(1, round(h / r))
        ref = np.asarray(Image.fromarray(image).resize((ew, eh), Image.Resampling.BOX), np.float32)
        ref_wt = np.asarray(Image.fromarray(wt, mode="F").resize((ew, eh), Image.Resampling.BOX), np.float32)
        best = _Candidate(flat, self._error(ref, ref_wt, self.decompress(flat, ew, eh)))
        pil = Image.fromarray(image)
        found = False  # some scale gave a coded candidate
        for scale in self._scales(w, h, max_bytes):
            sw, sh = max(1, round(w / scale)), max(1, round(h / scale))
            small = pil.resize((sw, sh), Image.Resampling.LANCZOS)
            here: _Candidate | None = None  # the best of this scale
            key = hashlib.blake2b(small.tobytes(), digest_size=16, person=b"%dx%d" % small.size).digest()
            for fmt in self.formats:
                payload = self._fit(fmt, small, key, max_bytes)
                if payload is None:
                    continue
                err = self._error(ref, ref_wt, self.decompress(payload, ew, eh))
                if here is None or err < here.error:
                    here = _Candidate(payload, err)
            if here is None:
                continue
            if found and here.error >= best.error:
                break  # the error over scales is taken as unimodal: coarser only gets worse
            found = True
            if here.error < best.error:
                best = here
        if self.rects and max_bytes <= RECTS_MAX_BYTES:
            from picd.metrics import ms_ssim  # only here: decoding needs none of it

            best_ssim = None
            grid = 1 if w * h <= _RECTS_FULL_GRID else 2
            for payload in rects.candidates(image, wt, max_bytes - 1, (grid,), _RECTS_STEPS):
                if payload is None:
                    continue
                payload = bytes([_FMT_RECTS]) + payload
                small = Image.fromarray(rects.decode(payload[1:], w, h)).resize((ew, eh), Image.Resampling.BOX)
                err = self._error(ref, ref_wt, np.asarray(small))
                if err >= best.error:
                    continue
                # and no loss of structure: flat boxes over a gradient or a photo can come closer
                # in squared error and lose its shapes (a 3D pie chart: MS-SSIM 0.90 -> 0.84)
                if best_ssim is None:
                    ref8 = np.clip(np.rint(ref), 0, 255).astype(np.uint8)
                    best_ssim = ms_ssim(ref8, self.decompress(best.payload, ew, eh))
                s = ms_ssim(ref8, np.asarray(small))
                if s >= best_ssim:
                    best, best_ssim = _Candidate(payload, err), s
        return best.payload

    def decompress(self, data: bytes, width: int, height: int) -> np.ndarray:
        if not data:
            raise BadStreamError("empty background section")
        if data[0] == _FMT_FLAT:
            if len(data) != 4:
                raise BadStreamError("corrupted background section (flat colour)")
            return np.broadcast_to(np.frombuffer(data[1:4], np.uint8), (height, width, 3)).copy()
        if data[0] == _FMT_RECTS:
            return rects.decode(data[1:], width, height)
        im = _unpack_image(data)
        if im.size != (width, height):
            im = im.resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(im, dtype=np.uint8).copy()

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _flat(image: np.ndarray, wt: np.ndarray) -> bytes:
        s = wt.sum()
        if s <= 0:
            colour = image.reshape(-1, 3).mean(axis=0)
        else:
            colour = (image * wt[..., None]).reshape(-1, 3).sum(axis=0) / s
        return bytes([_FMT_FLAT]) + bytes(np.clip(np.rint(colour), 0, 255).astype(np.uint8).tolist())

    @staticmethod
    def _error(image: np.ndarray, wt: np.ndarray, decoded: np.ndarray) -> float:
        d = (image.astype(np.float32) - decoded.astype(np.float32)) ** 2
        return float((d.sum(axis=2) * wt).sum() / max(wt.sum(), 1e-6))

    @staticmethod
    def _scales(w: int, h: int, max_bytes: int) -> list[int]:
        """Downscale factors worth trying: roughly 0.01 to 3 bits per coded pixel (mostly flat
        screens code well at full size even at 0.02 bits a pixel)."""
        out = []
        for s in _SCALES:
            px = max(1, round(w / s)) * max(1, round(h / s))
            bpp = max_bytes * 8 / px
            if 0.01 <= bpp <= 3.0 and min(w / s, h / s) >= 2:
                out.append(s)
        if not out:  # tiny budget or tiny image: the coarsest factor that keeps 2 pixels a side
            fits = [s for s in _SCALES if min(w / s, h / s) >= 2] or [1]
            out = [fits[-1]]
        return out

    def _fit(self, fmt: int, small: Image.Image, key: bytes, max_bytes: int) -> bytes | None:
        """Payload at the highest quality that fits (:func:`picd.search.largest_fitting` over
        Pillow's 0..100 quality); None when even quality 0 does not fit (found with one encode).

        ``key`` identifies the pixels of ``small``: the payloads of an image coded before are
        taken from memory, and the search starts from the bracket their sizes give. A format
        and size at which the last image's quality 0 was `_SURE_MISS` times over the budget is
        not tried.
        """
        # This image's payloads by quality; of those far over the budget only their length.
        own = self._coded.setdefault((key, fmt), {})
        shape = (fmt, *small.size)
        floor = self._floors.get(shape)
        if not own and floor is not None and floor > _SURE_MISS * max_bytes:
            return None
        seen = {q: p if isinstance(p, int) else len(p) for q, p in own.items()}

        def size(q: int) -> int:
            if q not in seen:
                data = _encode(fmt, small, q)
                seen[q] = len(data)
                own[q] = data if len(data) <= 2 * max_bytes else len(data)
            return seen[q]

        self._floors[shape] = size(0)
        if seen[0] > max_bytes:
            return None
        lo, hi = narrowed(sorted(seen.items()), 0, 101, max_bytes)
        q = largest_fitting(size, lo, hi, max_bytes, top=100)
        if isinstance(own[q], int):  # kept as a length when it was far over an earlier budget
            own[q] = _encode(fmt, small, q)
        return own[q]


BACKGROUND_CODECS: dict[int, type[BackgroundCodec]] = {ClassicalBackgroundCodec.codec_id: ClassicalBackgroundCodec}


def get_background_codec(codec_id: int) -> BackgroundCodec:
    from picd.errors import MissingModelError

    if codec_id == 2 and 2 not in BACKGROUND_CODECS:  # imported lazily: it imports this module
        from picd.learned import LearnedBackgroundCodec

        BACKGROUND_CODECS[LearnedBackgroundCodec.codec_id] = LearnedBackgroundCodec
    try:
        return BACKGROUND_CODECS[codec_id]()
    except KeyError:
        raise MissingModelError(
            f"background codec id {codec_id} is not installed in this picd (known: "
            f"{sorted(BACKGROUND_CODECS)}); upgrade picd to decode this file"
        ) from None
