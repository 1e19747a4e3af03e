"""The one data model for the text layer.

Everything that is redrawn on decode is described here, and nothing else: the text coder
(`layout.textcoder`) codes exactly these fields, and the renderer draws exactly these fields.

Coordinates
-----------
All positions are integer pixels of the coded image, origin at the top-left corner, x to the
right, y downwards. A page is a list of lines; a line has one style and a baseline; a line is a
list of words, each with its own left edge and advance width, so that a redrawn word sits where
the original did even when the spacing between words is irregular.

A word is drawn with the line's font at the line's size, its baseline on the line's baseline,
starting at ``x`` and horizontally scaled so that its advance spans ``width`` pixels
(see `layout.raster`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Style:
    """How a line is drawn.

    Attributes:
        font: id into `layout.fonts.FONTS` (append-only table; ids never change meaning).
        size: font em size in pixels (>= 1).
        color: text colour, sRGB 0..255.
    """

    font: int
    size: int
    color: RGB


@dataclass(frozen=True)
class Word:
    """One word: a run of non-space characters.

    Attributes:
        text: the characters, NFC-normalised, without white space.
        x: left edge of the word's advance box in pixels.
        width: advance width in pixels that the redrawn word is fitted to (>= 1).
    """

    text: str
    x: int
    width: int


@dataclass(frozen=True)
class Line:
    """A run of words on one baseline, in reading order (left to right)."""

    baseline: int
    style: Style
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class TextLayer:
    """The whole text layer of one image (lines in reading order, top to bottom)."""

    width: int
    height: int
    lines: tuple[Line, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def n_chars(self) -> int:
        return sum(len(w.text) for line in self.lines for w in line.words)

    @property
    def n_words(self) -> int:
        return sum(len(line.words) for line in self.lines)
