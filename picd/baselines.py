"""Classical codecs to compare against, each searched to land at or just under a byte budget.

Codecs (``CODECS``, by name):

- ``avif``: AV1 still image through Pillow's built-in AVIF plugin (libavif), ``quality`` 0..100,
  ``speed`` 6 (Pillow's default), 4:2:0, one thread.
- ``webp``: lossy WebP through Pillow (libwebp), ``quality`` 0..100, ``method`` 4 (the default).
- ``jpeg``: baseline JPEG through Pillow (libjpeg-turbo), ``quality`` 1..100, ``optimize=True``
  (optimised Huffman tables), default 4:2:0 subsampling.
- ``jxl``: JPEG XL through ``pillow_jxl`` (libjxl), ``quality`` 0..99, ``effort`` 7 (libjxl's
  default), one thread.
- ``djvu``: DjVu IW44 wavelet (DjVuLibre's ``c44``), ``slices`` 1..140 (one chunk); photo-style.
- ``djvu-pal``: DjVu palette + JB2 (DjVuLibre's ``cpaldjvu``), ``colors`` 2..256; screen-style.

The DjVu codecs need Debian's ``djvulibre-bin`` (``c44``, ``cpaldjvu``, ``ddjvu`` on ``PATH``);
without it :meth:`BaselineCodec.missing` says so and callers skip them.

Size search (:func:`encode_to_size`): over downscale factors ``f`` (default ``1, 2, 3, 4, 6, 8``)
and the codec's integer quality setting. The image is downscaled with Lanczos to
``(ceil(W / f), ceil(H / f))``, coded, decoded and upscaled back to ``(W, H)`` with Lanczos.
A decoder needs ``f`` and ``W mod f``, ``H mod f`` to restore the size: ``SIDE_INFO_BYTES`` (2)
are added to the byte count of every downscaled result. For each factor the largest quality whose
total size fits the budget is found (:func:`picd.search.largest_fitting`: interpolation on log
size, bracketed, with bisection as safeguard; every coded size is cached so searches for several
budgets on one image share work); among factors the one with the best RGB PSNR wins. The PSNR
over factors is taken as unimodal, so the search stops at the first factor whose PSNR is lower
than the best so far. Factors are tried from 1 up, skipping factors whose PSNR without any
coding (downscale + upscale only) cannot beat the best. On one :class:`SizeSearch`, a budget
larger than one searched before never tries a factor coarser than the one that smaller budget
chose (more bytes never favour more downscaling): its factors are tried from that one down to
finer ones, which spares the slow full-resolution encodes when a coarser factor wins.
``djvu-pal`` breaks the one-peak rule (two colours at full size can beat nine at a sixth of
it), so every factor is tried for it. When no setting fits, the smallest file found (largest
factor, lowest quality) is returned with ``reached=False``.

Every result is reproducible from its ``setting`` with Pillow alone: see :func:`reencode`.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from picd.metrics import psnr
from picd.search import largest_fitting, narrowed

DEFAULT_FACTORS = (1, 2, 3, 4, 6, 8)
SIDE_INFO_BYTES = 2  # factor index + (W mod f, H mod f), when downscaled
MIN_SCALED_SIDE = 16  # a factor is tried only if the downscaled image keeps this many pixels
RESAMPLE = Image.Resampling.LANCZOS


@dataclass(frozen=True)
class Result:
    """One coded image.

    Attributes:
        data: the codec's file, all bytes (container/headers included).
        decoded_image: the decoded image at the original size, ``(H, W, 3)`` uint8.
        setting: everything needed to reproduce ``data``: ``codec``, ``factor``, the quality
            parameter by its codec's name (``quality``, ``slices``, ``colors``) and fixed
            encoder parameters (``speed``, ``effort``, ...).
        reached: whether ``n_bytes`` is within the requested budget.
        encode_s: seconds of the one encode at ``setting`` (downscaling included; the search
            around it is not).
        decode_s: seconds to decode ``data`` and upscale it to the original size.
    """

    data: bytes
    decoded_image: np.ndarray
    setting: dict
    reached: bool
    encode_s: float = float("nan")
    decode_s: float = float("nan")

    @property
    def n_bytes(self) -> int:
        """Bytes a decoder needs: the file plus ``SIDE_INFO_BYTES`` when downscaled."""
        return len(self.data) + side_info_bytes(self.setting.get("factor", 1))


def side_info_bytes(factor: int) -> int:
    return 0 if factor == 1 else SIDE_INFO_BYTES


def scaled_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """Size of the coded image at downscale ``factor``: ``(ceil(W / f), ceil(H / f))``."""
    return (-(-width // factor), -(-height // factor))


def scale_down(image: np.ndarray, factor: int) -> np.ndarray:
    """Lanczos downscale by ``factor`` to :func:`scaled_size`; ``factor == 1`` returns ``image``."""
    if factor == 1:
        return image
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize(scaled_size(w, h, factor), RESAMPLE))


def scale_up(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Lanczos resize to ``(width, height)``; no-op when already that size."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), RESAMPLE))


def _to_rgb(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"))


class BaselineCodec(ABC):
    """A classical codec with one integer quality knob; a larger value never means fewer bytes
    by design (the search tolerates small violations)."""

    name: str = "base"
    knob: str = "quality"  # name of the quality parameter in ``setting``
    knob_range: tuple[int, int] = (0, 100)  # inclusive
    # whether PSNR over downscale factors at a fixed budget has one peak (see `SizeSearch.run`)
    unimodal: bool = True

    def missing(self) -> str | None:
        """Why this codec cannot run here (a missing tool), or None when it can."""
        return None

    def params(self) -> dict:
        """Fixed encoder parameters, recorded in every ``setting``."""
        return {}

    @abstractmethod
    def encode(self, image: np.ndarray, quality: int) -> bytes:
        """Code ``image`` (RGB uint8) as is, at setting ``quality``."""

    @abstractmethod
    def decode(self, data: bytes) -> np.ndarray:
        """Decode to RGB uint8 at the coded size."""


class _PillowCodec(BaselineCodec):
    fmt: str = ""

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, self.fmt, quality=quality, **self.params())
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return _to_rgb(im)


class AvifCodec(_PillowCodec):
    name, fmt = "avif", "AVIF"

    def params(self) -> dict:
        return {"speed": 6, "subsampling": "4:2:0", "max_threads": 1}


class WebpCodec(_PillowCodec):
    name, fmt = "webp", "WEBP"

    def params(self) -> dict:
        return {"method": 4}


class JpegCodec(_PillowCodec):
    name, fmt = "jpeg", "JPEG"
    knob_range = (1, 100)

    def params(self) -> dict:
        return {"optimize": True}


class JxlCodec(_PillowCodec):
    name, fmt = "jxl", "JXL"
    knob_range = (0, 99)  # 100 asks libjxl for distance 0, which it only takes as lossless

    def missing(self) -> str | None:
        try:
            import pillow_jxl  # noqa: F401  (registers the JXL plugin with Pillow)
        except ImportError:
            return "pillow-jxl-plugin is not installed"
        return None

    def params(self) -> dict:
        return {"effort": 7, "num_threads": 1}

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        import pillow_jxl  # noqa: F401

        return super().encode(image, quality)

    def decode(self, data: bytes) -> np.ndarray:
        import pillow_jxl  # noqa: F401

        return super().decode(data)


class _DjvuCodec(BaselineCodec):
    """A DjVuLibre command-line encoder; decoding with ``ddjvu`` at full resolution."""

    tool: str = ""

    def missing(self) -> str | None:
        absent = [t for t in (self.tool, "ddjvu") if shutil.which(t) is None]
        if absent:
            return f"{', '.join(absent)} not on PATH (install Debian's djvulibre-bin)"
        return None

    def _command(self, quality: int, src: str, dst: str) -> list[str]:
        raise NotImplementedError

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        with tempfile.TemporaryDirectory(prefix="picd-djvu-") as tmp:
            src, dst = Path(tmp) / "in.ppm", Path(tmp) / "out.djvu"
            Image.fromarray(image).save(src)
            subprocess.run(self._command(quality, str(src), str(dst)), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            return dst.read_bytes()

    def decode(self, data: bytes) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="picd-djvu-") as tmp:
            src, dst = Path(tmp) / "in.djvu", Path(tmp) / "out.ppm"
            src.write_bytes(data)
            subprocess.run(["ddjvu", "-format=ppm", str(src), str(dst)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with Image.open(dst) as im:
                return _to_rgb(im)


class DjvuIw44Codec(_DjvuCodec):
    name, tool, knob, knob_range = "djvu", "c44", "slices", (1, 140)

    def _command(self, quality: int, src: str, dst: str) -> list[str]:
        return ["c44", "-slice", str(quality), src, dst]


class DjvuPaletteCodec(_DjvuCodec):
    name, tool, knob, knob_range = "djvu-pal", "cpaldjvu", "colors", (2, 256)
    unimodal = False  # palette + JB2: a few colours at full size can beat many at 1/6 size

    def _command(self, quality: int, src: str, dst: str) -> list[str]:
        return ["cpaldjvu", "-colors", str(quality), src, dst]


CODECS: dict[str, BaselineCodec] = {
    c.name: c
    for c in (AvifCodec(), WebpCodec(), JpegCodec(), JxlCodec(), DjvuIw44Codec(),
              DjvuPaletteCodec())
}


def get_codec(name: str) -> BaselineCodec:
    try:
        return CODECS[name]
    except KeyError:
        raise KeyError(f"unknown codec {name!r}; known: {', '.join(CODECS)}") from None


# ---------------------------------------------------------------------------------------------
# Size search


@dataclass
class SizeSearch:
    """Cached coding of one image with one codec, for budgets asked one after another.

    Each ``(factor, quality)`` is coded at most once and decoded at most once per budget (its
    PSNR is kept, the decoded image only until the budget's result is returned).
    """

    codec: BaselineCodec
    image: np.ndarray
    factors: tuple[int, ...] = DEFAULT_FACTORS
    _small: dict = field(default_factory=dict, repr=False)
    _data: dict = field(default_factory=dict, repr=False)
    _decoded: dict = field(default_factory=dict, repr=False)
    _ceiling: dict = field(default_factory=dict, repr=False)
    _won: dict = field(default_factory=dict, repr=False)  # budget -> winning factor
    _seconds: dict = field(default_factory=dict, repr=False)  # (factor, q) -> (encode, decode)
    _scale_s: dict = field(default_factory=dict, repr=False)  # factor -> downscaling seconds

    def __post_init__(self) -> None:
        h, w = self.image.shape[:2]
        ok = [f for f in sorted(set(self.factors))
              if f == 1 or min(scaled_size(w, h, f)) >= MIN_SCALED_SIDE]
        self.factors = tuple(ok) or (1,)

    def setting(self, factor: int, quality: int) -> dict:
        return {"codec": self.codec.name, "factor": factor, self.codec.knob: quality,
                **self.codec.params()}

    def data(self, factor: int, quality: int) -> bytes:
        key = (factor, quality)
        if key not in self._data:
            small = self._scaled(factor)
            t0 = time.perf_counter()
            self._data[key] = self.codec.encode(small, quality)
            self._seconds[key] = (time.perf_counter() - t0 + self._scale_s[factor], float("nan"))
        return self._data[key]

    def _scaled(self, factor: int) -> np.ndarray:
        if factor not in self._small:
            t0 = time.perf_counter()
            self._small[factor] = scale_down(self.image, factor)
            self._scale_s[factor] = time.perf_counter() - t0
        return self._small[factor]

    def n_bytes(self, factor: int, quality: int) -> int:
        return len(self.data(factor, quality)) + side_info_bytes(factor)

    def decoded(self, factor: int, quality: int) -> tuple[np.ndarray, float]:
        key = (factor, quality)
        if self._decoded.get(key, (None,))[0] is None:
            h, w = self.image.shape[:2]
            data = self.data(factor, quality)
            t0 = time.perf_counter()
            img = scale_up(self.codec.decode(data), w, h)
            self._seconds[key] = (self._seconds[key][0], time.perf_counter() - t0)
            self._decoded[key] = (img, psnr(self.image, img))
        return self._decoded[key]

    def _result(self, factor: int, quality: int, reached: bool) -> Result:
        image = self.decoded(factor, quality)[0]
        # keep the PSNRs, drop the full-size images (a few hundred MB on big screenshots)
        self._decoded = {k: (None, p) for k, (_, p) in self._decoded.items()}
        enc, dec = self._seconds[(factor, quality)]
        return Result(self.data(factor, quality), image, self.setting(factor, quality), reached,
                      encode_s=enc, decode_s=dec)

    def ceiling(self, factor: int) -> float:
        """PSNR of downscale + upscale alone: what coding at ``factor`` can at best reach."""
        if factor not in self._ceiling:
            h, w = self.image.shape[:2]
            self._ceiling[factor] = psnr(self.image, scale_up(self._scaled(factor), w, h))
        return self._ceiling[factor]

    def best_quality(self, factor: int, max_bytes: int) -> int | None:
        """Largest quality at ``factor`` whose size fits ``max_bytes``; None if none fits.

        Bracket ``lo`` (fits) / ``hi`` (does not); the top of the range is first taken as not
        fitting without coding it (coding at the top quality is the slowest and rarely needed).
        The first few probes come from another factor's size curve (:meth:`_guess`), then log
        size is interpolated between ``lo`` and ``hi``, with bisection as the safeguard. Sizes are
        taken as growing with quality; only the probes, not the answer, depend on the guesses.
        """
        lo, top = self.codec.knob_range
        if self.n_bytes(factor, lo) > max_bytes:
            return None
        lo, hi = narrowed(((q, self.n_bytes(f, q)) for f, q in list(self._data) if f == factor),
                          lo, top + 1, max_bytes)  # what is already coded
        return largest_fitting(lambda q: self.n_bytes(factor, q), lo, hi, max_bytes, top,
                               guess=lambda a, b, target: self._guess(factor, a, b, target))

    def _guess(self, factor: int, lo: int, hi: int, target: float) -> int | None:
        """Where log size reaches ``target`` at ``factor``, read off the curve of the nearest
        other factor with coded sizes around it, shifted to agree at ``lo`` or ``hi`` (whichever
        is coded and nearer the target). None when no other factor's curve reaches that far."""
        top = self.codec.knob_range[1]
        anchors = [(abs(math.log(self.n_bytes(factor, q)) - target), q)
                   for q in (lo, hi) if q <= top]
        _, anchor = min(anchors)
        s_anchor = math.log(self.n_bytes(factor, anchor))
        others = sorted({f for f, _ in self._data if f != factor},
                        key=lambda f: abs(math.log(f / factor)))
        for g in others:
            pts = sorted((q, math.log(self.n_bytes(g, q))) for f, q in self._data if f == g)
            qs = [q for q, _ in pts]
            if len(pts) < 2 or not qs[0] <= anchor <= qs[-1]:
                continue
            shift = s_anchor - float(np.interp(anchor, qs, [s for _, s in pts]))
            for (q0, s0), (q1, s1) in zip(pts, pts[1:]):
                if s0 + shift <= target < s1 + shift:
                    return round(q0 + (target - s0 - shift) / (s1 - s0) * (q1 - q0))
        return None

    def run(self, max_bytes: int) -> Result:
        """The best-PSNR setting at or under ``max_bytes`` (see the module docstring)."""
        # A larger budget never prefers a coarser factor than a smaller budget did.
        limit = min((f for b, f in self._won.items() if b <= max_bytes), default=None)
        every = not self.codec.unimodal  # try every factor
        upward = limit is None or every
        if upward:  # from the finest factor up
            order = self.factors
        else:  # from that smaller budget's winner down to finer factors
            order = tuple(f for f in reversed(self.factors) if f <= limit)
        best: tuple[float, int, int] | None = None  # (psnr, factor, quality)
        for factor in order:
            if upward and not every and best is not None and self.ceiling(factor) <= best[0]:
                break
            q = self.best_quality(factor, max_bytes)
            if q is None:
                if upward:
                    continue
                break  # a finer factor needs more bytes still
            p = self.decoded(factor, q)[1]
            if best is None or p > best[0]:
                best = (p, factor, q)
            elif not every:
                break
        if best is None:  # nothing fits: the smallest file there is
            return self._result(self.factors[-1], self.codec.knob_range[0], reached=False)
        _, factor, quality = best
        self._won[max_bytes] = factor
        return self._result(factor, quality, reached=True)


def encode_to_size(codec: str | BaselineCodec, image: np.ndarray, max_bytes: int,
                   factors: tuple[int, ...] = DEFAULT_FACTORS) -> Result:
    """Code ``image`` with ``codec`` at the best PSNR within ``max_bytes`` (all bytes counted).

    ``factors=(1,)`` searches quality only, at full resolution. For several budgets on one image,
    use one :class:`SizeSearch` and call :meth:`SizeSearch.run` per budget.
    """
    codec = get_codec(codec) if isinstance(codec, str) else codec
    return SizeSearch(codec, image, factors).run(max_bytes)


def reencode(image: np.ndarray, setting: dict) -> tuple[bytes, np.ndarray]:
    """Code ``image`` again from a result's ``setting``: ``(data, decoded image at full size)``."""
    codec = get_codec(setting["codec"])
    factor = setting.get("factor", 1)
    data = codec.encode(scale_down(image, factor), setting[codec.knob])
    h, w = image.shape[:2]
    return data, scale_up(codec.decode(data), w, h)
