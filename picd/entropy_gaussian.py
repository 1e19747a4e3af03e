"""Range coding of the learned codec's latents under frozen integer tables (constriction).

The learned background codec (`picd.learned`) codes two integer tensors: the hyper-latent
``z_hat`` under a factorized prior (one table per channel) and the latent ``y_hat - mu`` under a
Gaussian conditional whose scale is quantised to an index into a fixed table of scales (one
table per index). Both cases are the same operation: *code integer symbols, each under the
table row that an integer index names*. `IndexedTables` holds such a family of rows and codes
with it; nothing here knows about networks.

Bit-exactness
-------------
The rows are integer frequencies frozen with the weights (``model.safetensors``), never
recomputed from floats at run time. The row indexes are integers the caller computes exactly
(`picd.learned.model` runs the hyper-synthesis as an integer network). A row's frequencies go
to constriction as a float64 vector of exact integers with ``perfect=False`` passed
explicitly, so its deterministic Rust quantiser sees the same input on every machine.

Stream layout
-------------
One queue range coder (32-bit words, written big-endian, trailing zero bytes trimmed: the
decoder reads zeros past the end). Symbols are coded grouped by row in increasing row order,
in raster order within a row (a stable sort of the row indexes), so each group is one
vectorised constriction call under one fixed model. After the last group the encoder writes
``CHECK_BITS`` raw bits of `CHECK_VALUE`; a decoder that reads anything else has a truncated
or corrupted stream and raises `BadStreamError` (a miss costs 2**-CHECK_BITS).
"""

from __future__ import annotations

from collections.abc import Sequence

import constriction
import numpy as np

from picd.errors import BadStreamError

__all__ = ["IndexedTables", "TableEncoder", "TableDecoder", "freqs_from_probs", "CHECK_BITS", "FREQ_BITS"]

FREQ_BITS = 24
"""Every frozen row sums to ``2**FREQ_BITS`` (constriction's queue coder works at 24 bits)."""

CHECK_BITS = 8
CHECK_VALUE = 0xA5

_Categorical = constriction.stream.model.Categorical
_CHECK_MODEL = constriction.stream.model.Uniform(1 << CHECK_BITS)


def freqs_from_probs(probs: np.ndarray, total_bits: int = FREQ_BITS) -> np.ndarray:
    """Integer frequencies (int32, each >= 1) summing to ``2**total_bits`` for a probability row.

    Used when tables are frozen (once, at export); the result is stored, so the float math here
    never has to agree across machines.
    """
    p = np.asarray(probs, dtype=np.float64)
    p = np.clip(p, 0.0, None)
    n = p.size
    total = 1 << total_bits
    if p.sum() <= 0:
        p = np.ones(n)
    spare = total - n
    if spare < 0:
        raise ValueError(f"{n} symbols do not fit {total_bits}-bit frequencies")
    f = np.floor(p / p.sum() * spare).astype(np.int64) + 1
    rest = total - int(f.sum())
    # hand the rounding remainder to the most probable symbols (deterministic order)
    order = np.argsort(-p, kind="stable")
    f[order[: rest % n]] += 1
    f += rest // n
    assert int(f.sum()) == total and f.min() >= 1
    return f.astype(np.int32)


class IndexedTables:
    """A family of integer frequency rows, row ``r`` over the symbol values
    ``offsets[r] .. offsets[r] + sizes[r] - 1``.

    ``freqs`` (rows, K) int32, row ``r`` valid in its first ``sizes[r]`` entries (the rest 0).
    """

    def __init__(self, freqs: np.ndarray, sizes: np.ndarray, offsets: np.ndarray) -> None:
        self.freqs = np.ascontiguousarray(freqs, dtype=np.int32)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        rows = self.freqs.shape[0]
        if self.freqs.ndim != 2 or self.sizes.shape != (rows,) or self.offsets.shape != (rows,):
            raise ValueError("inconsistent table shapes")
        if (self.sizes < 1).any() or (self.sizes > self.freqs.shape[1]).any():
            raise ValueError("table sizes out of range")
        for r in range(rows):
            if (self.freqs[r, : self.sizes[r]] <= 0).any():
                raise ValueError(f"table row {r} has a zero frequency")
        self._models: list[object | None] = [None] * rows

    @property
    def rows(self) -> int:
        return int(self.freqs.shape[0])

    def model(self, r: int) -> object:
        m = self._models[r]
        if m is None:
            p = self.freqs[r, : self.sizes[r]].astype(np.float64)
            m = self._models[r] = _Categorical(p, perfect=False)
        return m

    def clamp(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``values`` clipped into the support of their rows (int64). The encoder codes these."""
        lo = self.offsets[rows]
        return np.clip(np.asarray(values, dtype=np.int64), lo, lo + self.sizes[rows] - 1)

    def _check_rows(self, rows: np.ndarray) -> np.ndarray:
        r = np.asarray(rows, dtype=np.int64).ravel()
        if r.size and (r.min() < 0 or r.max() >= self.rows):
            raise ValueError("row index outside the table")
        return r


class TableEncoder:
    """Codes groups of symbols under `IndexedTables`; `finish` returns the bytes."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def encode(self, values: np.ndarray, rows: np.ndarray, tables: IndexedTables) -> None:
        """Code ``values`` (ints, any shape, inside their rows' supports) under ``rows``."""
        v = np.asarray(values, dtype=np.int64).ravel()
        r = tables._check_rows(rows)
        if v.shape != r.shape:
            raise ValueError("values and rows differ in size")
        sym = v - tables.offsets[r]
        if v.size and ((sym < 0).any() or (sym >= tables.sizes[r]).any()):
            raise ValueError("value outside its row's support (clamp first)")
        order = np.argsort(r, kind="stable")
        rs, ss = r[order], sym[order].astype(np.int32)
        starts = np.flatnonzero(np.r_[True, rs[1:] != rs[:-1]]) if rs.size else np.zeros(0, int)
        ends = np.r_[starts[1:], rs.size]
        for a, b in zip(starts, ends):
            if tables.sizes[rs[a]] > 1:  # a one-value row costs nothing
                self._enc.encode(np.ascontiguousarray(ss[a:b]), tables.model(int(rs[a])))

    def finish(self) -> bytes:
        self._enc.encode(np.array([CHECK_VALUE], np.int32), _CHECK_MODEL)
        words = np.asarray(self._enc.get_compressed(), dtype=np.uint32)
        return words.astype(">u4").tobytes().rstrip(b"\0")


class TableDecoder:
    """Reads back what `TableEncoder` wrote, given the same rows and tables."""

    def __init__(self, data: bytes) -> None:
        pad = (-len(data)) % 4
        words = np.frombuffer(bytes(data) + b"\0" * (pad + 4), dtype=">u4").astype(np.uint32)
        self._dec = constriction.stream.queue.RangeDecoder(words)

    def decode(self, rows: np.ndarray, tables: IndexedTables, shape: Sequence[int] | None = None) -> np.ndarray:
        """The values (int64) coded under ``rows``, shaped like ``rows`` (or ``shape``)."""
        r = tables._check_rows(rows)
        order = np.argsort(r, kind="stable")
        rs = r[order]
        out = np.empty(r.size, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, rs[1:] != rs[:-1]]) if rs.size else np.zeros(0, int)
        ends = np.r_[starts[1:], rs.size]
        try:
            for a, b in zip(starts, ends):
                row = int(rs[a])
                if tables.sizes[row] == 1:
                    sym = np.zeros(b - a, dtype=np.int64)
                else:
                    sym = np.asarray(self._dec.decode(tables.model(row), int(b - a)), dtype=np.int64)
                out[order[a:b]] = sym + tables.offsets[row]
        except BadStreamError:
            raise
        except Exception as exc:  # constriction reports invalid data with several exception types
            raise BadStreamError(f"corrupted learned background section ({exc.__class__.__name__})") from None
        return out.reshape(tuple(shape) if shape is not None else np.shape(rows))

    def finish(self) -> None:
        """Check the end marker; `BadStreamError` for a truncated or corrupted stream."""
        try:
            ok = int(self._dec.decode(_CHECK_MODEL)) == CHECK_VALUE
        except Exception:  # noqa: BLE001
            ok = False
        if not ok:
            raise BadStreamError("corrupted or truncated learned background section (end marker)")
