"""A background as rectangles of flat colour: a guillotine partition of the image.

Screens with their text taken out are mostly flat panels, bars and boxes with crisp edges. At a
few hundred bytes, a downscaled AVIF of such a background is a blur of its colours, while a
partition into a few dozen rectangles keeps the boxes, their edges and their colours. The
classical background codec (`picd.background`) offers this as one of its formats and keeps it
where it comes closer to the original than AVIF/WebP in the same bytes.

Encoder: the image is summed over cells of ``g`` x ``g`` pixels (weighted). Starting from the
whole image, the rectangle whose best cut (horizontal or vertical, at any grid position) lowers
the weighted squared error most is cut, again and again (`_Tree`); each rectangle is painted
with the weighted mean of its pixels. The first ``k`` cuts of that order form a tree, and
(within 1% of) the largest ``k`` that fits the budget is coded.

Stream (after the background's format byte): one byte, the index of ``g`` in `GRIDS` plus 4
times that of the colour step in `STEPS` (colours are coded on multiples of the step: fewer
bits a colour, more rectangles in the bytes), then the tree depth first (the left or upper part of a cut first), entropy-coded with
`picd.entropy`. Per node: cut or leaf (adaptive bit per size class; not coded where the node is one grid cell); for a cut, the
axis (adaptive, not coded where one side is one cell) and the position: whether it repeats a
cut position coded before on that axis that lies inside the node (adaptive bit, coded only when
there is one), then the index among those, or among the other positions (uniform). Per leaf its
colour: an index into the colours coded so far (most recent first, at most `_CACHE`) or a new
colour, each channel's difference in steps from the previous new colour (`AdaptiveInt`). The
encoder takes a cached colour within `_SNAP` of a leaf's mean instead of a new one.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterator

import numpy as np

from picd.entropy import AdaptiveCategorical, AdaptiveInt, Decoder, Encoder, Tally
from picd.errors import BadStreamError

GRIDS = (1, 2, 4, 8)
STEPS = (1, 4, 8, 16)  # colour steps: a colour channel is coded as a multiple of the step
_CACHE = 32  # colours a leaf can refer to
_SIZE_CLASSES = 24  # contexts of the cut/leaf bit: bit length of the node's area in cells
# a cut that lowers the error by less than this (weighted squared error, 0..255 per channel)
# is not worth its bits at any budget
_MIN_GAIN = 1.0
_LEAVES_PER_BYTE = 16  # a reader refuses more leaves than this per byte of the stream (+ 64)
_SNAP = 2  # a leaf takes a cached colour this close (per channel) instead of coding its own


class _Models:
    def __init__(self) -> None:
        self.cut = [AdaptiveCategorical(2) for _ in range(_SIZE_CLASSES)]
        self.axis = [AdaptiveCategorical(2) for _ in range(3)]
        self.reuse = AdaptiveCategorical(2)
        self.colour = AdaptiveCategorical(_CACHE + 1)
        self.delta = [AdaptiveInt(signed=True, max_bits=9) for _ in range(3)]


def _size_class(w: int, h: int) -> int:
    return min(_SIZE_CLASSES - 1, (w * h).bit_length())


def _axis_ctx(w: int, h: int) -> int:
    return 0 if w > h else (1 if w < h else 2)


def _block_sums(a: np.ndarray, g: int) -> np.ndarray:
    """Sums of ``a`` (H, W, ...) over blocks of ``g`` x ``g`` pixels, the last ones cut short."""
    H, W = a.shape[:2]
    gh, gw = -(-H // g), -(-W // g)
    pad = np.zeros((gh * g, gw * g) + a.shape[2:], np.float64)
    pad[:H, :W] = a
    return pad.reshape(gh, g, gw, g, *a.shape[2:]).sum(axis=(1, 3))


class _Tree:
    """The greedy cut order on the reduced image (see the module docstring).

    Nodes are ``[x0, y0, x1, y1]`` in grid cells; ``cuts[i] = (node, axis, pos)`` in the order
    they were made; a cut's two parts are appended to ``nodes`` as it is made.
    """

    def __init__(self, image: np.ndarray, weight: np.ndarray, g: int, max_cuts: int) -> None:
        self.g = g
        x, wt = image.astype(np.float64), weight.astype(np.float64)
        # per grid cell: the weight, the weighted colour and the weighted squared values
        s0 = _block_sums(wt, g)
        s1 = _block_sums(x * wt[..., None], g)
        x2 = _block_sums((x**2).sum(axis=2) * wt, g)
        gh, gw = s0.shape
        self.P0 = _integral(s0)
        self.P1 = np.stack([_integral(s1[..., c]) for c in range(3)], axis=-1)
        self.P2 = _integral(x2)
        self.nodes: list[tuple[int, int, int, int]] = [(0, 0, gw, gh)]
        self._means: dict[int, tuple[int, int, int]] = {}
        self.cuts: list[tuple[int, int, int]] = []
        heap: list[tuple[float, int, int, int]] = []
        best = self._best_cut(0)
        if best is not None:
            heapq.heappush(heap, (-best[0], 0, best[1], best[2]))
        while heap and len(self.cuts) < max_cuts:
            _, node, axis, pos = heapq.heappop(heap)
            x0, y0, x1, y1 = self.nodes[node]
            if axis == 0:
                kids = [(x0, y0, pos, y1), (pos, y0, x1, y1)]
            else:
                kids = [(x0, y0, x1, pos), (x0, pos, x1, y1)]
            for k in kids:
                self.nodes.append(k)
                b = self._best_cut(len(self.nodes) - 1)
                if b is not None:
                    heapq.heappush(heap, (-b[0], len(self.nodes) - 1, b[1], b[2]))
            self.cuts.append((node, axis, pos))
        self.node_of = {n: i for i, n in enumerate(self.nodes)}

    def _sums(self, x0, y0, x1, y1):
        P0, P1, P2 = self.P0, self.P1, self.P2
        s0 = P0[y1, x1] - P0[y0, x1] - P0[y1, x0] + P0[y0, x0]
        s1 = P1[y1, x1] - P1[y0, x1] - P1[y1, x0] + P1[y0, x0]
        s2 = P2[y1, x1] - P2[y0, x1] - P2[y1, x0] + P2[y0, x0]
        return s0, s1, s2

    def mean(self, node: int) -> tuple[int, int, int]:
        if node not in self._means:
            self._means[node] = self._mean(node)
        return self._means[node]

    def _mean(self, node: int) -> tuple[int, int, int]:
        s0, s1, _ = self._sums(*self.nodes[node])
        if s0 <= 1e-9:
            return (-1, -1, -1)  # nothing of it matters: any colour will do
        return tuple(int(v) for v in np.clip(np.rint(s1 / s0), 0, 255))  # type: ignore[return-value]

    def _best_cut(self, node: int) -> tuple[float, int, int] | None:
        x0, y0, x1, y1 = self.nodes[node]
        s0, s1, s2 = self._sums(x0, y0, x1, y1)
        err = _sse(s0, s1, s2)
        if err < _MIN_GAIN:
            return None
        best: tuple[float, int, int] | None = None
        for axis in (0, 1):
            lo, hi = (x0, x1) if axis == 0 else (y0, y1)
            if hi - lo < 2:
                continue
            p = np.arange(lo + 1, hi)
            if axis == 0:
                a0 = self.P0[y1, p] - self.P0[y0, p] - self.P0[y1, x0] + self.P0[y0, x0]
                a1 = self.P1[y1, p] - self.P1[y0, p] - self.P1[y1, x0] + self.P1[y0, x0]
                a2 = self.P2[y1, p] - self.P2[y0, p] - self.P2[y1, x0] + self.P2[y0, x0]
            else:
                a0 = self.P0[p, x1] - self.P0[p, x0] - self.P0[y0, x1] + self.P0[y0, x0]
                a1 = self.P1[p, x1] - self.P1[p, x0] - self.P1[y0, x1] + self.P1[y0, x0]
                a2 = self.P2[p, x1] - self.P2[p, x0] - self.P2[y0, x1] + self.P2[y0, x0]
            gain = err - _sse(a0, a1, a2) - _sse(s0 - a0, s1 - a1, s2 - a2)
            i = int(np.argmax(gain))
            if gain[i] >= _MIN_GAIN and (best is None or gain[i] > best[0]):
                best = (float(gain[i]), axis, int(p[i]))
        return best

    def code(self, k: int, step: int, coder: Encoder | Tally) -> None:
        """Code the tree made by the first ``k`` cuts, colours on ``step``, with ``coder``."""
        cut_of = {c[0]: c for c in self.cuts[:k]}
        _code(coder, self.nodes[0], cut_of, self, {}, step)

    def stream(self, k: int, step: int) -> bytes:
        e = Encoder()
        self.code(k, step, e)
        return bytes([GRIDS.index(self.g) | STEPS.index(step) << 2]) + e.finish()

    def fit(self, max_bytes: int, step: int) -> bytes | None:
        """The stream of (within 1% of) the most cuts that fit ``max_bytes``, or None."""
        def ideal(k: int) -> float:  # bytes, the header byte and one of margin included
            t = Tally()
            self.code(k, step, t)
            return t.total / 8 + 2

        lo, hi = 0, len(self.cuts)
        s_lo, s_hi = ideal(lo), ideal(hi)
        if s_lo > max_bytes:
            return None
        if s_hi <= max_bytes:
            lo = hi
        while hi - lo > max(1, lo // 100):  # interpolate: the size grows about linearly with k
            k = lo + round((max_bytes - s_lo) / (s_hi - s_lo) * (hi - lo))
            k = min(hi - 1, max(lo + 1, k))
            s = ideal(k)
            if s <= max_bytes:
                lo, s_lo = k, s
            else:
                hi, s_hi = k, s
        while True:  # the finished stream is at most a byte or two over the ideal length
            data = self.stream(lo, step)
            if len(data) <= max_bytes and lo + 1 <= _max_leaves(len(data)):
                return data
            if lo == 0:
                return None
            lo -= 1


def _integral(a: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1), np.float64)
    out[1:, 1:] = a.cumsum(axis=0).cumsum(axis=1)
    return out


def _sse(s0, s1, s2):
    """Weighted squared error of a region painted with its mean, from its sums."""
    s0 = np.asarray(s0, np.float64)
    q = (np.asarray(s1, np.float64) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s0 > 1e-9, s2 - q / np.where(s0 > 1e-9, s0, 1.0), 0.0)


def _nth_free(lo: int, hi: int, seen: list[int], j: int) -> int:
    """The ``j``-th (from 0) position in ``lo+1 .. hi-1`` that is not in ``seen`` (sorted)."""
    pos = lo + 1 + j
    for p in seen:
        if p <= pos:
            pos += 1
        else:
            break
    return pos


def _max_leaves(n_bytes: int) -> int:
    return _LEAVES_PER_BYTE * n_bytes + 64


def _uniform(coder, n: int, value: int | None) -> int:
    """A value in ``0 .. n-1``, all equally likely (nothing coded when ``n`` is 1)."""
    if n <= 1:
        return 0
    if isinstance(coder, Tally):
        coder.total += math.log2(n)
        return int(value)  # type: ignore[arg-type]
    return coder.categorical(np.ones(n, np.int64), value)


def _code(coder, root, cut_of, tree, leaves, step: int, limit: int | None = None) -> None:
    """Encode (``coder`` an `Encoder` or `Tally`, ``tree`` the `_Tree`, ``cut_of`` its cuts by
    node) or decode (a `Decoder`; ``cut_of`` and ``tree`` None) the partition depth first; the
    leaves go to ``leaves`` as ``(x0, y0, x1, y1) -> colour``; more than ``limit`` of them is
    an error."""
    enc = not coder.decoding
    bad = "corrupted background section (rectangles)"
    m = _Models()
    used: tuple[list[int], list[int]] = ([], [])  # cut positions coded so far, per axis, sorted
    cache: list[tuple[int, int, int]] = []
    prev = (128 // step,) * 3  # the last new colour, in steps
    node_of = tree.node_of if enc else {}
    stack = [root]
    while stack:
        if limit is not None and len(leaves) + len(stack) > limit:
            raise BadStreamError("corrupted background section (more rectangles than its bytes allow)")
        box = stack.pop()
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        cut = cut_of.get(node_of[box]) if enc else None
        is_cut = 0
        if w > 1 or h > 1:
            is_cut = m.cut[_size_class(w, h)].code(coder, int(cut is not None) if enc else None)
        if is_cut:
            if w > 1 and h > 1:
                axis = m.axis[_axis_ctx(w, h)].code(coder, cut[1] if enc else None)
            else:
                axis = 0 if w > 1 else 1
            lo, hi = (x0, x1) if axis == 0 else (y0, y1)
            u = used[axis]
            seen = u[bisect.bisect_right(u, lo) : bisect.bisect_left(u, hi)]
            pos = cut[2] if enc else -1
            again = m.reuse.code(coder, int(pos in seen) if enc else None) if seen else 0
            if again:
                pos = seen[_uniform(coder, len(seen), seen.index(pos) if enc else None)]
            else:
                free = hi - lo - 1 - len(seen)
                if free <= 0:
                    raise BadStreamError(bad)
                j = pos - lo - 1 - sum(1 for p in seen if p < pos) if enc else None
                pos = _nth_free(lo, hi, seen, _uniform(coder, free, j))
                bisect.insort(used[axis], pos)
            if axis == 0:
                a, b = (x0, y0, pos, y1), (pos, y0, x1, y1)
            else:
                a, b = (x0, y0, x1, pos), (x0, pos, x1, y1)
            stack.append(b)
            stack.append(a)
            continue
        colour = None
        if enc:
            colour = tree.mean(node_of[box])
            if colour[0] < 0:  # no pixel of it matters
                colour = cache[0] if cache else tuple(min(255, v * step) for v in prev)
            colour = tuple(min(255, round(v / step) * step) for v in colour)  # on the steps
            if colour not in cache:
                r, g, b = colour
                for c in cache:
                    if abs(c[0] - r) <= _SNAP and abs(c[1] - g) <= _SNAP and abs(c[2] - b) <= _SNAP:
                        colour = c
                        break
        idx = m.colour.code(coder, (cache.index(colour) if colour in cache else _CACHE) if enc else None)
        if idx < _CACHE:
            if idx >= len(cache):
                raise BadStreamError(bad)
            colour = cache.pop(idx)
        else:
            c = []
            for ch in range(3):
                level = round(colour[ch] / step) if enc else 0  # 255 is the top step's value
                v = prev[ch] + m.delta[ch].code(coder, level - prev[ch] if enc else None)
                if not 0 <= v <= -(-255 // step):
                    raise BadStreamError(bad)
                c.append(v)
            prev = (c[0], c[1], c[2])
            colour = (min(255, c[0] * step), min(255, c[1] * step), min(255, c[2] * step))
            if colour in cache:
                cache.remove(colour)
        cache.insert(0, colour)
        del cache[_CACHE:]
        leaves[box] = colour


def encode(image: np.ndarray, weight: np.ndarray, max_bytes: int, grid: int, step: int) -> bytes | None:
    """The largest partition on ``grid`` (one of `GRIDS`), colours on ``step`` (one of
    `STEPS`), whose stream fits ``max_bytes``; None when not even one rectangle does. ``weight``
    (H, W) says how much each pixel counts."""
    return next(candidates(image, weight, max_bytes, (grid,), (step,)))


def candidates(image: np.ndarray, weight: np.ndarray, max_bytes: int, grids: tuple[int, ...],
               steps: tuple[int, ...]) -> Iterator[bytes | None]:
    """`encode` for every grid and step (steps varying fastest), one greedy cut order per grid."""
    for grid in grids:
        # a cut and its leaf's colour cost 12 bits or more on real screens (15 to 35)
        tree = _Tree(image, weight, grid, max_cuts=max_bytes * 8 // 12 + 16)
        for step in steps:
            yield tree.fit(max_bytes, step)


def decode(data: bytes, width: int, height: int) -> np.ndarray:
    """The (height, width, 3) uint8 image of a stream from `encode`."""
    if not data or data[0] >= len(GRIDS) * len(STEPS):
        raise BadStreamError("corrupted background section (rectangles)")
    g, step = GRIDS[data[0] & 3], STEPS[data[0] >> 2]
    gw, gh = -(-width // g), -(-height // g)
    leaves: dict = {}
    _code(Decoder(data[1:]), (0, 0, gw, gh), None, None, leaves, step, _max_leaves(len(data)))
    out = np.empty((height, width, 3), np.uint8)
    for (x0, y0, x1, y1), colour in leaves.items():
        out[y0 * g : y1 * g, x0 * g : x1 * g] = colour
    return out
