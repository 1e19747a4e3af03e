"""From recognised words to the text layer: style estimation and verification.

Data flow for each OCR line::

    words -> per-word colours (background bg, text fg) and observed coverage alpha
          -> a word whose glyphs change colour (syntax highlighting) cut into parts
          -> runs of words sharing one colour/style (an OCR line may be split)
          -> per run: font, em size and baseline fitted by rendering candidates
          -> per word: x and width fitted to the word's ink (or the pen span an exact text layer
             gives)
          -> verification: the word drawn exactly as the decoder will draw it vs the original
          -> accepted words go into the layer and the text mask; the rest stay in the background

Observed coverage. Around a word the image is modelled as ``pixel = bg + alpha * (fg - bg)``,
so ``alpha = <pixel - bg, fg - bg> / |fg - bg|^2`` clipped to 0..1. ``bg`` is the median of a
ring of pixels around the word box, ``fg`` the mean of the pixels that differ most from ``bg``.
This handles dark-on-light and light-on-dark text alike.

Verification score (see `_verify_word`). Both the observed coverage O and the rendered coverage
R are blurred with a 3x3 binomial kernel (tolerates one-pixel differences in hinting and
anti-aliasing) and compared by soft Dice, ``2 * sum(min(O, R)) / (sum(O) + sum(R))``: 1 for
identical ink, 0 for disjoint ink. The score of a word is the minimum of its whole-word Dice and
the Dice of every character cell (the columns between consecutive pen positions, the first and
last cells extended to the window edges), so one wrong, missing or extra character sinks the
word even when the rest matches. The best of the integer shifts ``|dx| <= max_shift`` is used and
the word is moved by it. A word is rejected when its score is below ``verify_threshold``
(``verify_threshold_char`` for a word of one letter or digit, where icons read as letters end
up) or, on lines of three or more words, more than ``line_drop`` below the line's median score.

Misreading check (see `_better_reading`). Dice alone is lenient where our face differs from the
original one, so every letter/digit is also compared in context with all 62 alternatives
(neighbours drawn too, +-1 px): if a non-look-alike glyph fits the original clearly better
(``alt_margin``), the word is rejected as misread, unless the reading that alternative makes is
far less plausible as text than OCR's (``alt_prior_bits``: ``the`` against ``tBe`` where our
face's ``B`` fits a heavier original ``h`` better). An accented letter is compared the same way
and must also find ink where its marks are (`MARK_INK`): OCR adds diacritics that are not there
(``Öctober``), and the marks are too small a part of the glyph for the margin to catch. A
missing or extra character shows as a horizontal scale off the line's median
(``max_stretch_dev``).

Exact text layers (a PDF's words, which come with style hints) skip both of those checks: their
characters are known, and where the PDF's face differs from ours the checks reject good words
(a Century Gothic 'r' fits our 'm' better than our 'r'). Score floor (``verify_threshold_exact``)
and line drop still apply: they catch hidden text and broken character maps that change a word's
shape; a broken map that swaps one character for a similar-looking one would get through.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TypeVar

import cv2
import numpy as np

from layout.fonts import FONTS, covers, font_available, load_font, style_twin
from layout.lexicon import known
from layout.model import Line, Style, TextLayer, Word
from layout.raster import natural_alpha, word_alpha
from layout.textcoder import prior_bits
from ocr.base import OcrLine, OcrWord

_T = TypeVar("_T")


@dataclass(frozen=True)
class LayoutConfig:
    """Settings of `build_layer` (defaults defined here only).

    Attributes:
        verify_threshold: words whose verification score (soft Dice, 0..1, see module doc) is
            below this are rejected and stay in the background.
        verify_threshold_char: the same, higher, for a word of one letter or digit on its own
            (not a part of a longer word cut by colour): icons are read as such words (a
            magnifier as ``Q``, a funnel as ``Y``, a flask as ``A``) and one glyph's outline
            says too little to tell them from letters at the lower threshold.
        verify_threshold_exact: the same for words from an exact text layer (a PDF's), whose
            characters are known; verification there only has to catch broken character maps and
            hidden text, so the bar is lower (our faces differ from the PDF's own fonts).
        min_confidence: words the OCR engine is less sure of are rejected without rendering.
        min_confidence_short: the same for words of one or two characters, which is where
            icons read as text end up (a microphone read as "0", a logo as "QD"); their shape
            says too little for verification to tell them apart from letters.
        min_contrast: minimum RGB distance between text and background colour; fainter words are
            rejected (their colour and shape cannot be estimated reliably).
        max_stretch: a word whose fitted horizontal scale (observed ink width over the font's ink
            width) is outside ``[1 / max_stretch, max_stretch]`` (widened as for
            ``max_stretch_dev``) is rejected.
        max_stretch_dev: on lines of three or more words, a word whose horizontal scale differs
            from the line's median by more than this fraction is rejected (a missing or extra
            character changes the scale by about one character's share); plus ``stretch_px``
            divided by the word's ink width, since ink edges are only known to about a pixel.
        stretch_px: see ``max_stretch_dev``.
        line_drop: on lines of three or more words, a word scoring more than this below the
            line's median score is rejected too (the line's median tells how well our face
            matches the original one, so the bar rises where the face matches well).
        max_shift: verification tries horizontal shifts up to this many pixels.
        max_drift: a word whose ink sits this many pixels (at most, or a quarter of the em size)
            above or below its run's baseline is also tried there (skewed scans); words that move
            go to a layer line of their own baseline.
        alt_margin: a word is rejected as misread when, in some character's cell, another letter
            or digit (not a look-alike) matches the original pixels better by more than this
            soft-Dice margin. Not applied to exact text layers (module doc), nor is
            ``max_stretch_dev``.
        alt_prior_bits: ... unless the text coder's prior (`layout.textcoder.prior_bits`) spends
            at least this many bits more on the word with that alternative than on OCR's word:
            then the alternative reading is not text, and the character is let be (None: never).
            Only the best-fitting alternative is asked. On the 28 scans and 20 Design2Code
            pages with truth (`bench/wrong_words.py`), at 12 bits 58 and 62 more words are
            redrawn, of which 0 and 1 differ from the truth (an `i` read as `l`, which the check
            cannot tell apart). Judged by the first character flagged alone (a word can still
            be rejected at a later one), 12 bits would let through 59 and 66 words, 0 and 1 of
            them wrong, and 8 bits 132 and 133, 7 and 3 of them wrong.
        alt_lexicon: ... or unless OCR's word is a known English word or number
            (`layout.lexicon.known`: ``the``, ``1950``), no glyph that fits better by the
            margin makes a known word (``Ihe``, ``T950``; in either case), and the best of them
            fits by at most this much better (soft Dice; a glyph that fits far better is the
            reading: ``Zero`` read for ``Xero``); nor where that glyph is the claimed one's twin
            in codes (``B`` for ``8``: ``852`` read for ``B52``). One character of a word
            at most is let be so, and not where the prior let another be. None: the prior
            alone decides. Of the 299 words that the lexicon without this bound let through on
            the 64 screens, 292 were within 0.10 (docs/history.md).
        color_split: consecutive words of one OCR line whose text colours differ by more than
            this RGB distance go to separate layer lines; so do the parts of one word whose
            glyphs differ so in colour (and in hue, see `_split_colours`).
        color_snap: a line whose text colour was estimated (not given by a PDF) and lies within
            this (in every channel, 0..255) of the colour of a line with more characters takes
            that colour: the estimates of one colour vary a little from line to line (thin
            glyphs, a gradient behind them), and each colour the layer holds costs bytes. 0: off.
        fit_words: at most this many words (the longest) of a line are used to choose its font,
            size and baseline.
        page_fonts: after `probe_lines` lines, only this many faces (plus their bold/regular
            twins), those chosen for the most characters of the page's lines so far, are tried
            on further lines.
        probe_lines: number of lines on which every candidate face is tried: the page's lines
            with the most characters (body text, not the title bar or menu above it, decides
            the page's faces).
        refine_fonts: the integer size and baseline of this many best faces of a line are
            refined before the face is chosen.
        refine_steps: at most this many steps of coordinate ascent (size +-1, baseline +-1) on
            the line's match score refine each of those faces.
        candidates: ids of the faces tried for raster OCR input (no style hints), in order of
            preference on ties.
        slant_gain: a run of words whose face's italic (or upright) twin scores this much
            higher on it is drawn in that twin (the candidates are upright faces).
        mask_alpha: observed coverage above which a pixel inside an accepted word's box belongs
            to the text mask.
        mask_dilation: the text mask is dilated by this many pixels (anti-aliasing fringes).
    """

    verify_threshold: float = 0.6
    verify_threshold_char: float = 0.75
    verify_threshold_exact: float = 0.45
    min_confidence: float = 0.5
    min_confidence_short: float = 0.8
    min_contrast: float = 40.0
    max_stretch: float = 1.6
    max_stretch_dev: float = 0.12
    stretch_px: float = 1.5
    line_drop: float = 0.25
    max_shift: int = 1
    max_drift: int = 12
    alt_margin: float = 0.04
    alt_prior_bits: float | None = 12.0
    alt_lexicon: float | None = 0.10
    color_split: float = 60.0
    color_snap: float = 16.0
    fit_words: int = 6
    page_fonts: int = 3
    probe_lines: int = 8
    refine_fonts: int = 3
    refine_steps: int = 3
    candidates: tuple[int, ...] = (16, 17, 0, 1, 24, 25, 28, 29, 8, 9, 4, 5, 32, 33, 36, 37, 40,
                                    41, 44, 45, 48, 49, 52, 53)
    slant_gain: float = 0.05
    mask_alpha: float = 0.1
    mask_dilation: int = 1


@dataclass(frozen=True)
class Analysis:
    """Result of `build_layer`.

    Attributes:
        layer: the text layer of the accepted words.
        text_mask: bool (H, W), pixels of the original glyphs of accepted words (dilated) and of
            their redrawn coverage: to be inpainted away before the background is coded.
        rejected: ``(word, score, reason)`` for every word left in the background; score is the
            verification score, or NaN where the word was not rendered. A word that
            `_split_colours` cut into parts of different colours is listed once for each part
            rejected.
        ink_words: for each entry of ``rejected``, what was left in the background: the word,
            or the rejected part of it (its own text and box), of which an ink patch is made.
    """

    layer: TextLayer
    text_mask: np.ndarray
    rejected: list[tuple[OcrWord, float, str]] = field(default_factory=list)
    ink_words: list[OcrWord] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Observation of one word


@dataclass
class _Obs:
    word: OcrWord
    text: str
    bg: np.ndarray  # (3,) float32
    fg: np.ndarray  # (3,) float32
    win: tuple[int, int, int, int]  # window (x0, y0, x1, y1) in image pixels
    alpha: np.ndarray  # observed coverage in the window, float32
    ink: tuple[int, int, int, int]  # tight ink box in image pixels, exclusive ends
    box: tuple[int, int, int, int]  # the word's box after snapping to the line's ink segments
    part: OcrWord | None = None  # where `_split_colours` cut the OCR word: this part's own text and box


def _clean(text: str) -> str:
    return "".join(unicodedata.normalize("NFC", text).split())


def word_colours(img: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """Background colour, text colour and contrast of the word in `box` (inside the image).

    img: (H, W, 3) float32. Background: the median of a ring around the box (one pixel of
    slack, a sixth of the box height wide, at least 2); text: the mean of the box's pixels at
    least 95% as far from the background as the farthest; contrast: that farthest RGB distance.
    """
    H, W = img.shape[:2]
    x0, y0, x1, y1 = box
    r = max(2, (y1 - y0) // 6)
    rx0, ry0, rx1, ry1 = max(0, x0 - r), max(0, y0 - r), min(W, x1 + r), min(H, y1 + r)
    outer = img[ry0:ry1, rx0:rx1].reshape(-1, 3)
    inner_mask = np.zeros((ry1 - ry0, rx1 - rx0), bool)
    inner_mask[max(0, y0 - 1 - ry0):y1 + 1 - ry0, max(0, x0 - 1 - rx0):x1 + 1 - rx0] = True
    ring = outer[~inner_mask.ravel()]
    if ring.shape[0] < 4:
        ring = outer
    bg = np.median(ring, axis=0).astype(np.float32)
    inside = img[y0:y1, x0:x1].reshape(-1, 3)
    d = np.sqrt(((inside - bg) ** 2).sum(axis=1))
    dmax = float(d.max())
    fg = inside[d >= 0.95 * dmax].mean(axis=0).astype(np.float32)
    return bg, fg, dmax


def ink_coverage(pixels: np.ndarray, bg: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Observed coverage (float32, 0..1) of `pixels` (..., 3): how far each lies from the
    background colour `bg` towards the text colour `fg`, projected on the line between them."""
    v = fg - bg
    return np.clip(((pixels - bg) @ v) / float(v @ v), 0.0, 1.0).astype(np.float32)


def _drop_rules(alpha: np.ndarray, h: int) -> None:
    """Clears, in place, the rows and columns of a word's window that are inked from end to end:
    rules, underlines and table borders that run through or past the word (no glyph reaches
    across the whole window, which extends past the word's box on every side). Rows only where
    the window is at least twice as wide as the word is tall, so that a lone dash stays ink."""
    inked = alpha >= 0.25
    if alpha.shape[1] >= 2 * h:
        alpha[inked.mean(axis=1) >= 0.97] = 0.0
    alpha[:, inked.mean(axis=0) >= 0.97] = 0.0


def _row_bands(ink: np.ndarray, gap: int) -> tuple[list[np.ndarray], int]:
    """The runs of inked rows of `ink` (bool, rows x columns) split at more than `gap` blank
    rows, and the index of the run with the most ink (a box that reaches into the next or
    previous text line holds several; the word's own line is the densest). `ink` must have ink."""
    rows = np.flatnonzero(ink.any(axis=1))
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > gap) + 1)
    per_row = ink.sum(axis=1)
    return bands, max(range(len(bands)), key=lambda i: int(per_row[bands[i]].sum()))


def _observe(img: np.ndarray, word: OcrWord, text: str, box, cfg: LayoutConfig,
             colours: tuple[np.ndarray, np.ndarray, float] | None = None):
    """Colours, coverage and ink box of one word in `box`; or a rejection reason.

    ``colours``: background, text colour and contrast to use instead of `word_colours` of the
    box (given when the box reaches into another text line, see below)."""
    H, W = img.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if x1 <= x0 or y1 <= y0:
        return "empty box"
    h = y1 - y0
    bg, fg, dmax = colours if colours is not None else word_colours(img, (x0, y0, x1, y1))
    if dmax < cfg.min_contrast:
        return "low contrast"
    # Window: the box plus a margin for verification shifts and ascenders cut by the box.
    mx, my = 2 + cfg.max_shift, max(2, h // 4)
    wx0, wy0, wx1, wy1 = max(0, x0 - mx), max(0, y0 - my), min(W, x1 + mx), min(H, y1 + my)
    alpha = ink_coverage(img[wy0:wy1, wx0:wx1], bg, fg)
    _drop_rules(alpha, h)
    # Ink box inside the OCR box (one pixel of slack).
    bx0, by0 = max(0, x0 - 1 - wx0), max(0, y0 - 1 - wy0)
    inside = alpha[by0:y1 + 1 - wy0, bx0:x1 + 1 - wx0] > 0.5
    if not inside.any():
        return "no ink"
    # A box that reaches into the next text line (skewed scans): keep the band of rows with the
    # most ink.
    bands, k = _row_bands(inside, max(3, h // 6))
    rows = bands[k]
    if len(bands) > 1 and colours is None:
        # The text colour is the farthest from the background in the box: a neighbour line's
        # brighter descenders in it would give the word their colour. Its own rows' colours.
        ty0, ty1 = wy0 + by0 + int(rows[0]), wy0 + by0 + int(rows[-1]) + 1
        own = word_colours(img, (x0, max(y0, ty0 - 1), x1, min(y1, ty1 + 1)))
        if float(np.linalg.norm(own[1] - fg)) > cfg.color_split:
            return _observe(img, word, text, box, cfg, own)
    if len(bands) > 1:
        # The other lines' ink is not the word's: clear the window from the middle of each gap
        # outwards, so that verification compares the word with its own line only.
        if k > 0:
            alpha[:by0 + (int(bands[k - 1][-1]) + int(rows[0])) // 2 + 1] = 0.0
        if k < len(bands) - 1:
            alpha[by0 + (int(rows[-1]) + int(bands[k + 1][0])) // 2 + 1:] = 0.0
        inside = inside[rows[0]:rows[-1] + 1]
        by0 += int(rows[0])
        rows = rows - rows[0]
    cols = np.flatnonzero(inside.any(axis=0))
    ink = (wx0 + bx0 + int(cols[0]), wy0 + by0 + int(rows[0]),
           wx0 + bx0 + int(cols[-1]) + 1, wy0 + by0 + int(rows[-1]) + 1)
    return _Obs(word, text, bg, fg, (wx0, wy0, wx1, wy1), alpha, ink, (x0, y0, x1, y1))


def _hues_differ(a: np.ndarray, b: np.ndarray, bg: np.ndarray, split: float) -> bool:
    """Whether two glyph colours on background `bg` are different text colours, not one colour
    at two coverages: they must lie more than `split` apart, and the fainter must lie more than
    three quarters of that off the line from `bg` through the stronger (a thin mark of one
    colour only reaches part of the way from the background to it; dark text on a scan varies
    in hue a little from glyph to glyph)."""
    if float(np.linalg.norm(a - b)) <= split:
        return False
    strong, weak = (a, b) if np.linalg.norm(a - bg) >= np.linalg.norm(b - bg) else (b, a)
    u = (strong - bg) / max(1e-6, float(np.linalg.norm(strong - bg)))
    t = weak - bg
    return float(np.linalg.norm(t - (t @ u) * u)) > 0.75 * split


# Faces whose advances place a split's cuts between characters: one monospaced, one
# proportional sans, one serif (each part is then fitted and verified in its own face).
_CUT_FACES = (4, 0, 8)


@lru_cache(maxsize=4096)
def _char_ink(ch: str, font: int) -> tuple[float, float, float]:
    """Ink columns of one character as rasterised at the reference size, relative to its pen
    origin (left, right; both at the pen where it has no ink), and its advance. (Not
    `_ink_metrics`, whose outline box at the reference size reaches to the advance.)"""
    m = _rendered_ink(ch, font, _REF)
    if m is None:
        return 0.0, 0.0, float(load_font(font, _REF).getlength(ch))
    return float(m.left), float(m.right), m.advance


def _char_cuts(text: str, gaps: list[float], cuts: list[float]) -> list[int] | None:
    """Character indexes (1..len-1) at the relative positions `cuts` (0..1 along the word's
    ink), in the face of `_CUT_FACES` whose blanks between characters lie nearest all the
    word's blank `gaps` (of which `cuts` are some); None where a cut lies more than 0.4 of a
    character outside the blank between two characters of that face."""
    n = len(text)
    best: tuple[float, np.ndarray] | None = None
    for fid in _CUT_FACES:
        ink = [_char_ink(c, fid) for c in text]
        pens = np.concatenate([[0.0], np.cumsum([adv for _, _, adv in ink])])
        left, right = ink[0][0], pens[-2] + ink[-1][1]
        if right <= left:
            continue
        # Blank between characters i-1 and i: from the ink end of the one to the ink start of
        # the other, relative to the word's ink.
        blank = np.asarray([sorted(((pens[i - 1] + ink[i - 1][1] - left) / (right - left),
                                    (pens[i] + ink[i][0] - left) / (right - left)))
                            for i in range(1, n)])
        err = float(np.mean([_outside(blank, g).min() for g in gaps])) * n
        if best is None or err < best[0]:
            best = (err, blank)
    if best is None:
        return None
    dist = [_outside(best[1], c) for c in cuts]
    idx = [int(np.argmin(d)) for d in dist]
    if len(set(idx)) < len(idx) or idx != sorted(idx) or max(
            float(d[i]) for d, i in zip(dist, idx)) * n > 0.4:
        return None
    return [i + 1 for i in idx]


def _outside(blank: np.ndarray, c: float) -> np.ndarray:
    """How far `c` lies outside each interval of `blank` (rows lo, hi); 0 inside."""
    return np.maximum(0.0, np.maximum(blank[:, 0] - c, c - blank[:, 1]))


_JOINERS = "'\u2019-\u2010\u2013\u2014."  # marks that join the letters around them into one token


def _split_colours(img: np.ndarray, o: _Obs, cfg: LayoutConfig) -> list[_Obs]:
    """The word, or its parts where the text colour changes between glyphs: syntax-highlighted
    code and terminal output colour the parts of one token differently (a green ``'version'``
    between a white ``{`` and ``:``, a teal ``Host`` and a white ``:``). Each part is then fitted
    and verified as a word of its own; a rejected part keeps its own text and box for its ink
    patch (`Analysis.ink_words`).

    The word's ink columns (pixels more than half as far from the background as the farthest)
    fall into segments at blank columns; consecutive segments of one colour (`_hues_differ`)
    form a part; the cuts between parts go to the boundaries between characters that the
    advances of a reference face put nearest (`_char_cuts`). A word whose colour changes inside
    a run of letters and digits, or where the cuts are unclear, stays whole."""
    if len(o.text) < 2:
        return [o]
    x0, y0, x1, y1 = o.box
    crop = img[o.ink[1]:o.ink[3], x0:x1]
    d = np.sqrt(((crop - o.bg) ** 2).sum(axis=2))
    ink = d > 0.5 * float(d.max())
    # The rows of the word's own line (a box that reaches into the next line would give the
    # parts that line's colours).
    if not ink.any():  # the ink lies in the slack around the box
        return [o]
    bands, k = _row_bands(ink, 2)
    band = bands[k]
    crop, d, ink = (a[band[0]:band[-1] + 1] for a in (crop, d, ink))
    top, bottom = o.ink[1] + int(band[0]), o.ink[1] + int(band[-1]) + 1
    cols = np.flatnonzero(ink.any(axis=0))
    if cols.size < 2:
        return [o]
    gaps = np.flatnonzero(np.diff(cols) > 1)
    if gaps.size == 0:
        return [o]
    starts = [int(cols[0])] + [int(c) for c in cols[gaps + 1]]
    ends = [int(c) + 1 for c in cols[gaps]] + [int(cols[-1]) + 1]

    def colour(c0: int, c1: int) -> np.ndarray:
        dp = d[:, c0:c1]
        return crop[:, c0:c1][dp >= 0.8 * float(dp.max())].mean(axis=0)

    parts = [[0, 0]]  # first and last segment of each part
    for s in range(1, len(starts)):
        if _hues_differ(colour(starts[parts[-1][0]], ends[parts[-1][1]]), colour(starts[s], ends[s]),
                        o.bg, cfg.color_split):
            parts.append([s, s])
        else:
            parts[-1][1] = s
    if len(parts) == 1:
        return [o]
    span = float(ends[-1] - starts[0])

    def rel(s: int) -> float:  # the middle of the gap before segment s, along the ink
        return ((ends[s - 1] + starts[s]) / 2 - starts[0]) / span
    idx = _char_cuts(o.text, [rel(s) for s in range(1, len(starts))], [rel(p[0]) for p in parts[1:]])
    if idx is None:
        return [o]
    # Highlighting colours tokens, and tokens meet at punctuation or symbols: a colour change
    # inside a run of letters and digits (an apostrophe, dash or full stop between two of them,
    # as in don't or e-mail, belongs to the run) is the colour noise of a scan or photo, and
    # the word stays whole.
    s = o.text
    word_char = [c.isalnum() or (c in _JOINERS and 0 < k < len(s) - 1 and s[k - 1].isalnum()
                                 and s[k + 1].isalnum()) for k, c in enumerate(s)]
    inner = [word_char[i - 1] and word_char[i] for i in idx]
    if any(inner):
        return [o]
    bounds = [0] + idx + [len(o.text)]
    w = o.word
    out = []
    for (a, b), i0, i1 in zip(parts, bounds, bounds[1:]):
        text, box = o.text[i0:i1], (x0 + starts[a], top, x0 + ends[b], bottom)
        part_word = OcrWord(text, box, w.confidence)
        part = _observe(img, part_word, text, box, cfg)
        if isinstance(part, str):
            return [o]
        part.word, part.part = w, part_word  # rejections name the OCR word
        # The other parts' ink is not this part's: clear their columns from its window.
        for (c, e) in ((x0 + starts[p], x0 + ends[q]) for p, q in parts if (p, q) != (a, b)):
            lo, hi = max(c, part.win[0]) - part.win[0], min(e, part.win[2]) - part.win[0]
            if hi > lo:
                part.alpha[:, lo:hi] = 0.0
        out.append(part)
    return out


def _snap_boxes(img: np.ndarray, words: list[OcrWord]) -> list[tuple[int, int, int, int] | None]:
    """Word boxes snapped to the line's ink: OCR word boxes are often a few pixels off.

    The line's columns are split into ink segments at blank gaps of at least ``0.15 *`` the line
    height; each segment goes to the word box it overlaps most, and a word's box spans the
    segments it got (None: no ink). Over-splitting is harmless; words that touch stay merged to
    whichever box overlaps them most.

    Ink is what differs from the line's most frequent colour; ink runs longer than twice the line
    height (underlines, rules) are not text. Where that leaves a word without a segment (small
    text lines whose boxes overlap the neighbouring lines' ink), the gaps are looked for again in
    the line's densest band of rows (its x-height band) only.
    """
    H, W = img.shape[:2]
    boxes = [tuple(int(v) for v in w.box) for w in words]
    lx0 = max(0, min(b[0] for b in boxes) - 4)
    lx1 = min(W, max(b[2] for b in boxes) + 4)
    ly0 = max(0, min(b[1] for b in boxes))
    ly1 = min(H, max(b[3] for b in boxes))
    if lx1 <= lx0 or ly1 <= ly0:
        return [None] * len(words)
    region = img[ly0:ly1, lx0:lx1]
    flat = region.reshape(-1, 3)
    # Background: the most frequent colour (16 levels a channel). The region's border is no
    # good: word boxes are tight to the ink, and small text lines overlap their neighbours.
    q = flat.astype(np.int32) // 16
    keys = (q[:, 0] * 16 + q[:, 1]) * 16 + q[:, 2]
    bg = flat[keys == int(np.argmax(np.bincount(keys)))].mean(axis=0)
    d = np.sqrt(((flat - bg) ** 2).sum(axis=1)).reshape(region.shape[:2])
    ink = d > max(20.0, 0.4 * float(np.percentile(d, 99)))
    longest = 2 * (ly1 - ly0)
    for row in np.flatnonzero(ink.sum(axis=1) > longest):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], ink[row].view(np.int8), [0]))))
        for a, b in zip(edges[0::2], edges[1::2]):
            if b - a > longest:
                ink[row, a:b] = False
    gap = max(2, int(round(0.15 * (ly1 - ly0))))
    fullcol = ink.any(axis=0)
    spans = _assign_segments(_segments(fullcol, gap), boxes, lx0)
    if any(sp is None for sp in spans):
        band = _densest_band(ink)
        if band is not None:
            a, b = band
            segs = _segments(ink[a:b].any(axis=0), gap)
            # grow sideways through inked columns of the full height, by at most half the
            # band's height (overhangs outside the band: the bar of a T, the hook of an f)
            for i, seg in enumerate(segs):
                lo = segs[i - 1][1] + 1 if i > 0 else 0  # keep a blank column between segments
                hi = segs[i + 1][0] - 1 if i + 1 < len(segs) else len(fullcol)
                for _ in range(max(1, (b - a) // 2)):
                    if seg[0] - 1 >= lo and fullcol[seg[0] - 1]:
                        seg[0] -= 1
                    if seg[1] < hi and fullcol[seg[1]]:
                        seg[1] += 1
            banded = _assign_segments(segs, boxes, lx0)
            if sum(sp is None for sp in banded) < sum(sp is None for sp in spans):
                spans = banded
    return [None if sp is None else (sp[0], bx[1], sp[1], bx[3]) for sp, bx in zip(spans, boxes)]


def _segments(colink: np.ndarray, gap: int) -> list[list[int]]:
    """Runs of inked columns, joined across blank gaps shorter than ``gap``."""
    segs: list[list[int]] = []
    blank = gap
    for i, c in enumerate(colink):
        if c:
            if blank >= gap or not segs:
                segs.append([i, i + 1])
            else:
                segs[-1][1] = i + 1
            blank = 0
        else:
            blank += 1
    return segs


def _assign_segments(segs: list[list[int]], boxes: list, x0: int) -> list[list[int] | None]:
    """Each segment (columns from ``x0``) to the box it overlaps most: each box's span."""
    spans: list[list[int] | None] = [None] * len(boxes)
    for a, b in segs:
        a, b = a + x0, b + x0
        ov = [min(b, bx[2]) - max(a, bx[0]) for bx in boxes]
        k = int(np.argmax(ov))
        if ov[k] <= 0:
            continue
        if spans[k] is None:
            spans[k] = [a, b]
        else:
            spans[k] = [min(spans[k][0], a), max(spans[k][1], b)]
    return spans


def _densest_band(ink: np.ndarray) -> tuple[int, int] | None:
    """Rows ``[a, b)`` around the row with the most ink where every row has at least half that."""
    prof = ink.sum(axis=1)
    if prof.max() <= 0:
        return None
    top = int(np.argmax(prof))
    dense = prof >= 0.5 * prof[top]
    a, b = top, top + 1
    while a > 0 and dense[a - 1]:
        a -= 1
    while b < len(dense) and dense[b]:
        b += 1
    return a, b


# --------------------------------------------------------------------------------------------
# Fitting


_REF = 64  # reference em size (px) for fitting sizes from outlines


@dataclass(frozen=True)
class _InkMetrics:
    top: int  # ink rows relative to the baseline (exclusive bottom)
    bottom: int
    left: int  # ink columns relative to the pen origin (exclusive right)
    right: int
    advance: float


@lru_cache(maxsize=16384)
def _ink_metrics(text: str, font: int, size: int) -> _InkMetrics | None:
    """Ink extents of `text` (coverage > 1/2) at `size`; at the reference size the outline's
    bounding box, which is cheaper and as good."""
    if size == _REF:
        f = load_font(font, size)
        l, t, r, b = f.getbbox(text, anchor="ls")
        return None if r <= l or b <= t else _InkMetrics(t, b, l, r, float(f.getlength(text)))
    return _rendered_ink(text, font, size)


def _rendered_ink(text: str, font: int, size: int) -> _InkMetrics | None:
    """Ink extents of `text` (coverage > 1/2) as rasterised at `size`."""
    nat, nx, ny, adv = natural_alpha(text, font, size)
    if nat.size == 0:
        return None
    m = nat > 127
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        return None
    return _InkMetrics(ny + int(rows[0]), ny + int(rows[-1]) + 1,
                       nx + int(cols[0]), nx + int(cols[-1]) + 1, adv)


def _fit_size_baseline(obs: list[_Obs], font: int) -> tuple[float, float] | None:
    """Least-squares em size and baseline from the ink tops and bottoms of the words, using the
    face's outlines at a large reference size (hinting at the real size is left to the search
    in `_choose_style`)."""
    rows, rhs = [], []
    for o in obs:
        m = _ink_metrics(o.text, font, _REF)
        if m is None or m.bottom - m.top < _REF * 0.2:
            continue  # punctuation-only words carry little information
        rows += [(1.0, m.top / _REF), (1.0, m.bottom / _REF)]
        rhs += [o.ink[1], o.ink[3]]
    if not rows:
        return None
    sol, *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(rhs, float), rcond=None)
    baseline, size = float(sol[0]), float(sol[1])
    if not (3.0 <= size <= 1000.0):
        return None
    return size, baseline


def _fit_x(o: _Obs, font: int, size: int) -> tuple[int, int, float] | None:
    """Word x and width fitting the rendered ink to the observed ink columns; and the stretch."""
    m = _ink_metrics(o.text, font, size)
    if m is None or m.right <= m.left:
        return None
    k = (o.ink[2] - o.ink[0]) / (m.right - m.left)
    width = max(1, int(round(m.advance * k)))
    x = int(round(o.ink[0] - m.left * k))
    return x, width, k


def _pen_x(o: _Obs, font: int, size: int) -> tuple[int, int, float] | None:
    """Like `_fit_x` for a word whose pen span the source gives (an exact text layer,
    `ocr.base.OcrWord.pen`; its box is then the glyphs' own ink box): x and width are that span,
    so that our face, stretched to it, keeps the PDF's own word spacing (fitting our ink to the
    observed ink, a pixel off at either end on small text, can close a gap of two or three
    pixels, and OCR then reads two words as one). Where our face's ink, so stretched, would
    reach out of the word's ink box (our side bearings are narrower), it is fitted into the box
    instead, centred: redrawn words never grow into the gaps between them. None for other
    words, and for the parts of a word `_split_colours` cut (the span is the whole word's)."""
    if o.word.pen is None or o.box != tuple(o.word.box):
        return None
    m = _ink_metrics(o.text, font, size)
    if m is None or m.right <= m.left or m.advance <= 0:
        return None
    p0, p1 = o.word.pen
    b0, _, b1, _ = o.word.box
    k_pen, k_ink = (p1 - p0) / m.advance, (b1 - b0) / (m.right - m.left)
    if k_pen <= k_ink:
        return int(round(p0)), max(1, int(round(p1 - p0))), k_pen
    x = int(round((b0 + b1) / 2 - (m.left + m.right) / 2 * k_ink))
    return x, max(1, int(round(m.advance * k_ink))), k_ink


def _blur(a: np.ndarray) -> np.ndarray:
    return cv2.sepFilter2D(a, -1, _K, _K, borderType=cv2.BORDER_CONSTANT)


_K = np.array([0.25, 0.5, 0.25], np.float32)


def _render_in_window(o: _Obs, style: Style, x: int, width: int, baseline: int) -> np.ndarray:
    """Rendered coverage of the word placed at (x, baseline), cropped to the word's window."""
    wx0, wy0, wx1, wy1 = o.win
    out = np.zeros((wy1 - wy0, wx1 - wx0), np.float32)
    a, dx, dy = word_alpha(o.text, style, width)
    if a.size == 0:
        return out
    px, py = x + dx - wx0, baseline + dy - wy0
    h, w = a.shape
    cx0, cy0 = max(0, px), max(0, py)
    cx1, cy1 = min(out.shape[1], px + w), min(out.shape[0], py + h)
    if cx1 > cx0 and cy1 > cy0:
        out[cy0:cy1, cx0:cx1] = a[cy0 - py:cy1 - py, cx0 - px:cx1 - px]
    return out


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = float(a.sum() + b.sum())
    return 2.0 * float(np.minimum(a, b).sum()) / s if s > 0 else 0.0


def _shift_x(a: np.ndarray, dx: int) -> np.ndarray:
    if dx == 0:
        return a
    out = np.zeros_like(a)
    if dx > 0:
        out[:, dx:] = a[:, :-dx]
    else:
        out[:, :dx] = a[:, -dx:]
    return out


def _quick_score(o: _Obs, style: Style, baseline: int) -> tuple[float, int, int]:
    """Whole-word Dice of the best x shift, for choosing fonts/sizes; and the fitted x, width."""
    fx = _fit_x(o, style.font, style.size)
    if fx is None:
        return 0.0, 0, 1
    x, width, _ = fx
    r = _render_in_window(o, style, x, width, baseline)
    ob = _blur(o.alpha)
    best = max(_dice(ob, _blur(_shift_x(r, dx))) for dx in (-1, 0, 1))
    return best, x, width


_ALTS = string.ascii_letters + string.digits
#: An accented letter is a misreading where the original has less than this share of the ink
#: of its marks (the glyph's ink that its base letter lacks, blurred, at the best of -1, 0, 1 px).
MARK_INK = 0.5
# Glyph pairs that look alike in many faces: never evidence of a misreading.
_ALIKE = [set(g) for g in ("lI1|", "ij!", "oO0", "cC", "sS", "uU", "vV", "wW", "xX", "zZ", "pP",
                           "kK", "jJ", "yY", "9g", "5S")]
# Digits and letters that OCR swaps in codes (``852`` read for ``B52``): where one fits better
# than the other, the lexicon does not let the claimed one be (`_better_reading`).
_TWINS = [set(g) for g in ("8B", "2Z", "6Gb", "0DQ", "1T", "4A", "7T")]


def _bank_frame(font: int, size: int) -> tuple[int, int, int, int]:
    """Geometry of the glyph frame of `_glyph_bank`: height, width, baseline row ``asc`` and
    pen column ``half``."""
    asc, desc = load_font(font, size).getmetrics()
    half = int(math.ceil(size * 0.9)) + 2
    return asc + desc + 4, 2 * half, asc + 2, half


def _framed_glyph(ch: str, font: int, size: int) -> np.ndarray:
    """Blurred coverage of one glyph in the frame of `_glyph_bank` (zeros where it has no ink)."""
    H, W, base, half = _bank_frame(font, size)
    out = np.zeros((H, W), np.float32)
    nat, nx, ny, _ = natural_alpha(ch, font, size)
    if nat.size:
        px, py = half + nx, base + ny
        h, w = nat.shape
        y0, x0 = max(0, py), max(0, px)
        y1, x1 = min(H, py + h), min(W, px + w)
        if y1 > y0 and x1 > x0:
            out[y0:y1, x0:x1] = nat[y0 - py:y1 - py, x0 - px:x1 - px] / 255.0
    return _blur(out)


@lru_cache(maxsize=64)
def _glyph_bank(font: int, size: int) -> tuple[np.ndarray, int, int]:
    """Blurred coverage of every alternative glyph in one frame: (N, H, W), with the baseline at
    row ``asc`` and the pen origin at column ``half = W // 2``; and ``asc``, ``half``."""
    _, _, base, half = _bank_frame(font, size)
    stack = np.stack([_framed_glyph(ch, font, size) for ch in _ALTS])
    stack.setflags(write=False)
    return stack, base, half


@lru_cache(maxsize=512)
def _other_glyph(ch: str, font: int, size: int) -> np.ndarray:
    """`_framed_glyph` of a character outside the bank (an accented letter, a mark), cached."""
    g = _framed_glyph(ch, font, size)
    g.setflags(write=False)
    return g


def _accented(ch: str) -> bool:
    """Whether `ch` is a bank letter with diacritics (NFD: a letter of `_ALTS`, then marks)."""
    d = unicodedata.normalize("NFD", ch)
    return len(d) > 1 and d[0] in _ALTS and all(unicodedata.combining(c) for c in d[1:])


def _better_reading(ob: np.ndarray, text: str, style: Style, pens: list[float], k: float,
                    baseline_row: int, margin: float, prior_gap: float | None = None,
                    lexicon: float | None = None) -> str | None:
    """The first character for which another glyph fits the original pixels clearly better.

    Each character is judged in context: hypotheses are the word drawn from unscaled glyphs at
    the fitted pen positions with that character replaced by every letter and digit, compared
    with the (blurred) original coverage in a window around the character (best of shifts of
    -1, 0, 1 px). The claimed character loses if the best alternative that is not a look-alike
    beats it by more than `margin` in soft Dice, unless ``prior_gap`` is given and the text with
    that alternative costs at least ``prior_gap`` bits more than ``text`` under the text coder's
    prior (`layout.textcoder.prior_bits`: the alternative reading is not text), or ``lexicon``
    is given, ``text`` is a known word or number (`layout.lexicon.known`), no glyph that beats
    the claimed one by `margin` makes a known word, in its case or the other (``whole`` read for
    ``whale``: the ``a`` that fits better makes one), and the best of them beats it by at most
    ``lexicon`` (``Zero`` read for ``Xero``: the ``X`` fits far better), and none of them is a
    digit's or letter's twin in codes (`_TWINS`: ``852`` read for ``B52``). The lexicon lets be
    one character of a word and only where no other is let be (``yours`` read for ``years``:
    ``yeurs`` and ``yosrs`` are no words). An accented
    letter (``é``, ``Ö``) is judged the same way, its own glyph against the bank, and loses where
    the original has less than `MARK_INK` of its marks' ink (a diacritic OCR added:
    ``Öctober``); other characters (marks, symbols) are not judged but drawn as context.
    Returns a description of the misreading, or None.
    """
    stack, asc, half = _glyph_bank(style.font, style.size)
    f = load_font(style.font, style.size)
    H, W = ob.shape
    gh = stack.shape[1]
    top = baseline_row - asc
    # The original in the glyph frame's rows, padded so that every slice is in range.
    pad = 2 * half + 2
    o_full = np.zeros((gh, W + 2 * pad), np.float32)
    r0, r1 = max(0, top), min(H, top + gh)
    if r1 <= r0:
        return None
    o_full[r0 - top:r1 - top, pad:pad + W] = ob[r0:r1]
    idx = [_ALTS.find(c) for c in text]
    glyphs = [stack[n] if n >= 0 else _other_glyph(c, style.font, style.size)
              for c, n in zip(text, idx)]
    pen = [int(round(p)) for p in pens]
    ctx_w = int(math.ceil(style.size * 0.3))
    text_known = lexicon is not None and known(text)
    excused, lex_used = 0, False  # characters let be; whether the lexicon let one be
    for i, ch in enumerate(text):
        n = idx[i]
        bank = stack
        if n < 0:
            if not _accented(ch):
                continue
            bank = np.concatenate([stack, glyphs[i][None]])  # the claimed glyph is the last
            n = len(_ALTS)
        adv = float(f.getlength(ch)) * k
        hw = min(int(math.ceil(adv / 2)) + ctx_w, half)
        left = int(round(pens[i] + adv / 2)) - hw  # window's first column in `ob`
        # Glyph j's bank column b lands on window column b + off_j.
        ctx = np.zeros((gh, 2 * hw), np.float32)
        for j in range(max(0, i - 3), min(len(text), i + 4)):
            if j == i:
                continue
            off = pen[j] - half - left
            a0, a1 = max(0, -off), min(2 * half, 2 * hw - off)
            if a1 > a0:
                ctx[:, a0 + off:a1 + off] += glyphs[j][:, a0:a1]
        off = pen[i] - half - left
        cand = np.zeros((bank.shape[0], gh, 2 * hw), np.float32)
        a0, a1 = max(0, -off), min(2 * half, 2 * hw - off)
        if a1 > a0:
            cand[:, :, a0 + off:a1 + off] = bank[:, :, a0:a1]
        hyp = np.minimum(ctx[None] + cand, 1.0)
        hyp_sum = hyp.sum(axis=(1, 2))

        def seen(sh: int) -> np.ndarray:
            """The original in the window, shifted by ``sh`` px."""
            c0 = pad + left + sh
            return o_full[:, c0:c0 + 2 * hw]

        def dice_at(sh: int, sel) -> np.ndarray:
            o = seen(sh)
            h = hyp[sel]
            return 2.0 * np.minimum(h, o[None]).sum(axis=(1, 2)) / np.maximum(
                hyp_sum[sel] + float(o.sum()), 1e-6)

        if n == len(_ALTS):  # an accented letter: is there ink where its marks are?
            mark = np.maximum(cand[n] - cand[_ALTS.index(unicodedata.normalize("NFD", ch)[0])], 0.0)
            if float(mark.sum()) >= 1.0:
                got = max(float(np.minimum(mark, seen(sh)).sum()) for sh in (-1, 0, 1)) / float(mark.sum())
                if got < MARK_INK:
                    return f"{ch!r} at {i} has no ink for its mark ({got:.2f} of it)"
        # All glyphs at the fitted place; the claimed one and the 6 best also shifted by 1 px.
        best = dice_at(0, slice(None))
        sel = np.unique(np.append(np.argsort(-best)[:6], n))
        for sh in (-1, 1):
            best[sel] = np.maximum(best[sel], dice_at(sh, sel))
        alike = next((a for a in _ALIKE if ch in a), {ch})

        def glyph(m: int) -> str:
            return _ALTS[m] if m < len(_ALTS) else ch

        def reading(m: int, swap: bool = False) -> str:
            return text[:i] + (glyph(m).swapcase() if swap else glyph(m)) + text[i + 1:]

        order = np.argsort(-best)
        top = next((m for m in order[:4] if glyph(m) not in alike), None)
        if top is None or best[top] <= best[n] + margin:
            continue
        if (prior_gap is not None and not lex_used
                and prior_bits(reading(top)) - prior_bits(text) >= prior_gap):
            excused += 1
            continue
        twins = set().union(*(t for t in _TWINS if ch in t)) - {ch}
        if text_known and excused == 0 and best[top] - best[n] <= lexicon and not any(
                known(reading(m)) or known(reading(m, swap=True)) or glyph(m) in twins
                for m in order if best[m] > best[n] + margin and glyph(m) not in alike):
            excused, lex_used = 1, True  # no better-fitting glyph makes a word
            continue
        return f"{ch!r} at {i} looks like {glyph(top)!r} ({best[n]:.2f} < {best[top]:.2f})"
    return None


def _verify_word(o: _Obs, style: Style, x: int, width: int, baseline: int, max_shift: int,
                alt_margin: float | None, prior_gap: float | None = None,
                lexicon: float | None = None) -> tuple[float, int, str | None]:
    """Verification of one word (module doc): score, best horizontal shift, and a misreading
    found by the per-character comparison with alternative glyphs (or None; ``alt_margin``,
    ``prior_gap`` and ``lexicon`` as in `_better_reading`, no comparison where ``alt_margin`` is
    None)."""
    r = _render_in_window(o, style, x, width, baseline)
    ob = _blur(o.alpha)
    # Character cells from the pen positions, in window columns.
    f = load_font(style.font, style.size)
    adv = float(f.getlength(o.text)) or 1.0
    k = width / adv
    pens = [x - o.win[0] + float(f.getlength(o.text[:i])) * k for i in range(len(o.text))]
    cuts = [int(round(p)) for p in pens[1:]]
    best, best_dx = -1.0, 0
    for dx in range(-max_shift, max_shift + 1):
        rb = _blur(_shift_x(r, dx))
        score = _dice(ob, rb)
        if len(o.text) > 1 and score > best:
            edges = [0] + [min(max(c + dx, 0), ob.shape[1]) for c in cuts] + [ob.shape[1]]
            for c0, c1 in zip(edges[:-1], edges[1:]):
                oc, rc = ob[:, c0:c1], rb[:, c0:c1]
                if max(float(oc.sum()), float(rc.sum())) >= 1.0:  # skip empty cells
                    score = min(score, _dice(oc, rc))
        if score > best:
            best, best_dx = score, dx
    if alt_margin is None:  # score only
        return best, best_dx, None
    misread = _better_reading(ob, o.text, style, [p + best_dx for p in pens], k,
                              baseline - o.win[1], alt_margin, prior_gap, lexicon)
    return best, best_dx, misread


def _drift(o: _Obs, style: Style, baseline: int, limit: int) -> int:
    """Vertical offset of the word's ink from where the run's baseline puts it, when its top and
    bottom agree on it (else 0)."""
    m = _ink_metrics(o.text, style.font, style.size)
    if m is None:
        return 0
    d_top, d_bot = o.ink[1] - (baseline + m.top), o.ink[3] - (baseline + m.bottom)
    if abs(d_top - d_bot) > 1:
        return 0
    d = int(math.floor((d_top + d_bot) / 2 + 0.5))
    return d if abs(d) <= limit else 0


def _verify_drift(o: _Obs, style: Style, x: int, width: int, baseline: int,
                  cfg: LayoutConfig, alt_margin: float | None) -> tuple[float, int, str | None, int]:
    """`_verify_word` on the run's baseline and, where the word's ink says it sits higher or
    lower, there too: the better of the two, with its vertical offset."""
    gap, lex = cfg.alt_prior_bits, cfg.alt_lexicon
    score, dx, misread = _verify_word(o, style, x, width, baseline, cfg.max_shift, alt_margin, gap,
                                      lex)
    dy = _drift(o, style, baseline, min(cfg.max_drift, max(1, style.size // 4)))
    if dy:
        s2, dx2, m2 = _verify_word(o, style, x, width, baseline + dy, cfg.max_shift, alt_margin,
                                   gap, lex)
        if s2 > score:
            return s2, dx2, m2, dy
    return score, dx, misread, 0


# --------------------------------------------------------------------------------------------
# Style hints of exact text layers (PDF)

_SERIF = re.compile(r"times|serif|stix|roman|georgia|garamond|minion|cambria|book|palatino|cmr|nimbusrom",
                    re.I)
_MONO = re.compile(r"mono|courier|consol|code|cmtt|menlo|typewriter", re.I)
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.I)
_ITALIC = re.compile(r"italic|oblique", re.I)


def _hinted_candidates(w: OcrWord) -> tuple[int, ...]:
    name = w.font or ""
    mono = w.mono or bool(_MONO.search(name))
    serif = not mono and bool(_SERIF.search(name)) and "sans" not in name.lower()
    bold = w.bold or bool(_BOLD.search(name))
    italic = w.italic or bool(_ITALIC.search(name))
    fam = "mono" if mono else "serif" if serif else "sans"
    out = [s.id for s in FONTS if s.family == fam and s.bold == bold and s.italic == italic]
    # Prefer the faces a PDF viewer substitutes for the base-14 fonts (pymupdf's Nimbus faces),
    # then metric-compatible ones (Arimo), then the rest.
    rank = {"pymupdf": 0, "fontpkg_arimo": 1}
    out.sort(key=lambda i: (rank.get(FONTS[i].package, 2), i))
    return tuple(out)


def _has_hints(w: OcrWord) -> bool:
    return w.size is not None and w.baseline is not None


# --------------------------------------------------------------------------------------------
# Lines


def _split_runs(obs: list[_Obs], cfg: LayoutConfig) -> list[list[_Obs]]:
    """Split one OCR line into runs of words that can share one style."""
    runs: list[list[_Obs]] = []
    for o in sorted(obs, key=lambda o: o.ink[0]):
        if runs:
            p = runs[-1][-1]
            same = float(np.linalg.norm(o.fg - p.fg)) <= cfg.color_split
            if _has_hints(o.word) and _has_hints(p.word):
                same = (round(o.word.size) == round(p.word.size)
                        and round(o.word.baseline) == round(p.word.baseline)
                        and o.word.font == p.word.font and o.word.color == p.word.color
                        and o.word.bold == p.word.bold and o.word.italic == p.word.italic)
            if same:
                runs[-1].append(o)
                continue
        runs.append([o])
    return runs


class _PageFonts:
    """Which faces won the page's lines so far, to try fewer faces on later lines.

    Each line's chosen face gets a vote weighted by the line's characters (ties: the summed
    scores). Votes, not summed scores: faces that look alike (the sans faces) would otherwise
    all rank above a face that only some lines use (a serif menu above sans body text)."""

    def __init__(self, cfg: LayoutConfig):
        self.cfg = cfg
        self.n = 0
        self.votes: dict[int, float] = {}
        self.total: dict[int, float] = {}

    def candidates(self, cands: tuple[int, ...]) -> tuple[int, ...]:
        if self.n < self.cfg.probe_lines or not self.votes:
            return cands
        top = sorted(self.votes, key=lambda f: (-self.votes[f], -self.total[f]))[: self.cfg.page_fonts]
        keep = set(top)
        for f in top:  # bold/regular twin of each best face
            keep.add(style_twin(f, not FONTS[f].bold, FONTS[f].italic))
        return tuple(c for c in cands if c in keep)

    def add(self, scores: dict[int, float], winner: int, weight: float) -> None:
        self.n += 1
        for f, s in scores.items():
            self.total[f] = self.total.get(f, 0.0) + s
        self.votes[winner] = self.votes.get(winner, 0.0) + weight


def _faces(run: list[_Obs], page: _PageFonts, cfg: LayoutConfig) -> tuple[int, ...]:
    """The faces (installed) that a run may be drawn in: a PDF's hints or the page's faces."""
    hinted = all(_has_hints(o.word) for o in run)
    cands = _hinted_candidates(run[0].word) if hinted else page.candidates(cfg.candidates)
    return tuple(f for f in cands if font_available(f))


def _choose_style(run: list[_Obs], color: tuple[int, int, int], page: _PageFonts,
                  cfg: LayoutConfig) -> tuple[Style, int] | None:
    hinted = all(_has_hints(o.word) for o in run)
    fit = sorted(run, key=lambda o: -len(o.text))[: cfg.fit_words]
    text = "".join(o.text for o in run)
    w0 = run[0].word
    cands = tuple(f for f in _faces(run, page, cfg) if covers(f, text))
    if not cands:
        return None
    def score(f: int, size: int, base: int) -> float:
        st = Style(f, size, color)
        sc = sum(_quick_score(o, st, base)[0] * len(o.text) for o in fit)
        return sc / max(1, sum(len(o.text) for o in fit))

    found: list[tuple[float, int, int, int]] = []  # score, font, size, baseline
    for f in cands:
        if hinted:
            size, base = max(1, round(w0.size)), round(w0.baseline)
        else:
            sb = _fit_size_baseline(fit, f)
            if sb is None:
                continue
            size, base = max(1, round(sb[0])), round(sb[1])
        found.append((score(f, size, base), f, size, base))
    if not found:
        return None
    found.sort(key=lambda t: -t[0])
    if not hinted:
        scores = {f: sc for sc, f, _, _ in found}
        # Refine integer size and baseline of the best faces (one step of coordinate ascent).
        refined = []
        for cand in found[: cfg.refine_fonts]:
            top = cand
            for _ in range(cfg.refine_steps):
                _, f, size, base = prev = top
                for ds, db in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    if size + ds >= 1:
                        s2 = score(f, size + ds, base + db)
                        if s2 > top[0] + 1e-9:
                            top = (s2, f, size + ds, base + db)
                if top is prev:
                    break
            refined.append(top)
        found = sorted(refined, key=lambda t: -t[0])
    best, f, size, base = found[0]
    if not hinted:
        page.add(scores, f, len(text))
        # Italic runs (emphasis, a terminal's italic keywords): the italic twin of the face,
        # which the candidates do not hold, where it fits clearly better.
        slant = style_twin(f, FONTS[f].bold, not FONTS[f].italic)
        if slant is not None and font_available(slant) and covers(slant, text):
            s2 = score(slant, size, base)
            if s2 >= best + cfg.slant_gain:
                f = slant
    return Style(f, size, color), base


def build_layer(image: np.ndarray, lines: list[OcrLine],
                config: LayoutConfig = LayoutConfig()) -> Analysis:
    """The verified text layer of `image` (H, W, 3 uint8) from recognised `lines`.

    Every word is drawn as the decoder will draw it and compared with the original pixels; words
    that do not match (misreadings, icons read as text, unknown glyphs, faint text) are listed in
    ``rejected`` and left out of the layer and the mask.
    """
    img = np.asarray(image)[:, :, :3].astype(np.float32)
    H, W = img.shape[:2]
    cfg = config
    mask = np.zeros((H, W), bool)
    rejected: list[tuple[OcrWord, float, str]] = []
    ink_words: list[OcrWord] = []

    def reject(o: _Obs | OcrWord, score: float, why: str) -> None:
        if isinstance(o, OcrWord):
            rejected.append((o, score, why))
            ink_words.append(o)
        else:
            rejected.append((o.word, score, why))
            ink_words.append(o.part or o.word)

    out_lines: list[Line] = []
    page = _PageFonts(cfg)
    nan = float("nan")

    # The longest lines first (they are the probe lines of `_PageFonts`); the layer's lines and
    # the rejected words are put back in reading order at the end.
    order = sorted(range(len(lines)), key=lambda i: -sum(len(w.text) for w in lines[i].words))
    line_of: list[int] = []  # index in `lines` of each layer line
    estimated: list[bool] = []  # whether each layer line's colour was estimated from pixels
    rejected_of: list[int] = []  # and of each rejected word
    for li in order:
        ocr_line = lines[li]
        obs: list[_Obs] = []
        hinted_line = all(_has_hints(w) for w in ocr_line.words)
        snapped = ([w.box for w in ocr_line.words] if hinted_line or not ocr_line.words
                   else _snap_boxes(img, list(ocr_line.words)))
        for w, box in zip(ocr_line.words, snapped):
            text = _clean(w.text)
            if not text:
                reject(w, nan, "empty text")
                continue
            if w.confidence < (cfg.min_confidence_short if len(w.text) <= 2 else cfg.min_confidence):
                reject(w, nan, "low confidence")
                continue
            if box is None:
                reject(w, nan, "no ink")
                continue
            o = _observe(img, w, text, box, cfg)
            if isinstance(o, str):
                reject(w, nan, o)
                continue
            obs += _split_colours(img, o, cfg)
        prev: tuple[Style, int] | None = None  # style and baseline of the line's last run
        for run in _split_runs(obs, cfg):
            faces = _faces(run, page, cfg)
            bare = [o for o in run if not any(covers(f, o.text) for f in faces)]
            if bare and len(bare) < len(run):
                # A word that no face covers (CJK, an icon read as such) leaves its run; the
                # other words still get a style (and are verified as usual).
                for o in bare:
                    reject(o, nan, "no font covers the text")
                run = [o for o in run if not any(o is b for b in bare)]
            given = all(o.word.color is not None for o in run) and _has_hints(run[0].word)
            if given:
                color = tuple(int(c) for c in run[0].word.color)
            else:
                wts = np.asarray([len(o.text) for o in run], float)
                fgs = np.stack([o.fg for o in run])
                color = tuple(int(round(c)) for c in np.clip(np.median(fgs, axis=0)
                              if len(run) > 2 else (fgs * wts[:, None]).sum(0) / wts.sum(), 0, 255))
            punct = all(unicodedata.category(c).startswith("P") for o in run for c in o.text)
            if punct and prev is not None and covers(prev[0].font, "".join(o.text for o in run)):
                # Punctuation alone says little about size and baseline: those of its neighbour.
                chosen: tuple[Style, int] | None = (Style(prev[0].font, prev[0].size, color), prev[1])
            else:
                chosen = _choose_style(run, color, page, cfg)
            if chosen is None:
                for o in run:
                    reject(o, nan, "no font covers the text")
                continue
            style, base = prev = chosen
            fits = [_pen_x(o, style.font, style.size) or _fit_x(o, style.font, style.size) for o in run]
            # An exact text layer's characters are known: the checks for misreadings (a wrong,
            # missing or extra character) would only reject words where our face differs from
            # the PDF's own; its words need only be visible where the layer says they are.
            exact = all(_has_hints(o.word) for o in run)
            ks = [fx[2] for fx, o in zip(fits, run) if fx is not None and len(o.text) > 1]
            k_line = float(np.median(ks)) if len(ks) >= 3 and not exact else None
            checked = []
            for o, fx in zip(run, fits):
                if fx is None:
                    reject(o, nan, "nothing to draw")
                    continue
                x, width, k = fx
                px = cfg.stretch_px / max(1, o.ink[2] - o.ink[0])
                if not (1.0 / cfg.max_stretch - px <= k <= cfg.max_stretch + px):
                    reject(o, nan, f"stretch {k:.2f} out of range")
                    continue
                if k_line is not None and abs(k / k_line - 1.0) > cfg.max_stretch_dev + px:
                    reject(o, nan, f"stretch {k:.2f} vs line {k_line:.2f}")
                    continue
                score, dx, misread, dy = _verify_drift(o, style, x, width, base, cfg,
                                                       None if exact else cfg.alt_margin)
                checked.append((o, x + dx, width, score, misread, dy))
            scores = [c[3] for c in checked if len(c[0].text) > 1]
            floor = cfg.verify_threshold_exact if exact else cfg.verify_threshold
            if len(scores) >= 3:
                floor = max(floor, float(np.median(scores)) - cfg.line_drop)
            by_base: dict[int, list[Word]] = {}
            for o, x, width, score, misread, dy in checked:
                need = (max(floor, cfg.verify_threshold_char) if not exact and _lone_character(o)
                        else floor)
                if score < need:
                    reject(o, score, f"verification failed (< {need:.2f})")
                    continue
                if misread is not None:
                    reject(o, score, "misread: " + misread)
                    continue
                by_base.setdefault(base + dy, []).append(Word(o.text, x, width))
                _add_mask(mask, o, style, x, width, base + dy, cfg)
            for b, words in sorted(by_base.items()):
                words.sort(key=lambda w: w.x)
                out_lines.append(Line(b, style, tuple(words)))
                line_of.append(li)
                estimated.append(not given)
        rejected_of += [li] * (len(rejected) - len(rejected_of))
    out_lines = _snap_colours(out_lines, estimated, cfg.color_snap)
    if cfg.mask_dilation > 0:
        k = 2 * cfg.mask_dilation + 1
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    return Analysis(TextLayer(W, H, tuple(_reading_order(out_lines, line_of))), mask,
                    _reading_order(rejected, rejected_of), _reading_order(ink_words, rejected_of))


def _lone_character(o: _Obs) -> bool:
    """Whether `o` is a word of one letter or digit on its own (not a part of a longer word)."""
    return len(o.text) == 1 and o.text.isalnum() and o.part is None


def _snap_colours(lines: list[Line], estimated: list[bool], tol: float) -> list[Line]:
    """`lines` with each estimated colour replaced by the nearest within `tol` (in every
    channel) of the colours of lines with more characters (see ``LayoutConfig.color_snap``)."""
    if tol <= 0:
        return lines
    out = list(lines)
    palette: list[np.ndarray] = []
    for i in sorted(range(len(lines)), key=lambda i: -sum(len(w.text) for w in lines[i].words)):
        if not estimated[i]:
            continue
        c = np.asarray(lines[i].style.color, np.int64)
        near = [p for p in palette if np.abs(p - c).max() <= tol]
        if not near:
            palette.append(c)
            continue
        p = min(near, key=lambda p: int(np.abs(p - c).sum()))
        out[i] = replace(lines[i], style=replace(lines[i].style, color=tuple(int(v) for v in p)))
    return out


def _reading_order(items: list[_T], line_of: list[int]) -> list[_T]:
    """`items` sorted by the index of the OCR line each came from (stable within a line)."""
    return [items[i] for i in sorted(range(len(items)), key=lambda i: line_of[i])]


def _add_mask(mask: np.ndarray, o: _Obs, style: Style, x: int, width: int, baseline: int,
              cfg: LayoutConfig) -> None:
    """Marks the original ink of the word (inside its box, one pixel of slack) and its redraw."""
    wx0, wy0, wx1, wy1 = o.win
    r = _render_in_window(o, style, x, width, baseline)
    m = r > 0.02
    x0, y0, x1, y1 = o.box
    ink = o.alpha > cfg.mask_alpha
    lim = np.zeros_like(ink)
    lim[max(0, y0 - 1 - wy0):max(0, y1 + 1 - wy0), max(0, x0 - 1 - wx0):max(0, x1 + 1 - wx0)] = True
    m |= ink & lim
    mask[wy0:wy1, wx0:wx1] |= m
