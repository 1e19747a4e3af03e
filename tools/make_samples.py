"""Rebuild samples/ from ../shared/data (run from the repository root).

Screenshots are cropped (never scaled, so text stays as it was rendered); the scan sample is a
simulated scan (rotation, blur, noise, paper tone) of a public-domain US Supreme Court transcript,
because no real scan in ../shared/data has a licence that allows redistribution.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageFilter

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
DST = Path("samples")

CROPS = {  # name -> (source, crop box or None)
    "screen_terminal.png": ("screen/gb82sc_terminal.png", (0, 0, 1280, 800)),
    "screen_windows95.png": ("screen/gb82sc_windows95.png", None),
    "screen_word.png": ("screen/omniparser_word.png", (0, 0, 1280, 720)),
    "screen_graph.png": ("screen/gb82sc_graph.png", None),
    "screen_rich_table.png": ("screen/rich_table2.png", None),
    "photo_city.png": ("natural-train/gb82_city-lossless.png", None),
    "photo_flowers.png": ("natural-train/gb82_flowers-lossless.png", None),
}


def main() -> None:
    DST.mkdir(exist_ok=True)
    for name, (src, box) in CROPS.items():
        im = Image.open(SRC / src)
        if box is not None:
            im = im.crop(box)
        im.save(DST / name, optimize=True)
    shutil.copyfile(SRC / "documents/pypdf_google-doc-document.pdf", DST / "document_google_doc.pdf")
    # simulated scan
    doc = pymupdf.open(SRC / "documents/pdfplumber_scotus-transcript-p1.pdf")
    pix = doc[0].get_pixmap(dpi=120, alpha=False)
    im = Image.frombytes("RGB", (pix.width, pix.height), pix.samples).convert("L")
    im = im.rotate(0.6, resample=Image.Resampling.BICUBIC, fillcolor=255, expand=False)
    im = im.filter(ImageFilter.GaussianBlur(0.7))
    rng = np.random.default_rng(20251122)
    a = np.asarray(im, np.float32) * 0.92 + 12 + rng.normal(0, 4.0, (im.height, im.width))
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(DST / "document_scan_scotus.png", optimize=True)


if __name__ == "__main__":
    main()
