"""`picd.entropy`: round trips, golden bytes, tail trimming, corrupt data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from picd.entropy import AdaptiveCategorical, AdaptiveInt, Decoder, Encoder
from picd.errors import BadStreamError


def _write(ints, cats, raw):
    e = Encoder()
    m, c = AdaptiveInt(), AdaptiveCategorical(5)
    for v in ints:
        m.code(e, v)
    for s in cats:
        c.code(e, s)
    for nbits, v in raw:
        e.bits(nbits, v)
    return e


def _read(data, n_ints, n_cats, raw):
    d = Decoder(data)
    m, c = AdaptiveInt(), AdaptiveCategorical(5)
    ints = [m.code(d) for _ in range(n_ints)]
    cats = [c.code(d) for _ in range(n_cats)]
    bits = [(nbits, d.bits(nbits)) for nbits, _ in raw]
    return ints, cats, bits


raw_st = st.integers(0, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, (1 << n) - 1)))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.integers(-3, 3), st.integers(-(2**90), 2**90)), max_size=25),
    st.lists(st.integers(0, 4), max_size=40),
    st.lists(raw_st, max_size=6),
)
@example(ints=[], cats=[], raw=[(65, 0)])  # trailing zeros trimmed below the decoder's budget
@example(ints=[], cats=[0] * 40, raw=[(70, 0), (70, 0)])
def test_round_trip(ints, cats, raw):
    data = _write(ints, cats, raw).finish()
    assert _read(data, len(ints), len(cats), raw) == (ints, cats, raw)
    assert not data.endswith(b"\0")


def test_unsigned_rejects_negative():
    with pytest.raises(ValueError):
        AdaptiveInt(signed=False).code(Encoder(), -1)


def test_bits_reject_overflow():
    with pytest.raises(ValueError):
        Encoder().bits(3, 8)


def test_empty():
    assert Encoder().finish() == b""
    assert Decoder(b"").bits(0) == 0


def test_tail_is_trimmed():
    """The trimmed stream is never longer than the plain word serialisation minus zero bytes."""
    rng = np.random.default_rng(0)
    saved = 0
    for _ in range(30):
        cats = rng.integers(0, 5, size=int(rng.integers(1, 60))).tolist()
        e = _write([], cats, [])
        full = np.asarray(e._enc.get_compressed(), dtype=np.uint32).astype(">u4").tobytes().rstrip(b"\0")
        data = e.finish()
        assert len(data) <= len(full)
        saved += len(full) - len(data)
        assert _read(data, 0, len(cats), [])[1] == cats
    assert saved >= 15  # about one to two bytes per stream


def test_indexed_round_trip():
    tables = np.array([[3, 1, 1, 0], [1, 1, 6, 2], [1, 1, 1, 1]])
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 3, size=(7, 5))
    sym = rng.integers(0, 3, size=(7, 5))
    e = Encoder()
    e.bits(3, 5)
    e.encode_indexed(sym, idx, tables)
    e.bits(4, 9)
    d = Decoder(e.finish())
    assert d.bits(3) == 5
    assert np.array_equal(d.decode_indexed(idx, tables), sym)
    assert d.bits(4) == 9


def test_golden_bytes():
    e = Encoder()
    m, c = AdaptiveInt(), AdaptiveCategorical(4)
    for v in [0, 5, -3, 1 << 40, -1]:
        m.code(e, v)
    for s in [1, 1, 2, 3, 0]:
        c.code(e, s)
    e.bits(20, 0xABCDE)
    e.encode_indexed(np.array([0, 2, 1]), np.array([0, 1, 0]), np.array([[3, 1, 1], [1, 1, 6]]))
    assert e.finish().hex() == "0667ad3081b3befa000d43e5925b2808"


def test_exhausted_decoder_raises():
    d = Decoder(b"\x12")
    with pytest.raises(BadStreamError):
        for _ in range(1 << 19):
            d.bits(16)


def test_bits_with_integer_probabilities_round_trip():
    from picd.entropy import BIT_ONE

    rng = np.random.default_rng(5)
    qs = [int(q) for q in rng.integers(1, BIT_ONE, 500)]
    bits = [int(rng.random() < q / BIT_ONE) for q in qs]
    e = Encoder()
    for q, b in zip(qs, bits):
        e.bit(q, b)
    data = e.finish()
    d = Decoder(data)
    assert [d.bit(q) for q in qs] == bits
    with pytest.raises(ValueError):
        Encoder().bit(0, 1)
    with pytest.raises(ValueError):
        Encoder().bit(BIT_ONE, 0)
