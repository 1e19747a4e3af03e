"""Encode/decode wall time of picd, median of several runs.

    .venv/bin/python bench/speed.py [IMAGES...] [--runs 5] [--bpp 0.02]

Default: the 1280x720 screenshot in samples/. The first encode (which loads the OCR models and
the text prior) is reported separately and left out of the median.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from picd import api
from picd.imageio import load_input


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", default=["samples/screen_word.png"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bpp", type=float, default=0.02)
    args = ap.parse_args()
    for path in args.images:
        page = load_input(path)
        t = time.perf_counter()
        data = api.encode_detailed(page, bpp=args.bpp).data
        first = time.perf_counter() - t
        enc, dec, stages = [], [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            res = api.encode_detailed(page, bpp=args.bpp)
            enc.append(time.perf_counter() - t)
            stages.append(res.timings)
            t = time.perf_counter()
            api.decode(res.data)
            dec.append(time.perf_counter() - t)
        h, w = page.image.shape[:2]
        med = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
        print(f"{Path(path).name} {w}x{h}, {len(data)} bytes: encode median {statistics.median(enc):.2f} s "
              f"(first {first:.2f} s), decode median {statistics.median(dec):.3f} s over {args.runs} runs")
        print("  encode stages (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()))


if __name__ == "__main__":
    main()
