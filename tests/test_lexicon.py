"""The word list behind the misreading check's second opinion (`layout.lexicon`)."""

import gzip

from layout import build_lexicon
from layout.lexicon import WORDS_PATH, known


def test_words_and_numbers_are_known_with_their_punctuation():
    for text in ["the", "The", "THE", "whaling:", "(console)", "century.", "world's",
                 "whale-watchers,", "and/or", "260,000", "1.5", "12:47", "±20,000", "30-40,000",
                 "$11.782", "100%", "don’t", "well—known"]:
        assert known(text), text


def test_misreadings_and_mixtures_are_not_known():
    for text in ["Ihe", "thib", "forzy", "T950", "R60,000", "2O79", "x966.", "MSCl", "--", "",
                 "1930's", "whale-wxtchers", "12::47", "hIstory", "MIcrosoft"]:
        assert not known(text), text


def test_the_build_keeps_plain_words_only_and_is_reproducible():
    lines = ["Whale", "whale", "whale's", "'tis", "café", "e-mail", "x2", "", "Zoë"]
    data = build_lexicon.build(lines)
    assert data == build_lexicon.build(list(reversed(lines)))  # sorted
    assert data[4:8] == b"\0\0\0\0"  # gzip's timestamp: none
    assert gzip.decompress(data).decode().split() == ["café", "whale", "whale's", "zoë"]


def test_the_shipped_list_is_a_real_dictionary():
    words = gzip.decompress(WORDS_PATH.read_bytes()).decode().split()
    assert len(words) > 90_000
    assert words == sorted(words)
    assert {"the", "forty", "microsoft", "whales"} <= set(words)
