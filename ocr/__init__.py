"""Text engines: raster OCR (RapidOCR) and the exact text layer of PDFs (`ocr.pdf`)."""

from __future__ import annotations

from ocr.base import GivenLinesEngine, NullOcrEngine, OcrEngine, OcrLine, OcrWord, lines_text

ENGINES = ("rapidocr", "none")


def get_engine(name: str) -> OcrEngine:
    """The engine called ``name`` (one of `ENGINES`)."""
    if name == "rapidocr":
        from ocr.rapid import RapidOcrEngine  # imports onnxruntime: only when asked for

        return RapidOcrEngine()
    if name == "none":
        return NullOcrEngine()
    raise ValueError(f"unknown OCR engine {name!r}; choose one of: {', '.join(ENGINES)}")


__all__ = ["ENGINES", "GivenLinesEngine", "NullOcrEngine", "OcrEngine", "OcrLine", "OcrWord", "get_engine", "lines_text"]
