import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picd import container as ct
from picd.errors import BadStreamError

sections = st.lists(
    st.builds(ct.Section, st.integers(1, 300), st.integers(0, 300), st.binary(max_size=300)), max_size=4
)


@given(st.integers(1, ct.MAX_SIDE), st.integers(1, ct.MAX_SIDE), st.sampled_from(list(ct.Mode)), sections)
def test_round_trip(w, h, mode, secs):
    c = ct.Container(w, h, mode, tuple(secs))
    assert ct.unpack(ct.pack(c)) == c


def test_fixed_overhead_is_small():
    c = ct.Container(1280, 720, ct.Mode.SCREEN, (ct.Section(1, 1, b"x" * 100), ct.Section(2, 1, b"y" * 100)))
    data = ct.pack(c)
    assert len(data) - 200 == 19 == ct.overhead(2, 1280, 720)


def test_golden_header():
    data = ct.pack(ct.Container(300, 2, ct.Mode.DOCUMENT, (ct.Section(2, 1, b"\x00\x01\x02\x03"),)))
    assert data[:-4] == bytes.fromhex("504344" "01" "ac02" "02" "02" "02" "01" "04" "00010203")
    assert data[-4:] == struct.pack(">I", zlib.crc32(data[:-4]))


@settings(max_examples=60)
@given(st.data())
def test_any_truncation_or_bit_flip_is_refused(data):
    good = ct.pack(ct.Container(640, 480, ct.Mode.SCREEN, (ct.Section(1, 1, b"hello" * 10), ct.Section(2, 1, b"bg" * 30))))
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(good) - 1))
        bad = good[:cut]
    else:
        i = data.draw(st.integers(0, len(good) - 1))
        bit = data.draw(st.integers(0, 7))
        bad = bytearray(good)
        bad[i] ^= 1 << bit
        bad = bytes(bad)
    with pytest.raises(BadStreamError):
        ct.unpack(bad)


def test_wrong_magic_and_version_named():
    good = ct.pack(ct.Container(8, 8, ct.Mode.NATURAL, (ct.Section(2, 1, b"\x00abc"),)))
    with pytest.raises(BadStreamError, match="magic"):
        ct.unpack(b"\x89PNG" + good[4:])
    bad = bytearray(good)
    bad[3] = 9
    body = bytes(bad[:-4])
    with pytest.raises(BadStreamError, match="version 9"):
        ct.unpack(body + struct.pack(">I", zlib.crc32(body)))


def test_varint_boundaries():
    for v in (0, 127, 128, 16383, 16384, 2**40):
        enc = ct.write_varint(v)
        assert ct.read_varint(enc, 0, len(enc)) == (v, len(enc))
    with pytest.raises(BadStreamError):
        ct.read_varint(b"\x80\x80", 0, 2)
