"""Entropy coding: the one module that imports `constriction`.

Everything that becomes bits goes through `Encoder` / `Decoder`, thin wrappers around
constriction's queue (FIFO) range coder with 32-bit words. The byte/word conversion happens here,
once: words are written big-endian and the tail is trimmed to the shortest byte string that still
decodes to the same symbols (the decoder pads missing bytes with zeros), so a stream wastes no
bytes of its last 32-bit word.

Bit-exactness across machines
-----------------------------
Every probability vector handed to constriction is a float64 array of *integers* (counts or
integer mixtures, all < 2**53, hence exact), quantised by constriction's deterministic Rust code
with ``perfect=False`` passed explicitly. Callers must compute those integers with integer
arithmetic only (Python ints or numpy integer arrays), never with float math.

Models
------
- `Encoder.categorical` / `Decoder.categorical`: one symbol under a count vector.
- `AdaptiveCategorical`: counts that adapt (increment, halving at a limit).
- `AdaptiveInt`: integers of unbounded size, signed or not: an adaptive bucket (bit length and
  sign, Elias-gamma-like) followed by raw mantissa bits; bit lengths beyond the adaptive range
  escape to an Elias-gamma code of the bit length.
- `Encoder.bits` / `Decoder.bits`: raw bits (any number).
- `Encoder.bit` / `Decoder.bit`: one binary symbol whose probability of being 1 is
  ``q / BIT_ONE`` with an integer ``q`` in ``1 .. BIT_ONE - 1`` (the models of all ``q`` are built
  once, so context-modelled bit planes cost well under a microsecond per bit).
- `encode_indexed` / `decode_indexed`: arrays of symbols, each under the row ``tables[index]``
  of a table of integer frequencies (e.g. quantised CDFs of a learned entropy model turned into
  per-symbol frequencies), in one call.

The same model object codes on both sides: ``model.code(coder, value)`` encodes ``value`` with an
`Encoder` and returns it, or ignores ``value`` and returns the decoded symbol with a `Decoder`.
``model.copy()`` gives an independent copy, for trying a choice's cost (e.g. under a tally of
ideal code lengths) and throwing it away.
"""

from __future__ import annotations

import math
from functools import lru_cache

import constriction
import numpy as np

from picd.errors import BadStreamError

Categorical = constriction.stream.model.Categorical
Uniform = constriction.stream.model.Uniform
RangeEncoder = constriction.stream.queue.RangeEncoder
RangeDecoder = constriction.stream.queue.RangeDecoder

__all__ = [
    "Encoder",
    "Decoder",
    "Coder",
    "AdaptiveCategorical",
    "AdaptiveInt",
    "encode_indexed",
    "decode_indexed",
    "MAX_RAW_CHUNK",
    "BIT_ONE",
    "bit_info",
    "Tally",
]

MAX_RAW_CHUNK = 16
"""Raw bits are coded in chunks of at most this many bits (uniform models of size 2**k)."""

_RECORD_LIMIT = 1 << 23
"""Floats of probability rows kept for tail trimming; beyond, only zero bytes are trimmed."""


_UNIFORM = {k: Uniform(1 << k) for k in range(1, MAX_RAW_CHUNK + 1)}

BIT_ONE = 1 << 12
"""Probability scale of `Encoder.bit`: P(1) = q / BIT_ONE."""


@lru_cache(maxsize=None)
def _bit_models() -> tuple[Categorical | None, ...]:
    return (None, *(Categorical(np.array([BIT_ONE - q, q], dtype=np.float64), perfect=False)
                    for q in range(1, BIT_ONE)))


def bit_info(q: int, bit: int) -> float:
    """Bits of information in `bit` coded with P(1) = q / BIT_ONE (what `Encoder.bit` costs)."""
    return math.log2(BIT_ONE / (q if bit else BIT_ONE - q))


def _check_q(q: int) -> None:
    if not 0 < q < BIT_ONE:
        raise ValueError(f"bit probability {q} outside 1..{BIT_ONE - 1}")


def _probs(freqs: np.ndarray) -> np.ndarray:
    """Integer frequencies as the exact float64 vector constriction quantises."""
    p = np.asarray(freqs)
    if p.dtype != np.float64:
        p = p.astype(np.float64)
    return p


def _model(freqs: np.ndarray) -> Categorical:
    return Categorical(_probs(freqs), perfect=False)


class Encoder:
    """Collects symbols; `finish` returns the shortest byte string that decodes to them."""

    decoding = False

    def __init__(self) -> None:
        self._enc = RangeEncoder()
        # (kind, symbol, param) per coded symbol, replayed to validate the trimmed tail.
        self._ops: list[tuple[int, object, object]] = []
        self._recorded = 0
        self._info = 0.0  # bits of information coded, tallied as the decoder tallies them

    def _record(self, kind: int, symbol: object, param: object, size: int) -> None:
        if self._ops is not None:
            self._recorded += size
            if self._recorded > _RECORD_LIMIT:
                self._ops = None  # type: ignore[assignment]
            else:
                self._ops.append((kind, symbol, param))

    def categorical(self, freqs: np.ndarray, symbol: int | None = None) -> int:
        """Encode ``symbol`` (index into ``freqs``, integer frequencies, not all zero)."""
        p = np.array(freqs, dtype=np.float64)  # a copy: the tail check replays it later
        if not 0 <= symbol < len(p):  # type: ignore[operator]
            raise ValueError(f"symbol {symbol} outside alphabet of {len(p)}")
        self._enc.encode(int(symbol), Categorical(p, perfect=False))  # type: ignore[arg-type]
        self._info += _categorical_info(p, int(symbol))  # type: ignore[arg-type]
        self._record(0, int(symbol), p, len(p))  # type: ignore[arg-type]
        return int(symbol)  # type: ignore[arg-type]

    def bits(self, nbits: int, value: int | None = None) -> int:
        """Encode the ``nbits`` low bits of the non-negative int ``value`` (most significant first)."""
        if value is None or value < 0 or value >> nbits:
            raise ValueError(f"{value!r} does not fit in {nbits} bits")
        rest = nbits
        while rest > 0:
            k = min(rest, MAX_RAW_CHUNK)
            rest -= k
            chunk = (value >> rest) & ((1 << k) - 1)
            self._enc.encode(chunk, _UNIFORM[k])
            self._info += k
            self._record(1, chunk, k, 1)
        return value

    def bit(self, q: int, bit: int | None = None) -> int:
        """Encode ``bit`` (0 or 1), which is 1 with probability ``q / BIT_ONE``."""
        _check_q(q)
        b = 1 if bit else 0
        self._enc.encode(b, _bit_models()[q])
        self._info += bit_info(q, b)
        self._record(3, b, q, 1)
        return b

    def encode_indexed(self, symbols: np.ndarray, indexes: np.ndarray, tables: np.ndarray) -> None:
        """Encode ``symbols[i]`` under the frequency row ``tables[indexes[i]]``, for all i."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32).ravel()
        rows = _probs(np.asarray(tables)[np.asarray(indexes).ravel()])
        if symbols.size == 0:
            return
        if rows.ndim != 2 or symbols.min() < 0 or symbols.max() >= rows.shape[1]:
            raise ValueError("symbols outside the tables' alphabet")
        rows = np.ascontiguousarray(rows)
        self._enc.encode(symbols, Categorical(perfect=False), rows)
        self._info += _indexed_info(rows, symbols)
        self._record(2, symbols, rows, rows.size)  # type: ignore[arg-type]

    def finish(self) -> bytes:
        """The coded bytes (may be empty). The encoder must not be used afterwards."""
        words = np.asarray(self._enc.get_compressed(), dtype=np.uint32)
        data = words.astype(">u4").tobytes().rstrip(b"\0")
        if self._ops is not None and data:
            groups = self._groups()
            data = next((c for c in _tail_candidates(data) if _replays(c, groups)), data)
        # Trimming trailing zero bytes can leave fewer bytes than the decoder's truncation check
        # allows for the information coded (a run of zero symbols at the end). Lengthen the
        # stream to what the check needs, ending in a non-zero byte that still decodes the same
        # symbols (replayed); zeros, which the decoder reads past the end anyway, as a fallback.
        need = len(data)
        while _budget_bits(need) < self._info + 1.0:
            need += 1
        if need > len(data):
            groups = self._groups() if self._ops is not None else None
            # a non-zero last byte can only come after the zero bytes that carry the coded bits
            for extra in range(need, max(need, int(self._info // 8)) + 9):
                for last in (1, 0x80, 0xFF):
                    cand = data + b"\0" * (extra - len(data) - 1) + bytes([last])
                    if groups is not None and _replays(cand, groups):
                        return cand
            data += b"\0" * (need - len(data))
        return data

    def _groups(self) -> list[tuple[int, object, object]]:
        """The recorded symbols, runs of same-sized categorical rows merged into one batch."""
        out: list[tuple[int, object, object]] = []
        run_s: list[int] = []
        run_p: list[np.ndarray] = []

        def flush() -> None:
            if run_s:
                out.append((2, np.array(run_s, dtype=np.int32), np.stack(run_p)))
                run_s.clear()
                run_p.clear()

        for kind, symbol, param in self._ops:
            if kind == 0:
                if run_p and len(run_p[0]) != len(param):  # type: ignore[arg-type]
                    flush()
                run_s.append(symbol)
                run_p.append(param)  # type: ignore[arg-type]
            else:
                flush()
                out.append((kind, symbol, param))
        flush()
        return out


def _replays(data: bytes, groups: list[tuple[int, object, object]]) -> bool:
    """Whether ``data`` decodes to the recorded symbols."""
    dec = RangeDecoder(_words(data))
    try:
        for kind, symbol, param in groups:
            if kind == 1:
                if dec.decode(_UNIFORM[param]) != symbol:
                    return False
            elif kind == 3:
                if dec.decode(_bit_models()[param]) != symbol:
                    return False
            else:
                if not np.array_equal(dec.decode(Categorical(perfect=False), param), symbol):
                    return False
    except Exception:  # noqa: BLE001 - any failure means the candidate is invalid
        return False
    return True


def _tail_candidates(data: bytes) -> list[bytes]:
    """Shorter variants of ``data`` (truncated, or truncated and rounded up), shortest first."""
    out: list[bytes] = []
    n = len(data)
    for keep in range(max(0, n - 5), n):
        head = data[:keep]
        out.append(head.rstrip(b"\0"))
        if keep:
            v = int.from_bytes(head, "big") + 1
            if v < 1 << (8 * keep):
                out.append(v.to_bytes(keep, "big").rstrip(b"\0"))
        else:
            out.append(b"\x01")
    out = sorted(set(c for c in out if len(c) < n), key=lambda c: (len(c), c))
    return out


def _budget_bits(n_bytes: int) -> float:
    """Information a stream of ``n_bytes`` may carry before the decoder calls it truncated."""
    return 8.0 * n_bytes * 1.01 + 64.0


def _categorical_info(p: np.ndarray, s: int) -> float:
    return min(24.0, math.log2(float(p.sum()) / max(float(p[s]), 1e-300)))


def _indexed_info(rows: np.ndarray, symbols: np.ndarray) -> float:
    p = rows[np.arange(len(symbols)), symbols] / rows.sum(axis=1)
    return float(np.minimum(24.0, -np.log2(np.maximum(p, 1e-300))).sum())


def _words(data: bytes) -> np.ndarray:
    pad = (-len(data)) % 4
    return np.frombuffer(bytes(data) + b"\0" * pad, dtype=">u4").astype(np.uint32)


class Tally:
    """A stand-in for `Encoder` that only adds up ideal code lengths (``total``, in bits): for
    choosing between ways of coding before coding one of them. A finished stream is at most a
    few bytes longer than ``total / 8``."""

    decoding = False

    def __init__(self) -> None:
        self.total = 0.0
        self._cost0, self._cost1 = _bit_costs()

    def bit(self, q: int, bit: int | None = None) -> int:
        self.total += self._cost1[q] if bit else self._cost0[q]
        return 1 if bit else 0

    def bits(self, nbits: int, value: int | None = None) -> int:
        self.total += nbits
        return int(value)  # type: ignore[arg-type]

    def categorical(self, freqs: np.ndarray, symbol: int | None = None) -> int:
        self.total += math.log2(float(np.sum(freqs)) / float(freqs[symbol]))  # type: ignore[index]
        return int(symbol)  # type: ignore[arg-type]


@lru_cache(maxsize=None)
def _bit_costs() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Bits of a 0 and of a 1 coded with P(1) = q / BIT_ONE, indexed by q."""
    return (tuple([0.0] + [bit_info(q, 0) for q in range(1, BIT_ONE)]),
            tuple([0.0] + [bit_info(q, 1) for q in range(1, BIT_ONE)]))


class Decoder:
    """Reads symbols back in the order the `Encoder` wrote them.

    Past the end of the data the range decoder reads zeros. The decoder keeps a tally of the
    information it has decoded (at most 24 bits per symbol, as constriction's probabilities are
    at least 2**-24); a tally well beyond the data's length means truncated or corrupted data and
    raises `BadStreamError`.
    """

    decoding = True

    def __init__(self, data: bytes) -> None:
        self._dec = RangeDecoder(_words(data))
        self._spent = 0.0
        self._budget = _budget_bits(len(data))

    def _decode(self, *args: object) -> object:
        try:
            return self._dec.decode(*args)
        except (AssertionError, ValueError, RuntimeError) as exc:  # constriction's invalid data
            raise BadStreamError(f"corrupt entropy-coded data: {exc}") from exc

    def _spend(self, bits: float) -> None:
        self._spent += bits
        if self._spent > self._budget:
            raise BadStreamError("coded data ends too early (truncated or corrupted)")

    def categorical(self, freqs: np.ndarray, symbol: int | None = None) -> int:
        """Decode one symbol under integer frequencies ``freqs`` (``symbol`` is ignored)."""
        p = _probs(freqs)
        s = int(self._decode(Categorical(p, perfect=False)))  # type: ignore[call-overload]
        self._spend(_categorical_info(p, s))
        return s

    def bits(self, nbits: int, value: int | None = None) -> int:
        """Decode ``nbits`` raw bits as a non-negative int (``value`` is ignored)."""
        out = 0
        rest = nbits
        while rest > 0:
            k = min(rest, MAX_RAW_CHUNK)
            rest -= k
            out = (out << k) | int(self._decode(_UNIFORM[k]))  # type: ignore[call-overload]
            self._spend(k)
        return out

    def bit(self, q: int, bit: int | None = None) -> int:
        """Decode one bit coded with probability ``q / BIT_ONE`` of a 1 (``bit`` is ignored)."""
        _check_q(q)
        b = int(self._decode(_bit_models()[q]))  # type: ignore[call-overload]
        self._spend(bit_info(q, b))
        return b

    def decode_indexed(self, indexes: np.ndarray, tables: np.ndarray) -> np.ndarray:
        """Inverse of `Encoder.encode_indexed`: int32 symbols, shaped like ``indexes``."""
        idx = np.asarray(indexes)
        if idx.size == 0:
            return np.zeros(idx.shape, dtype=np.int32)
        rows = np.ascontiguousarray(_probs(np.asarray(tables)[idx.ravel()]))
        out = np.asarray(self._decode(Categorical(perfect=False), rows), dtype=np.int32)
        self._spend(_indexed_info(rows, out))
        return out.reshape(idx.shape)


Coder = Encoder | Decoder


def encode_indexed(enc: Encoder, symbols: np.ndarray, indexes: np.ndarray, tables: np.ndarray) -> None:
    """Encode an array of symbols, each under the integer frequency row ``tables[index]``."""
    enc.encode_indexed(symbols, indexes, tables)


def decode_indexed(dec: Decoder, indexes: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """Decode the symbols written by `encode_indexed` with the same ``indexes`` and ``tables``."""
    return dec.decode_indexed(indexes, tables)


class AdaptiveCategorical:
    """Counts over ``n`` symbols that follow the data.

    Each coded symbol adds ``inc`` to its count; when the total exceeds ``limit`` all counts are
    halved (rounding up, so no symbol ever reaches zero). Initial counts default to 1 each.
    """

    def __init__(self, n: int, inc: int = 24, limit: int = 1 << 13, init: np.ndarray | None = None) -> None:
        self.counts = np.ones(n, dtype=np.int64) if init is None else np.array(init, dtype=np.int64)
        if self.counts.ndim != 1 or self.counts.size < 2 or (self.counts <= 0).any():
            raise ValueError("need at least two positive initial counts")
        self.inc = inc
        self.limit = limit
        self.total = int(self.counts.sum())

    def copy(self) -> AdaptiveCategorical:
        """An independent copy (coding with one leaves the other as it is)."""
        c = AdaptiveCategorical.__new__(AdaptiveCategorical)
        c.__dict__.update(self.__dict__)
        c.counts = self.counts.copy()
        return c

    def update(self, symbol: int) -> None:
        self.counts[symbol] += self.inc
        self.total += self.inc
        if self.total > self.limit:
            self.counts = (self.counts + 1) >> 1
            self.total = int(self.counts.sum())

    def code(self, coder: Coder, symbol: int | None = None) -> int:
        """Encode ``symbol`` (encoder) or decode one (decoder); the model adapts either way."""
        s = coder.categorical(self.counts, symbol)
        self.update(s)
        return s


class AdaptiveInt:
    """Integers of any size: adaptive bucket + raw mantissa bits.

    Bucket of ``v``: 0 for ``v == 0``; otherwise from the bit length ``k`` of ``|v|`` (and the sign
    when ``signed``): ``k`` (unsigned) or ``2k - 1 + (v < 0)`` (signed). Bit lengths up to
    ``max_bits`` have their own bucket; longer ones share an escape bucket followed by an
    Elias-gamma code of ``k - max_bits``. The ``k - 1`` bits below the leading one follow raw.
    """

    def __init__(self, signed: bool = True, max_bits: int = 24, inc: int = 24, limit: int = 1 << 13) -> None:
        self.signed = signed
        self.max_bits = max_bits
        nb = (2 * max_bits if signed else max_bits) + 2
        init = np.ones(nb, dtype=np.int64)
        # A mild prior favouring short values, so the first few values are cheap.
        init[: min(nb, 8)] = 4
        self.buckets = AdaptiveCategorical(nb, inc=inc, limit=limit, init=init)
        self._escape = nb - 1

    def copy(self) -> AdaptiveInt:
        """An independent copy (coding with one leaves the other as it is)."""
        c = AdaptiveInt.__new__(AdaptiveInt)
        c.__dict__.update(self.__dict__)
        c.buckets = self.buckets.copy()
        return c

    def code(self, coder: Coder, value: int | None = None) -> int:
        """Encode ``value`` (encoder) or decode one (decoder)."""
        if not coder.decoding:
            v = int(value)  # type: ignore[arg-type]
            if v < 0 and not self.signed:
                raise ValueError(f"negative value {v} for an unsigned model")
            a = abs(v)
            k = a.bit_length()
            neg = v < 0
            if k == 0:
                b = 0
            elif k <= self.max_bits:
                b = 2 * k - 1 + neg if self.signed else k
            else:
                b = self._escape
            self.buckets.code(coder, b)
            if b == self._escape:
                _gamma(coder, k - self.max_bits)
                if self.signed:
                    coder.bits(1, int(neg))
            if k > 1:
                coder.bits(k - 1, a - (1 << (k - 1)))
            return v
        b = self.buckets.code(coder)
        if b == 0:
            return 0
        if b == self._escape:
            k = self.max_bits + _gamma(coder)
            neg = bool(coder.bits(1)) if self.signed else False
        elif self.signed:
            k, neg = (b + 1) >> 1, not (b & 1)
        else:
            k, neg = b, False
        a = (1 << (k - 1)) | (coder.bits(k - 1) if k > 1 else 0)
        return -a if neg else a


def _gamma(coder: Coder, n: int | None = None) -> int:
    """Elias-gamma code of an int ``n >= 1`` in raw bits (unary part one bit per symbol, as the
    decoder reads it: raw chunks must be decoded with the sizes they were encoded with)."""
    if not coder.decoding:
        k = n.bit_length()  # type: ignore[union-attr]
        for _ in range(k - 1):
            coder.bits(1, 0)
        coder.bits(1, 1)
        coder.bits(k - 1, n - (1 << (k - 1)))  # type: ignore[operator]
        return n  # type: ignore[return-value]
    zeros = 0
    while not coder.bits(1):
        zeros += 1
        if zeros > 4096:
            raise BadStreamError("corrupt integer code")
    return (1 << zeros) | coder.bits(zeros)
