"""Ink patches: the original pixels of words the text layer could not redraw, as bilevel masks.

A word that fails verification (`layout.analyze.build_layer`: a face we do not ship, an icon,
tiny text) is not redrawn; left to the background codec at 0.003..0.1 bpp it blurs away. An ink
patch keeps its shape instead: inside the word's box, the pixels whose observed coverage (their
projection onto the background-to-text colour axis) is above `COVERAGE` form a bilevel mask,
painted in one colour over the decoded background: the colour that, blended in with the patch's
coverage over the word's background colour, comes closest to the original pixels (least squares;
lighter than the text's own colour, since the mask takes in the glyphs' anti-aliased edges; on
the 64 screenshots at 0.02 bpp PSNR 24.35 -> 24.54 dB against painting the text colour, word
F1 unchanged, docs/history.md). A word whose ink has several colours (a coloured logo, a highlighted
token) gives one patch per colour (`_ink_colours`), each pixel going to the colour whose
background-to-colour axis passes nearest it. `COVERAGE` is a quarter, not a half: thin
anti-aliased strokes then stay whole instead of breaking up, and OCR reads more patched words
(`bench/word_recall.py` on 8 patch-heavy screenshots at 0.02 bpp: 62.7% of them against 56.3% at
one half; in a sweep 0.35 was between the two and 0.15 worse than one half, letters merging).
Nothing is substituted: the mask *is* the original's ink, thresholded, so a patch can never show
a crisp word that differs from the original (only a coarser one).

Large text (a word whose box is at least ``2 * line_height`` pixels tall, e.g. on a 2x "retina"
screen) is kept at a coarser scale ``s`` (2..4): the coverage averaged over s x s blocks,
thresholded, so that the box stays at least ``line_height`` pixels tall at the coded size (the
x-height about 9 px: still what OCR and eyes read well). Its bits shrink about as its outline
does (about 1/s); the decoder scales the mask back up by bilinear interpolation in
integers (`InkPatch.alpha`) and blends the colour in with that coverage, so the strokes keep soft
edges.

`find_patches` makes a patch of every rejected word; the encoder (`picd.api.code`) keeps those
the background alone would blur, and `fit_patches` codes as many of them as fit a byte budget,
smallest masks first.

Bitstream (one range-coded stream, `picd.entropy`; the image size comes from the container):

1. ``n`` (adaptive integer); then per patch, in reading order (top to bottom, then left to right):
   ``y`` as the difference to the previous patch's ``y``; ``x`` as the difference to the previous
   patch's right end (in image pixels: ``x + width * scale``); the mask's height as the
   difference to the previous mask's height (the first patch's "previous" values are all 0); the
   mask's width minus one; (codecs 2 and 3) the scale minus one (adaptive, 4 symbols; codec 1:
   scale 1); (codec 3, scale 1 only) whether the patch is painted with soft edges (adaptive, 2
   symbols); colour as a position in a move-to-front list of the last 8 colours, or "new" and 6
   raw bits per channel (the colour's upper 6 bits; the decoder sets the lower two to ``10``).
2. The masks, in the same order, at their coded size, row by row, each pixel coded as one binary symbol under an
   adaptive context model: the JBIG generic template of 10 causal neighbours (3 pixels two rows
   up, 5 one row up, 2 to the left; outside the patch counts as 0), one pair of counts per
   context shared by all patches, both starting at 0; P(1) is
   ``q / 4096`` with ``q = (2 * ones + 1) * 4096 // (2 * (zeros + ones) + 2)``
   (Krichevsky-Trofimov in integers); when the two counts sum past `_COUNT_LIMIT` both are
   halved, rounding up. In codec 4 each mask is preceded by one adaptive binary symbol (2
   symbols, counts shared by all masks): 0, the mask row by row as above; 1, the mask piece by
   piece (`layout.symbols`: its 8-connected components, each a reference to a piece coded before
   in the section or a new bitmap under the same context model and counts). The encoder takes,
   mask by mask, whichever of the two costs fewer bits at that point (`_MaskCoder`): on
   terminals and old UIs, whose glyphs repeat pixel for pixel, the pieces; on anti-aliased text,
   whose thresholded glyphs seldom repeat, mostly the rows. Over the candidate patches of 14
   screenshots, codec 4 takes 38230 bytes where codec 3 takes 45974 (rich_repl 0.49 of codec 3's
   bytes, rich_columns 0.50, gb82sc_terminal 0.61, gb82sc_windows95 0.83, anti-aliased UIs 0.99
   to 1.00).

Soft edges (codecs 3 and 4): a full-resolution patch may be painted with, at each mask pixel, instead
of full coverage, the mean coverage that anti-aliased text has at a pixel whose 8 neighbours lie
in the mask as this one's do (`EDGE_COVERAGE`, 256 entries fitted on the project's faces by
``layout/build_edges.py``: 249 inside a stroke, 85 to 252 for the other configurations, 80% of
them 120 to 225), so that patched words keep soft edges like those of scaled patches. The encoder paints each patch the way that
comes closer to the original pixels under it (`_closer_painting`: soft for anti-aliased text,
full for aliased text), with the colour fitted to that coverage.

Patches are painted in stream order (a later one blends over an earlier one). Readers refuse
(and encoders never write) more than `_MAX_PATCHES` patches, patches outside the image (at their
painted size, mask size times scale), painted areas that add up to more than the image's area,
or masks whose areas add up to more than `_PX_PER_BYTE` pixels per byte of the section (plus
4096): real ink costs far more than 1/32 bit a pixel, and the limit keeps a small crafted file
from making the decoder work through a huge area; in codec 4 also more pieces coded piece by
piece than `_PIECES_PER_BYTE` per byte of the section (plus 1024; `layout.symbols`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from layout.symbols import SymbolModel, pieces
from ocr.base import OcrWord
from picd.entropy import BIT_ONE, AdaptiveCategorical, AdaptiveInt, Coder, Decoder, Encoder, Tally
from picd.errors import BadStreamError

__all__ = ["InkPatch", "find_patches", "fit_patches", "encode_patches", "decode_patches",
           "paint_patches", "patch_mask", "lost_ink", "count_patches", "CODECS"]

_T = TypeVar("_T")

_COUNT_LIMIT = 1023  # changing it changes the bitstream
_MTF = 8
_MAX_SCALE = 4
#: Codec ids of the ink section this module reads (`picd.container`); it writes the last.
CODECS = (1, 2, 3, 4)
#: Codec 3's coverage of a full-resolution mask pixel per configuration of its 8 neighbours
#: (`neighbour_codes`): the mean coverage of anti-aliased text at such pixels, fitted on words
#: drawn in the project's faces by ``layout/build_edges.py`` (fixed: it is part of the codec).
EDGE_COVERAGE = bytes.fromhex(
    "b788ca978168a46a9f8e96a39c90a4919aa09cb38276a893d9d7e7ead3cfe2db8162938f998cb3a07f6b826ea386b29d"
    "9c9192a7a882af72d1d8bccdd9b0ddcbb7afe0db918fd9d6979fcad3b491c4e29798d8cb837eccc2d3ccf1eec798e6e0"
    "9996d3d6b1a0e8cea57bc8bfa58be9e1a08bd0c9b0a8e9ccda9ee4e2dcaafcf87d9596a9635c94659c8b7f85a760978d"
    "8286a2ad6d577895d6d8b6dad8c4b2c7625c72838986a98d7479746855809f907b6689847f83857fccb6817db2a1a797"
    "91b3e0e88d90d2d2abb2c5e39b7eccc99f88d4e36d62c1cfdcdfedfbcd91e2f0706ad4c6a8cad4ae8f9ab6cb7aacc8c9"
    "8e79ccbd9e8ce4ccd5c6e4efd290f9f9")
_EDGE_TABLE = np.frombuffer(EDGE_COVERAGE, np.uint8)
_MAX_PATCHES = 1 << 16
_PX_PER_BYTE = 256
_PIECES_PER_BYTE = 4
#: Observed coverage above which a pixel of a word's box is ink (module doc).
COVERAGE = 0.25


@dataclass(frozen=True)
class InkPatch:
    """One word's ink: ``mask`` (h, w) bool, scaled up ``scale`` times and placed at ``(x, y)``,
    painted in ``color`` (RGB)."""

    x: int
    y: int
    mask: np.ndarray
    color: tuple[int, int, int]
    scale: int = 1
    #: painted as codec 3 paints it: at scale 1 each mask pixel takes the coverage of its
    #: neighbours' configuration (`EDGE_COVERAGE`), not full coverage
    edges: bool = False

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of the painted pixels in the image."""
        h, w = self.mask.shape
        return self.x, self.y, self.x + w * self.scale, self.y + h * self.scale

    def alpha(self) -> np.ndarray:
        """Coverage (0..255, uint8) of the painted box: the mask, scaled up bilinearly (at scale
        1 with `edges`, each mask pixel at `EDGE_COVERAGE` of its neighbours)."""
        if self.edges and self.scale == 1:
            m = self.mask.astype(bool)
            return np.where(m, _EDGE_TABLE[neighbour_codes(m)], 0).astype(np.uint8)
        return _upsample(self.mask, self.scale)

    def ink(self) -> np.ndarray:
        """The painted box's pixels that are the mask's (bool): at scale 1 the mask itself."""
        return _upsample(self.mask, self.scale) >= 128


def neighbour_codes(mask: np.ndarray) -> np.ndarray:
    """Per pixel of a bool mask (h, w), the configuration of its 8 neighbours as an integer
    0..255: bit ``b`` is set where neighbour ``b`` is in the mask (the row above left to right,
    then left and right, then the row below left to right; outside the mask counts as 0)."""
    p = np.pad(mask.astype(np.int64), 1)
    h, w = mask.shape
    out = np.zeros((h, w), np.int64)
    b = 0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                out |= p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] << b
                b += 1
    return out


def _taps(n: int, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps of ``n * s`` outputs from ``n`` inputs: indexes ``a``, ``b`` and the weight
    of ``b`` in units of ``1 / (2 s)`` (pixel centres aligned, edges replicated)."""
    num = 2 * np.arange(n * s) + 1 - s
    i0 = np.floor_divide(num, 2 * s)
    return np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1), num - 2 * s * i0


def _upsample(mask: np.ndarray, s: int) -> np.ndarray:
    """``mask`` scaled up ``s`` times by bilinear interpolation, as 0..255: integer arithmetic
    only, so every machine paints the same pixels."""
    m = mask.astype(np.int64)
    if s == 1:
        return (m * 255).astype(np.uint8)
    h, w = m.shape
    ra, rb, rf = _taps(h, s)
    ca, cb, cf = _taps(w, s)
    rows = m[ra] * (2 * s - rf)[:, None] + m[rb] * rf[:, None]  # units of 1/(2s)
    both = rows[:, ca] * (2 * s - cf) + rows[:, cb] * cf  # units of 1/(4 s^2)
    return ((both * 255 + 2 * s * s) // (4 * s * s)).astype(np.uint8)


def _quantise(color: np.ndarray) -> tuple[int, int, int]:
    """Upper 6 bits of each channel, lower two set to ``10`` (what a decoder reconstructs)."""
    c = np.clip(np.round(color), 0, 255).astype(int)
    return tuple(int(v) & 0xFC | 2 for v in c)  # type: ignore[return-value]


def find_patches(image: np.ndarray, words: Sequence[OcrWord], min_contrast: float = 40.0,
                 line_height: int = 22) -> list[InkPatch]:
    """The ink of each word of `words` in `image` (H, W, 3 uint8), where it has any.

    Per word: background and text colour as `layout.analyze.word_colours` finds them; pixels of
    the box (one pixel of slack) whose projection onto the background-to-text axis passes
    `COVERAGE` are ink. Words with less than `min_contrast` (RGB
    distance) between the two colours, or no ink, give no patch. The mask is trimmed to its ink
    and painted in the colour of `_blend_colour`. A word whose ink has several colours (a
    coloured logo, a highlighted token; `_ink_colours`) gives one patch per colour, each of the
    pixels nearest its colour's axis.
    A word whose box is ``s * line_height`` pixels tall or more (``s`` = 2..4) is kept at scale
    ``s``: blocks of s x s pixels whose mean coverage is one half or more (see the module doc);
    ``line_height=0`` keeps every word at full resolution.
    """
    from layout.analyze import ink_coverage, word_colours

    img = np.asarray(image)[:, :, :3].astype(np.float32)
    H, W = img.shape[:2]
    out: list[InkPatch] = []
    for word in words:
        bx0, by0, bx1, by1 = (int(round(v)) for v in word.box)
        bx0, by0, bx1, by1 = max(0, bx0), max(0, by0), min(W, bx1), min(H, by1)
        if bx1 <= bx0 or by1 <= by0:
            continue
        bg, fg, dmax = word_colours(img, (bx0, by0, bx1, by1))
        if dmax < min_contrast:
            continue
        x0, y0, x1, y1 = max(0, bx0 - 1), max(0, by0 - 1), min(W, bx1 + 1), min(H, by1 + 1)
        pixels = img[y0:y1, x0:x1]
        colours = _ink_colours(pixels, bg, fg, dmax, min_contrast)
        covs = [ink_coverage(pixels, bg, c) for c in colours]
        if len(colours) > 1:  # each pixel to the colour whose axis passes nearest
            near = np.argmin(np.stack([_off_axis(pixels, bg, c) for c in colours]), axis=0)
            covs = [np.where(near == k, cv, 0.0) for k, cv in enumerate(covs)]
        scale = min(_MAX_SCALE, (by1 - by0) // line_height) if line_height > 0 else 1
        for c, cov in zip(colours, covs):
            ink = cov > COVERAGE
            rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
            if rows.size == 0:
                continue
            r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            box = (x0 + c0, y0 + r0, x0 + c1, y0 + r1)
            shape = _coarse(cov[r0:r1, c0:c1], box, scale, W, H) if scale > 1 else None
            s = scale
            if shape is None:
                s, shape = 1, (x0 + c0, y0 + r0, np.ascontiguousarray(ink[r0:r1, c0:c1]))
            x, y, mask = shape
            out.append(_closer_painting(img, InkPatch(x, y, mask, (0, 0, 0), s), bg, c))
    return out


#: A word's ink is split by colour only into clusters whose axes from the background are this
#: far apart (RGB distance), each with at least this share of its strongly inked pixels (and
#: `_MIN_SPLIT_PX` of them); into at most `_MAX_COLOURS`.
_SPLIT_DISTANCE = 80.0
_MIN_SPLIT_SHARE = 0.04
_MIN_SPLIT_PX = 12
_MAX_COLOURS = 4


def _off_axis(p: np.ndarray, bg: np.ndarray, c: np.ndarray) -> np.ndarray:
    """RGB distance of each colour of `p` (..., 3) from the segment between `bg` and `c` (what
    the anti-aliased edges of text of colour `c` over `bg` lie on): from the colour its
    coverage (`layout.analyze.ink_coverage`) blends."""
    from layout.analyze import ink_coverage

    return np.linalg.norm(p - (bg + ink_coverage(p, bg, c)[..., None] * (c - bg)), axis=-1)


def _ink_colours(pixels: np.ndarray, bg: np.ndarray, fg: np.ndarray, dmax: float,
                 min_contrast: float) -> list[np.ndarray]:
    """The text colours of a word's `pixels` (h, w, 3 float32): ``[fg]``, or 2..4 colours where
    the pixels far from the background (at least half of the contrast `dmax`) fall into clusters
    around background-to-colour axes at least `_SPLIT_DISTANCE` from each other's (a few rounds
    of k-means from the pixel farthest from the axes so far), each of at least
    `_MIN_SPLIT_SHARE` of those pixels and `min_contrast` from the background. Each colour is
    the median of its cluster's pixels (most of them lie inside the strokes, so edge pixels,
    which lie on the axis, move it little and never form a cluster of their own)."""
    p = pixels.reshape(-1, 3)
    dist = np.linalg.norm(p - bg, axis=1)
    strong = p[dist >= 0.5 * dmax]
    if strong.shape[0] < 2 * _MIN_SPLIT_PX:
        return [fg]

    def label(centres: list[np.ndarray]) -> np.ndarray:
        return np.argmin(np.stack([_off_axis(strong, bg, c) for c in centres]), axis=0)

    def colour(k_pixels: np.ndarray) -> np.ndarray:
        return np.median(k_pixels, axis=0).astype(np.float32)

    best, centres = [fg], [fg]
    for _ in range(_MAX_COLOURS - 1):
        off = np.min(np.stack([_off_axis(strong, bg, c) for c in centres]), axis=0)
        if float(off.max()) < _SPLIT_DISTANCE:
            break
        centres = centres + [strong[int(np.argmax(off))]]
        for _ in range(6):
            lab = label(centres)
            if any(not (lab == k).any() for k in range(len(centres))):
                break
            centres = [colour(strong[lab == k]) for k in range(len(centres))]
        lab = label(centres)
        counts = np.bincount(lab, minlength=len(centres))
        apart = all(float(_off_axis(a[None], bg, b)[0]) >= _SPLIT_DISTANCE
                    and float(_off_axis(b[None], bg, a)[0]) >= _SPLIT_DISTANCE
                    for i, a in enumerate(centres) for b in centres[i + 1:])
        if (not apart or counts.min() < max(_MIN_SPLIT_PX, _MIN_SPLIT_SHARE * strong.shape[0])
                or any(float(np.linalg.norm(c - bg)) < min_contrast for c in centres)):
            break
        best = list(centres)
    return best


def _closer_painting(img: np.ndarray, p: InkPatch, bg: np.ndarray, fg: np.ndarray) -> InkPatch:
    """`p` in the colour of `_blend_colour` for its coverage; at scale 1 with or without `edges`,
    whichever paints the original pixels under it (over `bg`) with the smaller squared error: soft
    edges for anti-aliased text, full coverage for aliased text (pixel fonts, old UIs)."""
    x0, y0, x1, y1 = p.box
    pixels = img[y0:y1, x0:x1]
    best, best_err = p, math.inf
    for q in (p, replace(p, edges=True)) if p.scale == 1 else (p,):
        alpha = q.alpha()
        color = _quantise(_blend_colour(pixels, alpha, bg, fg))
        a = alpha.astype(np.float32)[:, :, None] / 255.0
        err = float(((bg * (1.0 - a) + np.asarray(color, np.float32) * a - pixels) ** 2).sum())
        if err < best_err:
            best, best_err = replace(q, color=color), err
    return best


def _blend_colour(pixels: np.ndarray, alpha: np.ndarray, bg: np.ndarray,
                  fg: np.ndarray) -> np.ndarray:
    """The colour that, blended with a patch's coverage `alpha` (0..255, as `InkPatch.alpha`) over
    the background colour `bg`, comes closest to the original `pixels` of its box (least squares):
    the mask also takes in anti-aliased edge pixels, which the text colour `fg` itself would paint
    too dark (or too light), and a token that mixes colours gets their blend. `fg` where the mask
    is empty."""
    o = pixels.reshape(-1, 3)
    a = alpha.reshape(-1).astype(np.float32) / 255.0
    den = float((a * a).sum())
    if den <= 0:
        return fg
    return (a[:, None] * (o - bg[None, :] * (1.0 - a[:, None]))).sum(axis=0) / den


def _coarse(cov: np.ndarray, box: tuple[int, int, int, int], s: int, W: int,
            H: int) -> tuple[int, int, np.ndarray] | None:
    """The ink in `box` at scale `s`, as ``(x, y, mask)``, from the coverage `cov` of the box's
    pixels: a grid of s x s blocks that covers the box and lies inside the image (W x H; None
    where none does), each block ink where its mean coverage is one half or more."""
    bx0, by0, bx1, by1 = box
    h, w = -(-(by1 - by0) // s), -(-(bx1 - bx0) // s)
    x, y = min(bx0, W - w * s), min(by0, H - h * s)
    if x < 0 or y < 0:
        return None
    grid = np.zeros((h * s, w * s), np.float32)  # only the word's own ink, not a neighbour's
    grid[by0 - y:by1 - y, bx0 - x:bx1 - x] = cov
    mask = grid.reshape(h, s, w, s).mean(axis=(1, 3)) >= 0.5
    if not mask.any():
        return None
    return x, y, mask


def lost_ink(image: np.ndarray, decoded: np.ndarray, patch: InkPatch) -> float:
    """How much of the patch's ink `decoded` loses: 1 - Dice overlap of the patch's mask and the
    pixels of `decoded` in its box past `COVERAGE` of the way from the original's background
    colour (mean of the box outside the mask) to its ink colour (mean under the mask), as the
    mask itself was made; 1 where either is empty."""
    from layout.analyze import ink_coverage

    x0, y0, x1, y1 = patch.box
    orig = image[y0:y1, x0:x1].astype(np.float32)
    ink = patch.ink()
    if ink.all() or not ink.any():
        return 1.0
    fg, bg = orig[ink].mean(axis=0), orig[~ink].mean(axis=0)
    if float((fg - bg) @ (fg - bg)) <= 0:
        return 1.0
    got = ink_coverage(decoded[y0:y1, x0:x1].astype(np.float32), bg, fg) > COVERAGE
    return 1.0 - 2.0 * float((got & ink).sum()) / float(got.sum() + ink.sum())


def paint_patches(image: np.ndarray, patches: Sequence[InkPatch]) -> np.ndarray:
    """A copy of `image` (H, W, 3 uint8) with every patch's colour blended in with its coverage
    (`InkPatch.alpha`; rounded, in integers; at scale 1 the mask's pixels take the colour)."""
    out = np.array(image, copy=True)
    for p in patches:
        x0, y0, x1, y1 = p.box
        a = p.alpha().astype(np.int32)[:, :, None]
        region = out[y0:y1, x0:x1].astype(np.int32)
        color = np.asarray(p.color, np.int32)
        out[y0:y1, x0:x1] = ((region * (255 - a) + color * a + 127) // 255).astype(out.dtype)
    return out


# --------------------------------------------------------------------------------------------
# Coding


class _Masks:
    """The adaptive context model of the masks (shared by encoder, decoder and cost estimate)."""

    def __init__(self) -> None:
        self.n0 = [0] * 1024
        self.n1 = [0] * 1024

    def copy(self) -> _Masks:
        """An independent copy (coding with one leaves the other as it is)."""
        c = _Masks()
        c.n0, c.n1 = list(self.n0), list(self.n1)
        return c

    def code(self, coder, mask: np.ndarray | None, h: int, w: int) -> np.ndarray:
        """Codes (or decodes, ``mask=None``) one mask; returns it."""
        n0, n1 = self.n0, self.n1
        bit_of = coder.bit
        src = mask.tolist() if mask is not None else None
        r2 = [0] * (w + 4)
        r1 = [0] * (w + 4)
        rows = []
        for y in range(h):
            cur = [0] * (w + 4)
            want = src[y] if src is not None else None
            c2 = (r2[1] << 1) | r2[2]
            c1 = (r1[0] << 3) | (r1[1] << 2) | (r1[2] << 1) | r1[3]
            c0 = 0
            for x in range(w):
                c2 = ((c2 << 1) | r2[x + 3]) & 7
                c1 = ((c1 << 1) | r1[x + 4]) & 31
                ctx = (c2 << 7) | (c1 << 2) | c0
                z, o = n0[ctx], n1[ctx]
                q = ((2 * o + 1) * BIT_ONE) // (2 * (z + o) + 2)
                q = 1 if q < 1 else (BIT_ONE - 1 if q >= BIT_ONE else q)
                b = bit_of(q, want[x] if want is not None else None)
                if b:
                    o += 1
                else:
                    z += 1
                if z + o > _COUNT_LIMIT:
                    z, o = (z + 1) >> 1, (o + 1) >> 1
                n0[ctx], n1[ctx] = z, o
                c0 = ((c0 << 1) | b) & 3
                cur[x + 2] = b
            rows.append(cur[2:w + 2])
            r2, r1 = r1, cur
        return np.asarray(rows, dtype=bool).reshape(h, w)


class _MaskCoder:
    """The masks of a section: row by row (`_Masks`) in codecs 1 to 3; in codec 4 each mask is
    preceded by one adaptive binary symbol, row by row (0) or piece by piece
    (`layout.symbols`, 1), and the encoder takes whichever costs fewer bits at that point of the
    stream (the two share the raster counts and the dictionary learns from both)."""

    def __init__(self, symbols: bool, max_pieces: int | None = None) -> None:
        self.raster = _Masks()
        self.symbols = SymbolModel(self.raster, max_pieces) if symbols else None
        self.mode = AdaptiveCategorical(2)

    def _clone(self) -> _MaskCoder:
        """A copy of codec 4's models (the dictionary's bitmaps shared, never written)."""
        assert self.symbols is not None
        c = _MaskCoder.__new__(_MaskCoder)
        c.raster = self.raster.copy()
        c.symbols = self.symbols.clone(c.raster)
        c.mode = self.mode.copy()
        return c

    def _cheaper(self, mask: np.ndarray, ps: list) -> int:
        """1 where coding `mask` (its `pieces` ``ps``) piece by piece costs fewer bits now."""
        costs = []
        for by_pieces in (0, 1):
            trial, tally = self._clone(), Tally()
            trial._code(tally, mask, *mask.shape, by_pieces, ps, learn=False)
            costs.append(tally.total)
        return int(costs[1] < costs[0])

    def code(self, coder: Coder, mask: np.ndarray | None, h: int, w: int,
             by_pieces: int | None = None) -> np.ndarray:
        """Code (or decode, ``mask=None``) one mask; returns it. ``by_pieces`` forces the
        encoder's choice (codec 4)."""
        if self.symbols is None:
            return self.raster.code(coder, mask, h, w)
        ps = pieces(mask) if mask is not None else None
        if not coder.decoding and by_pieces is None:
            by_pieces = self._cheaper(mask, ps)  # type: ignore[arg-type]
        return self._code(coder, mask, h, w, by_pieces, ps)

    def _code(self, coder: Coder, mask: np.ndarray | None, h: int, w: int, by_pieces: int | None,
              ps: list | None, learn: bool = True) -> np.ndarray:
        """Codec 4's mode symbol and the mask; the dictionary learns a row-by-row mask's pieces
        unless ``learn`` is False (a trial, whose models are thrown away)."""
        assert self.symbols is not None
        if self.mode.code(coder, by_pieces):
            return self.symbols.code(coder, mask, h, w, ps)
        out = self.raster.code(coder, mask, h, w)
        if learn:
            self.symbols.learn(ps if ps is not None else pieces(out))
        return out


def _reading_order(patches: Sequence[InkPatch]) -> list[InkPatch]:
    return sorted(patches, key=lambda p: (p.y, p.x))


def _limit(coder: Coder, what: str) -> Exception:
    if coder.decoding:
        return BadStreamError(f"corrupted ink section ({what})")
    return ValueError(f"ink patches over the format's limits ({what})")


def _max_area(n_bytes: int) -> int:
    return _PX_PER_BYTE * n_bytes + 4096


def _max_pieces(n_bytes: int) -> int:
    """Pieces (codec 4, `layout.symbols`) a section of ``n_bytes`` may code piece by piece."""
    return _PIECES_PER_BYTE * n_bytes + 1024


def _count(coder: Coder, n: int | None = None) -> int:
    """The number of patches: the section's first field."""
    return AdaptiveInt(signed=False).code(coder, n)


def count_patches(data: bytes) -> int:
    """How many patches an ink section (any of `CODECS`) holds, read from its first field only
    (the masks are not decoded; a corrupted section may give a wrong count).

    Raises:
        BadStreamError: not even the count can be read.
    """
    return _read(data, _count)


def _read(data: bytes, read: Callable[[Decoder], _T]) -> _T:
    """``read(Decoder(data))``, any failure of a corrupted section as `BadStreamError`."""
    try:
        return read(Decoder(data))
    except BadStreamError:
        raise
    except (ValueError, IndexError, OverflowError) as exc:
        raise BadStreamError(f"corrupted ink section ({exc.__class__.__name__})") from None


def _code(coder: Coder, patches: list[InkPatch] | None, width: int, height: int,
          max_area: int, codec: int = CODECS[-1], max_pieces: int | None = None) -> tuple[list[InkPatch], int]:
    """The patches coded or decoded, and how many pieces were coded piece by piece."""
    dy_m, dx_m, dh_m, w_m = AdaptiveInt(), AdaptiveInt(), AdaptiveInt(), AdaptiveInt(signed=False)
    scale_m = AdaptiveCategorical(_MAX_SCALE)
    edges_m = AdaptiveCategorical(2)
    col_m = AdaptiveCategorical(_MTF + 1)
    n = _count(coder, None if patches is None else len(patches))
    if n > _MAX_PATCHES or n > width * height:
        raise _limit(coder, "too many patches")
    recent: list[tuple[int, int, int]] = []
    py = pend = ph = area = painted = 0
    heads = []
    for i in range(n):
        p = patches[i] if patches is not None else None
        y = py + dy_m.code(coder, None if p is None else p.y - py)
        x = pend + dx_m.code(coder, None if p is None else p.x - pend)
        h = ph + dh_m.code(coder, None if p is None else p.mask.shape[0] - ph)
        w = 1 + w_m.code(coder, None if p is None else p.mask.shape[1] - 1)
        if codec >= 2:
            s = 1 + scale_m.code(coder, None if p is None else p.scale - 1)
        elif p is not None and p.scale != 1:
            raise ValueError("ink codec 1 has no scaled patches")
        else:
            s = 1
        soft = False
        if codec >= 3 and s == 1:
            soft = bool(edges_m.code(coder, None if p is None else int(p.edges)))
        elif p is not None and p.edges and s == 1:
            raise ValueError(f"ink codec {codec} has no soft edges")
        if p is not None:
            k = recent.index(p.color) if p.color in recent else _MTF
            col_m.code(coder, k)
        else:
            k = col_m.code(coder)
        if k == _MTF or k >= len(recent):
            if k != _MTF:
                raise BadStreamError("corrupted ink section (unknown colour)")
            bits = [coder.bits(6, None if p is None else c >> 2) for c in (p.color if p else (0, 0, 0))]
            color = tuple((b << 2) | 2 for b in bits)
        else:
            color = recent.pop(k)
        recent.insert(0, color)  # type: ignore[arg-type]
        del recent[_MTF:]
        if not (0 <= x and 0 <= y and h >= 1 and x + w * s <= width and y + h * s <= height):
            raise _limit(coder, "patch outside the image")
        area += h * w
        painted += h * w * s * s
        if painted > width * height or area > max_area:
            raise _limit(coder, "patches larger than the image or the section")
        heads.append((x, y, h, w, s, color, soft))
        py, pend, ph = y, x + w * s, h
    masks = _MaskCoder(symbols=codec >= 4, max_pieces=max_pieces)
    out = []
    for i, (x, y, h, w, s, color, soft) in enumerate(heads):
        m = masks.code(coder, None if patches is None else patches[i].mask, h, w)
        out.append(InkPatch(x, y, m, color, s, soft))  # type: ignore[arg-type]
    return out, masks.symbols.coded if masks.symbols is not None else 0


def encode_patches(patches: Sequence[InkPatch], width: int, height: int,
                   codec: int = CODECS[-1]) -> bytes:
    """The coded patches (in reading order) of an image of `width` x `height`, as ink codec
    `codec` (one of `CODECS`; codec 1 has no scaled patches). The codec decides how they are
    painted: codecs 1 and 2 with full coverage, codecs 3 and 4 with `InkPatch.edges`; patches whose
    colours were fitted to the other painting (`find_patches` fits them to codec 3's) still code,
    but decode painted the codec's way.

    Raises:
        ValueError: the patches break the format's limits (see the module doc).
    """
    if codec not in CODECS:
        raise ValueError(f"unknown ink codec {codec}")
    enc = Encoder()
    ps = _reading_order(patches)
    _, n_pieces = _code(enc, ps, width, height, width * height, codec)
    data = enc.finish()
    if sum(p.mask.size for p in ps) > _max_area(len(data)):
        raise ValueError("ink patches over the format's limits (area per byte)")
    if n_pieces > _max_pieces(len(data)):
        raise ValueError("ink patches over the format's limits (pieces per byte)")
    return data


def decode_patches(data: bytes, width: int, height: int, codec: int = CODECS[-1]) -> list[InkPatch]:
    """Inverse of `encode_patches` (patches in reading order).

    Raises:
        BadStreamError: corrupted or truncated data.
        ValueError: `codec` is not one of `CODECS`.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown ink codec {codec}")
    return _read(data, lambda dec: _code(dec, None, width, height, _max_area(len(data)), codec,
                                         _max_pieces(len(data)))[0])


def fit_patches(patches: Sequence[InkPatch], width: int, height: int,
                budget: int) -> tuple[bytes, list[InkPatch]]:
    """Code as many of `patches` as fit in `budget` bytes, smallest masks first.

    Returns the payload (empty when not even one fits) and the patches in it, in the order they
    are coded (and decoded).
    """
    if budget <= 0 or not patches:
        return b"", []
    order = sorted(patches, key=lambda p: (p.mask.size, p.y, p.x))
    # Estimate: mask bits in this order, plus about 6 bytes of head per patch.
    tally, masks, cum = Tally(), _MaskCoder(symbols=CODECS[-1] >= 4), []
    for p in order:
        masks.code(tally, p.mask, *p.mask.shape)
        cum.append(tally.total / 8 + 6 * (len(cum) + 1))
        if cum[-1] > 1.2 * budget:
            break
    k = sum(1 for c in cum if c <= budget)
    while k > 0:
        try:
            data = encode_patches(order[:k], width, height)
        except ValueError:  # over the format's limits: fewer patches
            data = None
        if data is not None and len(data) <= budget:
            return data, _reading_order(order[:k])
        k -= max(1, k // 10)
    return b"", []


def patch_mask(patches: Sequence[InkPatch], width: int, height: int) -> np.ndarray:
    """Bool (height, width): the pixels the patches paint."""
    out = np.zeros((height, width), bool)
    for p in patches:
        x0, y0, x1, y1 = p.box
        out[y0:y1, x0:x1] |= p.alpha() > 0
    return out
