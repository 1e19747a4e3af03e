"""Text engines behind one small interface.

An engine turns a page image into lines of words with boxes, text and confidence. Boxes are
integer pixels of the image, origin top-left, ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive.
Engines that know more (the PDF text layer) also fill in the style hints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class OcrWord:
    """A recognised word.

    Attributes:
        text: the word, without white space.
        box: tight box of the word in pixels, ``(x0, y0, x1, y1)``, exclusive ends.
        confidence: 0..1 (1.0 for an exact text layer).
        font: font name as the source names it (PDF engine), else None.
        size: font em size in pixels (PDF engine), else None.
        color: text colour (PDF engine), else None.
        bold, italic, mono: style flags where the source knows them (PDF engine).
        baseline: y of the baseline in pixels where the source knows it, else None.
        pen: ``(start, end)`` x of the pen in pixels where the source knows it (PDF engine: the
            first character's origin and the origin of the space after the word), else None.
    """

    text: str
    box: Box
    confidence: float = 1.0
    font: str | None = None
    size: float | None = None
    color: tuple[int, int, int] | None = None
    bold: bool = False
    italic: bool = False
    mono: bool = False
    baseline: float | None = None
    pen: tuple[float, float] | None = None


@dataclass(frozen=True)
class OcrLine:
    """Words that the engine found on one text line, left to right."""

    words: tuple[OcrWord, ...]

    @property
    def box(self) -> Box:
        xs0, ys0, xs1, ys1 = zip(*(w.box for w in self.words))
        return (min(xs0), min(ys0), max(xs1), max(ys1))

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


class OcrEngine(ABC):
    """Recognises the text of an RGB page image (H x W x 3, uint8)."""

    name: str = "base"

    @abstractmethod
    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        """Lines in reading order (top to bottom, then left to right)."""

    def read_lines(self, image: np.ndarray, boxes: list[Box]) -> list[str]:
        """Recognition only: the text inside each box, read as one line (``""`` where nothing is
        read). Engines without a separate recogniser do not offer it."""
        raise NotImplementedError(f"the {self.name} engine cannot read given boxes")


class GivenLinesEngine(OcrEngine):
    """Returns lines recognised before, whatever the image: lets an OCR result be computed once
    (and cached) and then fed to `picd.api.analyse` or `layout.analyze.build_layer` callers."""

    name = "given"

    def __init__(self, lines: list[OcrLine]) -> None:
        self.lines = list(lines)

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        return list(self.lines)


class NullOcrEngine(OcrEngine):
    """Finds no text: natural mode, and the baseline in tests."""

    name = "none"

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        return []


def lines_text(lines: list[OcrLine]) -> str:
    """The plain text of recognised lines, one line per row."""
    return "\n".join(line.text for line in lines)
