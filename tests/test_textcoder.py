"""`layout.textcoder`: exact round trips, golden bytes, corrupt data, cost accounting."""

from __future__ import annotations

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layout.model import Line, Style, TextLayer, Word
from layout.textcoder import decode_layer, encode_layer, layer_cost
from picd.errors import BadStreamError

SMALL = TextLayer(640, 480, (
    Line(40, Style(0, 16, (0, 0, 0)), (Word("Hello,", 10, 48), Word("world!", 64, 50))),
    Line(62, Style(1, 12, (200, 30, 30)), (Word("Größe", 10, 40), Word("日本", 55, 24))),
))

PROSE = (
    "The quick brown fox jumps over the lazy dog. In this paper we describe a method for "
    "compressing screenshots and document pages at very low bit rates, where the text is coded "
    "losslessly and the background is coded with a learned image codec. The results show that "
    "the text layer costs only a small fraction of the total size of the file."
)


def _prose_layer() -> TextLayer:
    lines, words, x, y = [], [], 20, 30
    for w in PROSE.split():
        width = 7 * len(w)
        if x + width > 500:
            lines.append(Line(y, Style(0, 14, (0, 0, 0)), tuple(words)))
            words, x, y = [], 20, y + 18
        words.append(Word(w, x, width))
        x += width + 4
    lines.append(Line(y, Style(0, 14, (0, 0, 0)), tuple(words)))
    return TextLayer(600, 400, tuple(lines))


word_text = st.text(
    st.characters(blacklist_characters=" \n", blacklist_categories=("Cs",)), min_size=1, max_size=8
)
ints = st.one_of(st.integers(-50, 2000), st.integers(-(2**70), 2**70))
style_st = st.builds(Style, st.integers(0, 20) | ints, st.integers(1, 200) | ints,
                     st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)) | st.tuples(ints, ints, ints))
line_st = st.builds(Line, ints, style_st, st.lists(st.builds(Word, word_text, ints, ints), max_size=6).map(tuple))


@settings(max_examples=120, deadline=None)
@given(st.lists(line_st, max_size=6).map(tuple))
def test_round_trip_random(lines):
    layer = TextLayer(321, 123, lines)
    assert decode_layer(encode_layer(layer), 321, 123) == layer


def test_round_trip_small_and_golden():
    data = encode_layer(SMALL)
    assert data.hex() == "3169d6879bec84997bc2290aaab6ae35a66257cb25e4edde40472193fa27b04c631253ffd5d2e6fb54"
    assert decode_layer(data, 640, 480) == SMALL


def test_empty_layer():
    assert len(encode_layer(TextLayer(10, 10))) <= 1
    assert decode_layer(encode_layer(TextLayer(10, 10)), 10, 10) == TextLayer(10, 10)
    assert decode_layer(b"", 7, 9) == TextLayer(7, 9)


def test_empty_lines_round_trip():
    layer = TextLayer(50, 50, (Line(5, Style(0, 9, (1, 2, 3)), ()), Line(-4, Style(0, 9, (1, 2, 3)), ())))
    assert decode_layer(encode_layer(layer), 50, 50) == layer


@pytest.mark.parametrize("bad", ["", "a b", "a\nb"])
def test_rejects_bad_words(bad):
    layer = TextLayer(50, 50, (Line(5, Style(0, 9, (0, 0, 0)), (Word(bad, 0, 5),)),))
    with pytest.raises(ValueError):
        encode_layer(layer)


def test_beats_brotli_on_prose():
    layer = _prose_layer()
    cost = layer_cost(layer)
    assert cost["n_chars"] == layer.n_chars and cost["n_lines"] == len(layer.lines)
    assert cost["char_bits"] + cost["layout_bits"] == 8 * len(encode_layer(layer))
    assert cost["char_bits"] < 8 * len(brotli.compress(layer.text.encode(), quality=11))


def test_truncated_raises():
    layer = _prose_layer()
    data = encode_layer(layer)
    for cut in (1, 2, len(data) // 2, len(data) - 3):
        try:
            out = decode_layer(data[:cut], layer.width, layer.height)
        except BadStreamError:
            continue
        assert out != layer


def test_corrupted_raises_or_differs():
    layer = _prose_layer()
    data = bytearray(encode_layer(layer))
    for i in (0, 3, len(data) // 2):
        bad = bytearray(data)
        bad[i] ^= 0x5A
        try:
            out = decode_layer(bytes(bad), layer.width, layer.height)
        except BadStreamError:
            continue
        assert out != layer


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_decode_or_raise(data):
    try:
        layer = decode_layer(data, 10, 10)
    except BadStreamError:
        return
    assert isinstance(layer, TextLayer)
