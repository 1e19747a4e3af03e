"""Is a string a known English word or a number? (the misreading check's second opinion)

`known` answers from the shipped word list `layout/data/words.txt.gz` (SCOWL's American English
list, about 100,000 words, lower-cased; built by `layout/build_lexicon.py`, licence in
`layout/data/WORDS-LICENSE.txt`). A word is judged without the punctuation around it
(``whaling:``, ``(console)``, ``century.``), in lower case, upper case or with a capital first
letter alike (``hIstory`` is no word); typographic apostrophes count as ``'`` (``don’t``);
parts joined by ``-``, ``/`` or a dash are judged one by one (``whale-watchers``, ``and/or``,
``30-40,000``); a number is digits with single ``.``, ``,`` or ``:`` between groups
(``260,000``, ``12:47``, ``1.5``), with an optional sign, currency or ``%`` around it.

The misreading check of `layout.analyze` lets a character be when OCR's word is known, the
readings that the better-fitting alternative glyphs make are not (``the`` against ``Ihe``,
``1950`` against ``T950``) and they fit only a little better (`LayoutConfig.alt_lexicon`): our
faces fit a small or foreign glyph badly, and a non-word is then the worse explanation of the
pixels. It cannot help where both readings are words (``bat`` and ``hat``), nor for other
languages, where the check decides alone.
"""

from __future__ import annotations

import functools
import gzip
import pathlib
import re
import unicodedata

__all__ = ["known", "WORDS_PATH"]

WORDS_PATH = pathlib.Path(__file__).with_name("data") / "words.txt.gz"

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_PARTS = re.compile(r"[-/\u2010\u2013\u2014]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@functools.lru_cache(maxsize=1)
def _words() -> frozenset[str]:
    return frozenset(gzip.decompress(WORDS_PATH.read_bytes()).decode("utf-8").split("\n")) - {""}


def _strip(s: str) -> str:
    """``s`` without leading and trailing characters that are not letters or digits."""
    i, j = 0, len(s)
    while i < j and not s[i].isalnum():
        i += 1
    while j > i and not s[j - 1].isalnum():
        j -= 1
    return s[i:j]


def _known_part(p: str) -> bool:
    if _NUMBER.fullmatch(p):
        return True
    if not p.replace("'", "").isalpha():
        return False
    if not (p.islower() or p.isupper() or (p[0].isupper() and p[1:].islower())):
        return False  # "hIstory", "MIcrosoft": no word is written so
    w = p.lower()
    return w in _words() or (w.endswith("'s") and w[:-2] in _words())


def known(text: str) -> bool:
    """Whether ``text`` (one word as OCR reads it) is a known English word or a number."""
    core = _strip(unicodedata.normalize("NFKC", text).translate(_APOSTROPHES))
    if not core:
        return False
    # `core` starts with a letter or digit, so its first part is never empty.
    return all(_known_part(p) for p in map(_strip, _PARTS.split(core)) if p)
