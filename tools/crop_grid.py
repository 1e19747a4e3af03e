"""Compose a PNG grid from a `picd bench` report's crops (for the README).

    python tools/crop_grid.py REPORT_DIR TARGET OUT.png [IMAGE_KEY ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont

CODECS = ("original", "picd-paste", "avif", "webp", "jxl", "djvu", "jpeg")


def main() -> None:
    report, target, out, *keys = sys.argv[1:]
    crops = Path(report) / "crops"
    if not keys:
        keys = sorted({p.name.split("__")[0] for p in crops.iterdir()})
    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), 14)
    rows = []
    for key in keys:
        row = []
        for c in CODECS:
            name = f"{key}__original.png" if c == "original" else f"{key}__{c}_{target}.png"
            p = crops / name
            if p.is_file():
                row.append((c, Image.open(p).convert("RGB")))
        if row:
            rows.append(row)
    cell = max(im.width for r in rows for _, im in r)
    grid = Image.new("RGB", (cell * len(CODECS), (cell + 22) * len(rows)), "white")
    d = ImageDraw.Draw(grid)
    for y, row in enumerate(rows):
        for c, im in row:
            x = CODECS.index(c) * cell
            d.text((x + 4, y * (cell + 22) + 3), c if c == "original" else f"{c} @ {target} bpp", fill="black", font=font)
            grid.paste(im, (x, y * (cell + 22) + 22))
    # an adaptive 256-colour palette keeps the file small for the README; the crops in the
    # report itself are full colour
    grid.quantize(256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


if __name__ == "__main__":
    main()
