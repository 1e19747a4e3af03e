"""PDF pages: the rendered page and its exact text layer, with PyMuPDF.

Text comes from ``page.get_text("rawdict")``: characters with their boxes and origins, grouped by
MuPDF into lines of style runs (spans). MuPDF reports positions in the unrotated page, relative
to the crop box, in points; `page.rotation_matrix` then ``dpi / 72`` map them onto the pixels of
the rendered page. Words are runs of characters split at white space and at gaps wider than a
quarter em. Lines that do not run left to right on the rendered page (vertical or rotated text)
and invisible text (OCR layers of scans, render mode 3) are skipped: they stay in the background.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from dataclasses import replace

import numpy as np
import pymupdf

from ocr.base import OcrLine, OcrWord
from ocr.rapid import reading_order
from picd.errors import BadInputError

# Characters whose neighbours are further apart than this many ems are in different words.
_WORD_GAP_EM = 0.25

# Span "char_flags" (MuPDF's FZ_STEXT_* bits): how the glyphs are painted.
_FILLED = pymupdf.mupdf.FZ_STEXT_FILLED
_STROKED = pymupdf.mupdf.FZ_STEXT_STROKED
_CLIPPED = pymupdf.mupdf.FZ_STEXT_CLIPPED

# Ligatures are split into their letters (the redrawn text uses other fonts). Glyph boxes are
# the glyphs' ink vertically (not the font-wide ascender/descender box) but still the advance
# horizontally (TEXT_ACCURATE_SIDE_BEARINGS returns broken boxes in PyMuPDF 2.0): `_tighten`
# trims the side bearings on the rendered pixels.
_TEXT_FLAGS = (
    pymupdf.TEXT_PRESERVE_WHITESPACE
    | pymupdf.TEXT_MEDIABOX_CLIP
    | pymupdf.TEXT_ACCURATE_BBOXES
)


def open_pdf(path: str | os.PathLike) -> pymupdf.Document:
    """Open a PDF, or raise `BadInputError` if it is not a readable, unencrypted, non-empty PDF."""
    name = os.fspath(path)
    try:
        doc = pymupdf.open(name, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises several types (FileDataError, RuntimeError, ...)
        raise BadInputError(f"{name}: not a readable PDF ({_one_line(exc)})") from None
    if doc.needs_pass:
        doc.close()
        raise BadInputError(f"{name}: the PDF is encrypted and needs a password")
    if not doc.is_pdf:
        doc.close()
        raise BadInputError(f"{name}: not a PDF")
    if doc.page_count < 1:
        doc.close()
        raise BadInputError(f"{name}: the PDF has no pages")
    return doc


def page_count(path: str | os.PathLike) -> int:
    """Number of pages of the PDF at ``path``."""
    with open_pdf(path) as doc:
        return doc.page_count


def render_page(path: str | os.PathLike, page_index: int, dpi: float) -> tuple[np.ndarray, list[OcrLine]]:
    """Render page ``page_index`` (0-based) at ``dpi`` and read its text layer.

    Returns:
        The page as RGB uint8 (H, W, 3), and its text as lines of words in reading order with
        boxes in the pixels of that image, font name, size (px), colour, bold/italic/mono flags
        and baseline; an empty list when the page has no (visible, horizontal) text.
    """
    if not dpi > 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    with open_pdf(path) as doc:
        if not 0 <= page_index < doc.page_count:
            raise BadInputError(
                f"{os.fspath(path)}: no page {page_index + 1}; the PDF has {doc.page_count} page(s)"
            )
        try:
            page = doc[page_index]
            zoom = dpi / 72.0
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, colorspace=pymupdf.csRGB)
            image = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.stride)[:, : pix.w * 3]
            image = np.ascontiguousarray(image.reshape(pix.h, pix.w, 3))
            raw = page.get_text("rawdict", flags=_TEXT_FLAGS)
            to_pixels = page.rotation_matrix * pymupdf.Matrix(zoom, zoom)
        except BadInputError:
            raise
        except Exception as exc:
            raise BadInputError(f"{os.fspath(path)}: cannot render page {page_index + 1} ({_one_line(exc)})") from None
    lines = _text_lines(raw, to_pixels, image.shape[1], image.shape[0])
    return image, [_tighten(image, line) for line in lines]


def _tighten(image: np.ndarray, line: OcrLine) -> OcrLine:
    """Trim each word box horizontally to the columns that hold pixels of the word's colour."""
    words = []
    for word in line.words:
        x0, y0, x1, y1 = word.box
        patch = image[y0:y1, x0:x1].astype(np.float32)
        color = np.array(word.color if word.color is not None else (0, 0, 0), np.float32)
        background = np.median(patch.reshape(-1, 3), axis=0)
        towards = color - background
        if np.abs(towards).max() >= 48:
            # coverage of each pixel by the text colour over the background, 0..1
            alpha = (patch - background) @ towards / float(towards @ towards)
            cols = np.flatnonzero((alpha > 0.15).any(axis=0))
            if cols.size:
                word = replace(word, box=(x0 + int(cols[0]), y0, x0 + int(cols[-1]) + 1, y1))
        words.append(word)
    return OcrLine(words=tuple(words))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _is_hidden(span: dict) -> bool:
    if span.get("font", "").split("+")[-1] == "GlyphLessFont" or span.get("alpha", 255) == 0:
        return True
    flags = span.get("char_flags", _FILLED)
    return not flags & (_FILLED | _STROKED) or bool(flags & _CLIPPED)


def _clean_char(c: str) -> str:
    """The character NFC-normalised, or '' for control/format characters; white space -> ' '."""
    if c.isspace():
        return " "
    return "".join(ch for ch in unicodedata.normalize("NFC", c) if unicodedata.category(ch)[0] != "C")


class _Char:
    __slots__ = ("text", "x0", "y0", "x1", "y1", "origin_x", "origin_y", "span")

    def __init__(self, text, rect, origin, span):
        self.text = text
        self.x0, self.y0, self.x1, self.y1 = rect.x0, rect.y0, rect.x1, rect.y1
        self.origin_x, self.origin_y = origin.x, origin.y
        self.span = span


def _text_lines(raw: dict, to_pixels: pymupdf.Matrix, width: int, height: int) -> list[OcrLine]:
    lines = []
    for block in raw.get("blocks", ()):
        if block.get("type") != 0:
            continue
        for line in block.get("lines", ()):
            if line.get("wmode", 0) != 0:
                continue
            dx, dy = line["dir"]
            # direction on the rendered page (rotation only: no translation)
            rdx = dx * to_pixels.a + dy * to_pixels.c
            rdy = dx * to_pixels.b + dy * to_pixels.d
            if rdx <= 0 or abs(rdy) > 1e-3 * abs(rdx):
                continue
            words = _line_words(line, to_pixels, width, height)
            if words:
                lines.append(OcrLine(words=tuple(words)))
    return reading_order(lines)


def _line_words(line: dict, to_pixels: pymupdf.Matrix, width: int, height: int) -> list[OcrWord]:
    # A word break is a float (the origin of the space that ends the word: where its pen stops)
    # or None (a hidden span: unknown).
    chars: list[_Char | float | None] = []
    for span in line.get("spans", ()):
        if _is_hidden(span):
            chars.append(None)
            continue
        for ch in span.get("chars", ()):
            text = _clean_char(ch["c"])
            origin = pymupdf.Point(ch["origin"]) * to_pixels
            if text == " ":
                chars.append(float(origin.x))
            elif text:
                rect = pymupdf.Rect(ch["bbox"]) * to_pixels
                if rect.is_empty:  # some glyphs have no ink box: use the advance along the baseline
                    rect = pymupdf.Rect(rect.x0, origin.y - 1, max(rect.x1, rect.x0 + 1), origin.y)
                chars.append(_Char(text, rect, origin, span))
    scale = float(np.hypot(to_pixels.a, to_pixels.b))  # pixels per point
    words: list[tuple[list[_Char], float | None]] = []  # characters, where the pen stops
    current: list[_Char] = []
    for ch in chars:
        if not isinstance(ch, _Char):
            if current:
                words.append((current, ch))
            current = []
            continue
        if current:
            prev = current[-1]
            em = max(prev.span["size"], ch.span["size"]) * scale
            if ch.x0 - prev.x1 > _WORD_GAP_EM * em:
                words.append((current, None))
                current = []
        current.append(ch)
    if current:
        words.append((current, None))
    return [w for w in (_make_word(cs, end, scale, width, height) for cs, end in words) if w is not None]


def _make_word(chars: list[_Char], end: float | None, scale: float, width: int,
               height: int) -> OcrWord | None:
    text = unicodedata.normalize("NFC", "".join(c.text for c in chars))
    x0 = max(0, int(np.floor(min(c.x0 for c in chars))))
    y0 = max(0, int(np.floor(min(c.y0 for c in chars))))
    x1 = min(width, int(np.ceil(max(c.x1 for c in chars))))
    y1 = min(height, int(np.ceil(max(c.y1 for c in chars))))
    if not text or "\ufffd" in text or x1 <= x0 or y1 <= y0:
        return None  # U+FFFD: the PDF does not say which character the glyph is
    # The style of most of the word's characters.
    span = Counter(id(c.span) for c in chars).most_common(1)[0][0]
    span = next(c.span for c in chars if id(c.span) == span)
    flags = span.get("flags", 0)
    color = int(span.get("color", 0)) & 0xFFFFFF
    return OcrWord(
        text=text,
        box=(x0, y0, x1, y1),
        confidence=1.0,
        font=span.get("font") or None,
        size=float(span["size"]) * scale,
        color=((color >> 16) & 255, (color >> 8) & 255, color & 255),
        bold=bool(flags & pymupdf.TEXT_FONT_BOLD) or bool(span.get("char_flags", 0) & pymupdf.mupdf.FZ_STEXT_BOLD),
        italic=bool(flags & pymupdf.TEXT_FONT_ITALIC),
        mono=bool(flags & pymupdf.TEXT_FONT_MONOSPACED),
        baseline=float(np.median([c.origin_y for c in chars])),
        pen=(float(chars[0].origin_x), end) if end is not None and end > chars[0].origin_x else None,
    )
