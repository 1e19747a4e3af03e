"""Symbol coding of ink masks (ink codec 4, `layout.ink`): a mask as its pieces, each a reference
to an identical piece coded before or a new bitmap.

A piece is an 8-connected component of the mask, cut out to its bounding box (only its own
pixels: another piece's pixels inside the box are 0 there). The mask is the union of its pieces,
so coding them codes the mask exactly. Terminals, old UIs and pixel fonts repeat their glyphs
pixel for pixel, and a piece seen before costs only its reference and its place; a piece never
seen (or text whose anti-aliased, thresholded glyphs differ from one word to the next) costs more
than the raster model's row-by-row code, which is why the ink coder picks, mask by mask, the
cheaper of the two (`layout.ink`).

Dictionary: every piece of every mask of the section, in the order coded, once each (at most
`MAX_SYMBOLS`; pieces past that are still coded, but not added), whether its mask was coded as
pieces or row by row (the decoder cuts a decoded row-by-row mask into its pieces as the encoder
does, `pieces`). "New" and each entry have an adaptive count: `_INC` to start with (an entry's
when it is added), `_INC` more each time it is coded; when a piece leaves their sum above
`_LIMIT`, all are halved, rounding up.

Bitstream of one mask of ``h x w`` (symbols of `picd.entropy`, in the ink section's one stream):

1. the number of pieces (`_Small` 0..31, else escape and an adaptive integer);
2. per piece, in order of its box's left edge, then top edge, height, width and bits:
   - which piece: "new" or an entry of the dictionary, one adaptive categorical over all of them
     (nothing is coded while the dictionary is empty: the piece is new);
   - a new piece: its height and width (`_Small` 1..63 each, else escape) and its bitmap under
     the raster model's 10-neighbour contexts (the same counts as the row-by-row masks);
   - its left edge as the gap to the previous piece's right edge (the first piece's "previous"
     right edge is 0; `_Small` -32..63) and its bottom edge as the difference to the previous
     piece's (the first's "previous" is ``h``; `_Small` -31..31).

Readers refuse pieces outside their mask, more pieces than the mask has pixels, and more pieces
in a section than `layout.ink` allows for its length (4 a byte, plus 1024: real ink takes at
least 3 bytes a piece, 0.11 to 0.33 pieces a byte on those 14 screens).
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from picd.entropy import AdaptiveCategorical, AdaptiveInt, Coder
from picd.errors import BadStreamError

__all__ = ["SymbolModel", "pieces", "MAX_SYMBOLS"]

#: Dictionary entries at most (changing it changes the bitstream). The 14 screens of the ink
#: codec bench hold up to 846 distinct pieces (`gb82sc_windows`, 2560x1392, all its rejected
#: words); the cap bounds the work of each reference (its distribution has an entry per piece).
MAX_SYMBOLS = 4096
_INC = 24
_LIMIT = 1 << 16


class _Bitmaps(Protocol):
    def code(self, coder: Coder, mask: np.ndarray | None, h: int, w: int) -> np.ndarray: ...


Piece = tuple[int, int, np.ndarray]  # x, y (in the mask) and the bool bitmap


def _key(bitmap: np.ndarray) -> tuple[int, int, bytes]:
    return bitmap.shape[0], bitmap.shape[1], np.packbits(bitmap, axis=None).tobytes()


def pieces(mask: np.ndarray) -> list[Piece]:
    """The 8-connected components of a bool mask as ``(x, y, bitmap)``, each bitmap its box with
    only its own pixels set, in coding order (left edge, top edge, height, width, bits: the order
    does not depend on how the components are labelled)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h = (int(v) for v in stats[k, :4])
        out.append((x, y, np.ascontiguousarray(labels[y:y + h, x:x + w] == k)))
    out.sort(key=lambda p: (p[0], p[1], *_key(p[2])))
    return out


class _Small:
    """Integers, most of them in ``lo..hi``: one adaptive categorical over that range and an
    escape, followed by an adaptive integer for values outside it."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.cat = AdaptiveCategorical(hi - lo + 2)
        self.big = AdaptiveInt()

    def clone(self) -> _Small:
        c = _Small.__new__(_Small)
        c.lo, c.hi = self.lo, self.hi
        c.cat, c.big = self.cat.copy(), self.big.copy()
        return c

    def code(self, coder: Coder, value: int | None = None) -> int:
        if not coder.decoding:
            v = int(value)  # type: ignore[arg-type]
            inside = self.lo <= v <= self.hi
            self.cat.code(coder, v - self.lo + 1 if inside else 0)
            if not inside:
                self.big.code(coder, v)
            return v
        s = self.cat.code(coder)
        return self.lo + s - 1 if s else self.big.code(coder)


class SymbolModel:
    """The dictionary and the adaptive models of codec 4's piece-by-piece masks (module doc);
    shared by encoder, decoder and cost estimates. ``bitmaps`` codes a new piece's bitmap (the
    raster model of `layout.ink`, whose counts the row-by-row masks share)."""

    def __init__(self, bitmaps: _Bitmaps, max_pieces: int | None = None) -> None:
        self.bitmaps = bitmaps
        #: pieces coded so far, and the most a reader takes (None: no limit)
        self.coded, self.max_pieces = 0, max_pieces
        self.count = _Small(0, 31)
        self.height, self.width = _Small(1, 63), _Small(1, 63)
        self.gap, self.bottom = _Small(-32, 63), _Small(-31, 31)
        self.ids: dict[tuple[int, int, bytes], int] = {}
        self.entries: list[np.ndarray] = []
        self.counts: list[int] = [_INC]  # 0: "new"; 1 + id: an entry
        self.total = _INC

    def clone(self, bitmaps: _Bitmaps) -> SymbolModel:
        """A copy whose coding leaves this one as it is (entries' bitmaps are shared: never
        written), coding new bitmaps with ``bitmaps``."""
        c = SymbolModel.__new__(SymbolModel)
        c.bitmaps = bitmaps
        c.coded, c.max_pieces = self.coded, self.max_pieces
        c.count, c.height, c.width = self.count.clone(), self.height.clone(), self.width.clone()
        c.gap, c.bottom = self.gap.clone(), self.bottom.clone()
        c.ids, c.entries, c.counts = dict(self.ids), list(self.entries), list(self.counts)
        c.total = self.total
        return c

    def _add(self, bitmap: np.ndarray, key: tuple[int, int, bytes] | None = None) -> None:
        key = key or _key(bitmap)
        if key not in self.ids and len(self.entries) < MAX_SYMBOLS:
            self.ids[key] = len(self.entries)
            self.entries.append(bitmap)
            self.counts.append(_INC)
            self.total += _INC

    def _pick(self, coder: Coder, key: tuple[int, int, bytes] | None) -> int:
        """The entry of a piece (-1: new)."""
        if not self.entries:
            return -1
        if not coder.decoding:
            s = self.ids.get(key, -1) + 1  # type: ignore[arg-type]
            coder.categorical(np.asarray(self.counts, np.int64), s)
        else:
            s = coder.categorical(np.asarray(self.counts, np.int64))
        self.counts[s] += _INC
        self.total += _INC
        if self.total > _LIMIT:
            self.counts = [(c + 1) >> 1 for c in self.counts]
            self.total = sum(self.counts)
        return s - 1

    def learn(self, ps: list[Piece]) -> None:
        """Add the pieces (`pieces`) of a mask coded row by row."""
        for _, _, bm in ps:
            self._add(bm)

    def code(self, coder: Coder, mask: np.ndarray | None, h: int, w: int,
             ps: list[Piece] | None = None) -> np.ndarray:
        """Code (or decode, ``mask=None``) one ``h x w`` mask piece by piece; returns it.
        ``ps``: the mask's `pieces`, where the encoder has them already."""
        if mask is not None and ps is None:
            ps = pieces(mask)
        n = self.count.code(coder, None if ps is None else len(ps))
        self.coded += n
        if not 0 <= n <= h * w or (self.max_pieces is not None and self.coded > self.max_pieces):
            raise BadStreamError("corrupted ink section (piece count)")
        out = np.zeros((h, w), bool)
        right, bottom = 0, h
        for i in range(n):
            x = y = 0
            bm = key = None
            if ps is not None:
                x, y, bm = ps[i]
                key = _key(bm)
            e = self._pick(coder, key)
            if e >= 0:
                bm = self.entries[e]
            else:
                ph = self.height.code(coder, None if bm is None else bm.shape[0])
                pw = self.width.code(coder, None if bm is None else bm.shape[1])
                if not (1 <= ph <= h and 1 <= pw <= w):
                    raise BadStreamError("corrupted ink section (piece size)")
                bm = self.bitmaps.code(coder, bm, ph, pw)
                self._add(bm, key)
            ph, pw = bm.shape
            x = right + self.gap.code(coder, None if ps is None else x - right)
            bottom += self.bottom.code(coder, None if ps is None else y + ph - bottom)
            y = bottom - ph
            if not (0 <= x and x + pw <= w and 0 <= y and bottom <= h):
                raise BadStreamError("corrupted ink section (piece outside its mask)")
            out[y:bottom, x:x + pw] |= bm
            right = x + pw
        return out
