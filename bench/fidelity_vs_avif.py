"""Is picd's fidelity at least AVIF's, image by image, at the same size? (issue 2's second target)

Usage::

    .venv/bin/python bench/fidelity_vs_avif.py out/bench-x/results.csv [--data DIR] [--json F]

For every picd row of a ``picd bench`` results file, AVIF codes the same original in the same
byte budget (``max_bytes`` of the row), at its best downscale factor and quality as the bench
searches them (`picd.baselines.encode_to_size`, PSNR-best); no OCR is run, so this is quicker
than ``picd bench --codecs avif`` and gives the same AVIF files. Prints, per image, picd's PSNR
and MS-SSIM minus AVIF's, and how many images are at or above AVIF on both. ``--json`` keeps
AVIF's figures (``{image: [bytes, psnr, ms_ssim]}``) and reads them back on the next run.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from picd import baselines, metrics  # noqa: E402
from picd.imageio import load_input  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="results.csv of a picd bench run")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "screen"),
                    help="folder of the originals")
    ap.add_argument("--json", help="AVIF's figures: read if present, written otherwise")
    args = ap.parse_args()
    rows = [r for r in csv.DictReader(open(args.results, encoding="utf-8"))
            if r["status"] == "ok" and r["codec"].startswith("picd")]
    known = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).is_file() else {}
    avif = {}
    above = 0
    print(f"{'image':<56} {'bytes':>6} {'AVIF':>6} {'dPSNR':>7} {'dMS-SSIM':>9}")
    for r in rows:
        name = r["image"]
        if name not in known:
            img = load_input(str(Path(args.data) / name)).image
            res = baselines.encode_to_size("avif", img, int(r["max_bytes"]))
            known[name] = [len(res.data), metrics.psnr(img, res.decoded_image),
                           metrics.ms_ssim(img, res.decoded_image)]
        avif[name] = known[name]
        n, p, m = known[name]
        dp, dm = float(r["psnr"]) - p, float(r["ms_ssim"]) - m
        ok = dp >= 0 and dm >= 0
        above += ok
        print(f"{name[:56]:<56} {r['bytes']:>6} {n:>6} {dp:>+7.2f} {dm:>+9.4f}{'' if ok else '  short'}",
              flush=True)
    print(f"{above} of {len(rows)} images at or above AVIF on both PSNR and MS-SSIM")
    if args.json:
        Path(args.json).write_text(json.dumps(known))


if __name__ == "__main__":
    main()
