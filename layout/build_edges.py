"""Build the edge coverage table of ink codec 3 (`layout.ink.EDGE_COVERAGE`).

Usage::

    .venv/bin/python layout/build_edges.py [--words 3000] [--seed 0]

An ink patch is a bilevel mask of the original's anti-aliased ink (pixels past `COVERAGE`). Codec
3 paints each mask pixel of a full-resolution patch with the mean coverage that anti-aliased text
has at pixels of that configuration: the table maps the 8 neighbours of a mask pixel (bit ``b``
set when neighbour ``b`` is in the mask; neighbours in rows above, then beside, then below, each
row left to right, outside the patch not in it) to a coverage 0..255. It is fitted here on words
of random letters, digits and marks drawn with the project's own faces (`layout.fonts.FONTS`) at
9 to 22 px: their coverage, thresholded as `layout.ink.find_patches` thresholds an original, gives
the masks, and the mean coverage per configuration is the table. No data set is read. The script
prints the table as the hex string that `layout/ink.py` holds; a table that changes changes how
codec 3 decodes, so it is fixed there, not rebuilt at run time (another FreeType could draw other
pixels).
"""

from __future__ import annotations

import argparse
import pathlib
import random
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from layout.fonts import FONTS, font_available  # noqa: E402
from layout.ink import COVERAGE, neighbour_codes  # noqa: E402
from layout.raster import natural_alpha  # noqa: E402

CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789eeeaaoiinnrrsstt.,:-/%()"


def build(n_words: int, seed: int) -> np.ndarray:
    """The table (256,) uint8: mean coverage per neighbour configuration of mask pixels."""
    rng = random.Random(seed)
    fonts = [f.id for f in FONTS if font_available(f.id)]
    total, count = np.zeros(256), np.zeros(256)
    for _ in range(n_words):
        word = "".join(rng.choice(CHARS) for _ in range(rng.randint(2, 9)))
        a = natural_alpha(word, rng.choice(fonts), rng.randint(9, 22))[0]
        if a.size == 0:
            continue
        mask = a > COVERAGE * 255
        codes = neighbour_codes(mask)
        np.add.at(total, codes[mask], a[mask].astype(np.float64))
        np.add.at(count, codes[mask], 1)
    table = np.where(count > 0, total / np.maximum(count, 1), 255.0)
    return np.clip(np.round(table), 1, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    table = build(args.words, args.seed)
    print(table.tobytes().hex())


if __name__ == "__main__":
    main()
