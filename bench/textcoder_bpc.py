"""Bits per character of the text-layer coder (`layout.textcoder`) against brotli-11.

Usage::

    .venv/bin/python bench/textcoder_bpc.py [paths...]

Paths may be PDFs (each page's exact text layer via PyMuPDF) or images (OCR words of the
encoder's engine, cached under ``$PICD_OCR_CACHE`` or ``out/textcoder-ocr-cache`` in the format
of ``picd bench``'s ``ocr-cache``, so a bench's cache can be pointed at). Without paths: the
held-out PDFs of ``../shared/data/documents`` (those not used by ``layout/build_prior.py``) and
every screenshot of ``../shared/data/screen``.
"""

from __future__ import annotations

import os
import pathlib

SHARED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CACHE = pathlib.Path(os.environ.get("PICD_OCR_CACHE", "out/textcoder-ocr-cache"))


def _pdf_layers(path: pathlib.Path, dpi: float = 100.0):
    """(name, TextLayer) per page of a PDF with a text layer (words from PyMuPDF, in pixels)."""
    import pymupdf

    from layout.model import Line, Style, TextLayer, Word

    s = dpi / 72.0
    with pymupdf.open(path) as doc:
        fonts: dict[str, int] = {}
        for pno, page in enumerate(doc):
            spans = {}
            for b in page.get_text("dict")["blocks"]:
                for li, ln in enumerate(b.get("lines", [])):
                    if ln["spans"]:
                        sp = ln["spans"][0]
                        spans[(b["number"], li)] = sp
            groups: dict[tuple[int, int], list] = {}
            for x0, y0, x1, y1, text, bno, lno, _ in page.get_text("words"):
                groups.setdefault((bno, lno), []).append((x0, y0, x1, y1, text))
            lines = []
            for key, ws in groups.items():
                sp = spans.get(key)
                if sp is not None:
                    font = fonts.setdefault(sp["font"], len(fonts) % 8)
                    size = max(1, round(sp["size"] * s))
                    c = sp["color"]
                    color = ((c >> 16) & 255, (c >> 8) & 255, c & 255)
                    base = round(sp["origin"][1] * s)
                else:
                    font, size, color = 0, max(1, round((ws[0][3] - ws[0][1]) * s)), (0, 0, 0)
                    base = round(ws[0][3] * s)
                words = tuple(Word(t, round(x0 * s), max(1, round((x1 - x0) * s)))
                              for x0, y0, x1, y1, t in sorted(ws) if t.split() == [t])
                if words:
                    lines.append(Line(base, Style(font, size, color), words))
            if lines:
                yield f"{path.name}#{pno + 1}", TextLayer(round(page.rect.width * s), round(page.rect.height * s), tuple(lines))


def _ocr_layer(path: pathlib.Path):
    """A TextLayer of a screenshot from its OCR words (RapidOCR through `ocr.rapid`, the engine
    the encoder uses; cached by `picd.bench.ocr_lines_cached`): every word at its own box, one
    style per line, size and baseline from the line's box."""
    from layout.model import Line, Style, TextLayer, Word
    from picd.bench import ocr_lines_cached
    from picd.imageio import load_input

    img = load_input(path).image
    h, w = img.shape[:2]
    lines = []
    for line in ocr_lines_cached(img, CACHE)[0]:
        words = tuple(Word(wd.text, round(wd.box[0]), max(1, round(wd.box[2] - wd.box[0])))
                      for wd in line.words if wd.text.split() == [wd.text])
        if words:
            x0, y0, x1, y1 = line.box
            lines.append(Line(round(y1 - (y1 - y0) * 0.2), Style(0, max(1, round((y1 - y0) * 0.8)), (0, 0, 0)),
                              words))
    return TextLayer(w, h, tuple(lines))


def _sources(paths: list[pathlib.Path]):
    for p in paths:
        if p.suffix.lower() == ".pdf":
            yield from _pdf_layers(p)
        else:
            layer = _ocr_layer(p)
            if layer.lines:
                yield p.name, layer


def main() -> None:
    import argparse
    import sys

    import brotli

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from layout.build_prior import TRAIN_DOCS
    from layout.textcoder import decode_layer, encode_layer, layer_cost

    ap = argparse.ArgumentParser(description="text-layer coder bits per character vs brotli-11")
    ap.add_argument("paths", nargs="*", type=pathlib.Path)
    ap.add_argument("--max-pages", type=int, default=3, help="pages per PDF (default 3)")
    args = ap.parse_args()
    paths = args.paths
    if not paths:
        docs = SHARED / "documents"
        paths = [p for p in sorted(docs.glob("*.pdf")) if p.name not in TRAIN_DOCS]
        paths += [p for p in sorted((SHARED / "screen").glob("*"))
                  if p.suffix.lower() in (".png", ".jpg")]
    print(f"{'source':52s} {'chars':>6s} {'char':>6s} {'brotli':>6s} {'layout':>6s} {'b/word':>6s} {'bytes':>6s}")
    tot = {"n": 0, "c": 0, "b": 0, "l": 0, "w": 0, "bytes": 0}
    for path in paths:
        per_doc = 0
        for name, layer in _sources([path]):
            if path.suffix.lower() == ".pdf":
                per_doc += 1
                if per_doc > args.max_pages:
                    break
            text = layer.text
            if not text:
                continue
            data = encode_layer(layer)
            assert decode_layer(data, layer.width, layer.height) == layer, name
            cost = layer_cost(layer)
            n = len(text)
            b = 8 * len(brotli.compress(text.encode(), quality=11))
            print(f"{name[:52]:52s} {n:6d} {cost['char_bits'] / n:6.3f} {b / n:6.3f} "
                  f"{cost['layout_bits'] / n:6.3f} {cost['layout_bits'] / max(1, cost['n_words']):6.1f} "
                  f"{len(data):6d}", flush=True)
            tot["n"] += n
            tot["c"] += cost["char_bits"]
            tot["b"] += b
            tot["l"] += cost["layout_bits"]
            tot["w"] += cost["n_words"]
            tot["bytes"] += len(data)
    n = max(1, tot["n"])
    print(f"{'TOTAL (bits per char; layout also per word)':52s} {tot['n']:6d} {tot['c'] / n:6.3f} "
          f"{tot['b'] / n:6.3f} {tot['l'] / n:6.3f} {tot['l'] / max(1, tot['w']):6.1f} {tot['bytes']:6d}")


if __name__ == "__main__":
    main()
