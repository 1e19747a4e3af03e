"""How well OCR reads the ORIGINAL rendered PDF pages: the ceiling for decoded-image word F1.

    .venv/bin/python bench/ocr_ceiling.py [PDF...] [--dpi 100] [--upscale 1]

``--upscale F`` runs OCR on the render enlarged F times (bicubic): whether a larger input lets
the measuring OCR read small text better.
"""

from __future__ import annotations

import argparse
import statistics

import cv2

from ocr.base import lines_text
from picd import metrics
from picd.imageio import load_input


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdfs", nargs="+")
    ap.add_argument("--dpi", type=float, default=100.0, help="render resolution (default 100)")
    ap.add_argument("--upscale", type=float, default=1.0,
                    help="enlarge each render this many times (bicubic) before OCR (default 1)")
    args = ap.parse_args()
    f1s = []
    for path in args.pdfs:
        page = load_input(path, page=1, dpi=args.dpi)
        if not page.lines:
            continue
        img = page.image
        if args.upscale != 1.0:
            img = cv2.resize(img, None, fx=args.upscale, fy=args.upscale,
                             interpolation=cv2.INTER_CUBIC)
        f1 = metrics.word_f1(metrics.ocr_text(img), lines_text(page.lines))
        f1s.append(f1)
        print(f"{path.rsplit('/', 1)[-1]:<60} {f1:.3f}")
    print(f"{len(f1s)} pages with a text layer: word F1 of OCR of the original render vs the text "
          f"layer: mean {statistics.mean(f1s):.3f}, median {statistics.median(f1s):.3f}")


if __name__ == "__main__":
    main()
