"""The one glyph rasteriser of the text layer.

The encoder verifies every word by drawing it with `word_alpha` and every renderer draws the
decoded layer with `draw_layer`, so what was checked is exactly what is shown.

A word is drawn by FreeType (through Pillow, basic layout, anti-aliased, hinted as FreeType
does by default) at the line's em size with its baseline at ``y = 0`` and its pen starting at
``x = 0``; the bitmap is then resampled horizontally (Pillow's triangle filter, an area-weighted
linear filter) so that the word's advance spans exactly ``word.width`` pixels. The result only
depends on the Pillow/FreeType and font package versions, never on the machine.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from layout.fonts import load_font
from layout.model import Style, TextLayer

_EMPTY = np.zeros((0, 0), np.float32)


@lru_cache(maxsize=8192)
def natural_alpha(text: str, font: int, size: int) -> tuple[np.ndarray, int, int, float]:
    """Unscaled coverage of `text` (uint8 0..255), its top-left ``(dx, dy)`` relative to the pen
    origin on the baseline, and the advance width in pixels (float)."""
    f = load_font(font, size)
    advance = float(f.getlength(text))
    l, t, r, b = f.getbbox(text, anchor="ls")
    if r <= l or b <= t:
        return np.zeros((0, 0), np.uint8), 0, 0, advance
    pad = 2
    img = Image.new("L", (r - l + 2 * pad, b - t + 2 * pad), 0)
    ImageDraw.Draw(img).text((pad - l, pad - t), text, font=f, fill=255, anchor="ls")
    arr = np.asarray(img)
    arr.setflags(write=False)
    return arr, l - pad, t - pad, advance


@lru_cache(maxsize=16384)
def _word_alpha(text: str, font: int, size: int, width: int) -> tuple[np.ndarray, int, int]:
    nat, nx, ny, advance = natural_alpha(text, font, size)
    if nat.size == 0 or advance <= 0 or width <= 0:
        return _EMPTY, 0, 0
    s = width / advance
    h, w = nat.shape
    # Output column j (relative to the pen origin) samples source u = j / s: choose the columns
    # whose source interval, widened by the filter support, stays inside the padded bitmap.
    support = max(1.0, 1.0 / s)
    margin = int(math.ceil(support)) + 1
    src = np.zeros((h, w + 2 * margin), np.uint8)
    src[:, margin:margin + w] = nat
    x_lo = nx - margin  # source origin of the widened bitmap, relative to pen origin
    j0 = int(math.ceil(x_lo * s))
    j1 = int(math.floor((x_lo + w + 2 * margin) * s))
    if j1 <= j0:
        return _EMPTY, 0, 0
    box = (j0 / s - x_lo, 0.0, j1 / s - x_lo, float(h))
    out = Image.fromarray(src).resize((j1 - j0, h), Image.Resampling.BILINEAR, box=box)
    a = np.asarray(out, dtype=np.float32) * np.float32(1.0 / 255.0)
    cols = np.flatnonzero(a.max(axis=0) > 0)
    rows = np.flatnonzero(a.max(axis=1) > 0)
    if cols.size == 0:
        return _EMPTY, 0, 0
    a = np.ascontiguousarray(a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    a.setflags(write=False)
    return a, j0 + int(cols[0]), ny + int(rows[0])


def word_alpha(text: str, style: Style, width: int) -> tuple[np.ndarray, int, int]:
    """Coverage of `text` drawn with `style`'s font and size, fitted to advance `width`.

    Returns:
        ``(alpha, dx, dy)``: float32 coverage in 0..1 (read-only, cached), and where its top-left
        pixel goes relative to ``(word.x, line.baseline)``. Empty text gives a 0x0 array.
    """
    return _word_alpha(text, style.font, int(style.size), int(width))


def _place(shape: tuple[int, int], a: np.ndarray, x: int, y: int):
    """Slices of the canvas and of `a` where `a` placed at (x, y) overlaps the canvas."""
    H, W = shape
    h, w = a.shape
    cx0, cy0, cx1, cy1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    return (slice(cy0, cy1), slice(cx0, cx1)), (slice(cy0 - y, cy1 - y), slice(cx0 - x, cx1 - x))


def draw_layer(canvas: np.ndarray, layer: TextLayer) -> np.ndarray:
    """A copy of `canvas` (H, W, 3) uint8 with every word alpha-blended in its line's colour.

    Words partly outside the canvas are clipped.
    """
    out = canvas.astype(np.float32)
    for line in layer.lines:
        color = np.asarray(line.style.color, np.float32)
        for word in line.words:
            a, dx, dy = word_alpha(word.text, line.style, word.width)
            if a.size == 0:
                continue
            sl = _place(out.shape[:2], a, word.x + dx, line.baseline + dy)
            if sl is None:
                continue
            dst, src = sl
            al = a[src][..., None]
            out[dst] = out[dst] * (1.0 - al) + color * al
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def layer_coverage(layer: TextLayer) -> np.ndarray:
    """Float32 (height, width) coverage of all words of `layer` (max over overlapping words)."""
    cov = np.zeros((layer.height, layer.width), np.float32)
    for line in layer.lines:
        for word in line.words:
            a, dx, dy = word_alpha(word.text, line.style, word.width)
            if a.size == 0:
                continue
            sl = _place(cov.shape, a, word.x + dx, line.baseline + dy)
            if sl is None:
                continue
            dst, src = sl
            np.maximum(cov[dst], a[src], out=cov[dst])
    return cov
