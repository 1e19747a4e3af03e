"""`LearnedBackgroundCodec`: the background codec of container codec id 2.

Encode: the pixels the text layer covers (``weight < 0.5``) are filled smoothly with
`picd.background.remove_text`, so the network sees no glyph edges and spends no bits on them;
the image is downscaled by a factor from `DOWNSCALES`, padded (edge replicate) to multiples of
64 and coded by a `LearnedCodecModel` at a rate level. Factor and level are searched for the
lowest weighted squared error whose payload fits the byte budget (levels are monotone in rate:
binary search per factor; factors from fine to coarse, among those that put 0.03 to 1 bit on
each coded pixel, until the error stops improving).

Decode: latents -> ``g_s`` -> crop -> bicubic upscale to the full size.

Payload (every byte counts in the reported bpp)::

    model   varint   model id in picd/weights/MANIFEST.json (append-only)
    params  1 byte   rate level (low 4 bits) | index into DOWNSCALES (high 4 bits)
    stream  rest     range-coded z_hat, y_hat - mu and an 8-bit end marker (picd.entropy_gaussian)

The coded size, padded size and latent shapes follow from the container's width and height
and the factor, so they are not stored: coded ``(max(1, round(W / f)), max(1, round(H / f)))``,
padded up to multiples of 64, y at 1/16 and z at 1/64 of the padded size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from picd.background import BackgroundCodec, remove_text
from picd.container import read_varint, write_varint
from picd.errors import BadStreamError
from picd.learned.model import PAD, CompressedLatents, LearnedCodecModel
from picd.learned.weights import WEIGHTS_DIR, default_model_id, load_model

DOWNSCALES: tuple[float, ...] = (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32)
"""Downscale factors by their 4-bit payload index. Append-only (at most 16)."""

MAX_CODED_PIXELS = 1 << 26
"""Largest padded image the network codes; a payload implying more is refused as corrupt."""

MIN_CODED_SIDE = 16
MAX_FACTOR_TRIES = 2
CODED_BPP_RANGE = (0.03, 1.0)
"""Bits per *coded* pixel worth trying (a factor outside would waste the network's range)."""


def coded_size(width: int, height: int, factor: float) -> tuple[int, int]:
    """(width, height) of the image the network sees at downscale ``factor``."""
    return max(1, round(width / factor)), max(1, round(height / factor))


def padded_size(width: int, height: int) -> tuple[int, int]:
    return -(-width // PAD) * PAD, -(-height // PAD) * PAD


@dataclass(frozen=True)
class _Candidate:
    payload: bytes
    error: float


class LearnedBackgroundCodec(BackgroundCodec):
    """Hyperprior codec with gain-unit rate levels (see `picd.learned.model`); codec id 2.

    ``model_id`` picks the weights for encoding (default: the manifest's default); decoding
    always uses the id in the payload. ``weights_dir`` is for tests and training exports.
    """

    codec_id = 2
    name = "learned"

    def __init__(self, model_id: int | None = None, weights_dir: Path = WEIGHTS_DIR) -> None:
        self.model_id = model_id
        self.weights_dir = Path(weights_dir)

    def min_bytes(self) -> int:
        return 8

    def _model(self, model_id: int | None = None) -> tuple[int, LearnedCodecModel]:
        mid = model_id if model_id is not None else self.model_id
        if mid is None:
            mid = default_model_id(self.weights_dir)
        return mid, load_model(mid, self.weights_dir)

    # -- encode ---------------------------------------------------------------------------

    def compress(self, image: np.ndarray, max_bytes: int, weight: np.ndarray | None = None) -> bytes:
        mid, model = self._model()
        h, w = image.shape[:2]
        wt = np.ones((h, w), np.float32) if weight is None else np.asarray(weight, np.float32)
        src = remove_text(image, wt < 0.5) if weight is not None else image
        head = write_varint(mid)
        budget = max_bytes - len(head) - 1
        best: _Candidate | None = None
        smallest: bytes | None = None
        tried = 0
        for fi in self._factor_order(w, h, budget):
            cw, ch = coded_size(w, h, DOWNSCALES[fi])
            y = model.g_a(_to_tensor(src, cw, ch))
            found = self._fit_level(model, y, budget)
            if found is None:
                data = head + bytes([fi << 4]) + model.compress_latent(y, 0).data
                if smallest is None or len(data) < len(smallest):
                    smallest = data
                continue
            level, stream = found
            payload = head + bytes([(fi << 4) | level]) + stream
            err = _weighted_error(image, wt, self.decompress(payload, w, h))
            tried += 1
            if best is not None and err >= best.error:
                break
            best = _Candidate(payload, err)
            if tried >= MAX_FACTOR_TRIES:
                break
        if best is not None:
            return best.payload
        assert smallest is not None
        return smallest

    @staticmethod
    def _factor_order(w: int, h: int, budget: int) -> list[int]:
        """Indexes of the factors to try, fine to coarse: those whose coded bpp lies in
        `CODED_BPP_RANGE` and whose coded image is at least `MIN_CODED_SIDE` (else the nearest
        admissible ones), then every coarser one as a fallback when nothing fits."""
        ok = []
        for fi, f in enumerate(DOWNSCALES):
            cw, ch = coded_size(w, h, f)
            pw, ph = padded_size(cw, ch)
            if pw * ph > MAX_CODED_PIXELS or (min(cw, ch) < MIN_CODED_SIDE and fi > 0):
                continue
            ok.append((fi, 8 * budget / (cw * ch)))
        lo, hi = CODED_BPP_RANGE
        inside = [fi for fi, bpp in ok if lo <= bpp <= hi]
        if not inside:  # all too coarse or too fine: the admissible factor nearest the range
            inside = [min(ok, key=lambda t: abs(math.log(max(t[1], 1e-9) / math.sqrt(lo * hi))))[0]]
        return inside + [fi for fi, _ in ok if fi > inside[-1]]

    @staticmethod
    def _fit_level(model: LearnedCodecModel, y: torch.Tensor, budget: int) -> tuple[int, bytes] | None:
        """Highest level whose stream fits ``budget`` bytes (bisection), with its stream."""
        lo, hi, best = 0, model.config.levels - 1, None
        while lo <= hi:
            mid = (lo + hi) // 2
            data = model.compress_latent(y, mid).data
            if len(data) <= budget:
                best, lo = (mid, data), mid + 1
            else:
                hi = mid - 1
        return best

    # -- decode ---------------------------------------------------------------------------

    def decompress(self, data: bytes, width: int, height: int) -> np.ndarray:
        if len(data) < 2:
            raise BadStreamError("truncated learned background section")
        mid, pos = read_varint(data, 0, len(data))
        if pos >= len(data):
            raise BadStreamError("truncated learned background section")
        params = data[pos]
        level, fi = params & 0x0F, params >> 4
        _, model = self._model(mid)
        if fi >= len(DOWNSCALES) or level >= model.config.levels:
            raise BadStreamError("corrupted learned background section (level or downscale)")
        cw, ch = coded_size(width, height, DOWNSCALES[fi])
        pw, ph = padded_size(cw, ch)
        if pw * ph > MAX_CODED_PIXELS:
            raise BadStreamError("corrupted learned background section (coded size too large)")
        c = CompressedLatents(bytes(data[pos + 1 :]), (ph // 16, pw // 16), level)
        x = model.decompress(c)[0, :, :ch, :cw]
        small = np.rint(x.permute(1, 2, 0).numpy() * 255.0).astype(np.uint8)
        if (cw, ch) == (width, height):
            return small
        return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))


def _to_tensor(image: np.ndarray, cw: int, ch: int) -> torch.Tensor:
    """Downscale (Lanczos) to (cw, ch), scale to 0..1 and pad by edge replication to PAD."""
    h, w = image.shape[:2]
    small = image if (cw, ch) == (w, h) else np.asarray(Image.fromarray(image).resize((cw, ch), Image.Resampling.LANCZOS))
    x = torch.from_numpy(np.array(small, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0
    pw, ph = padded_size(cw, ch)
    return F.pad(x, (0, pw - cw, 0, ph - ch), mode="replicate")


def _weighted_error(image: np.ndarray, wt: np.ndarray, decoded: np.ndarray) -> float:
    d = (image.astype(np.float32) - decoded.astype(np.float32)) ** 2
    return float((d.sum(axis=2) * wt).sum() / max(float(wt.sum()), 1e-6))
