"""Bytes of the ink patches under each ink codec, on the patches of every word an image's text
layer rejects.

Usage::

    .venv/bin/python bench/ink_codec.py [images...] [--codecs 3,4] [--cache DIR] [-j 2]

For each image (default: every screenshot of ``../shared/data/screen``): OCR of the original
(cached under ``--cache`` in the format of ``picd bench``'s ``ocr-cache``, so a bench's cache can
be pointed at), the encoder's analysis, and its candidate ink patches (`layout.ink.find_patches`
of every rejected word: all of them, not only those a target leaves room for), coded with each
codec of ``--codecs`` (`layout.ink.encode_patches`). Prints per image and in total the bytes per
codec, their ratio to the first codec's, and the seconds to encode and decode with the last;
every decoding is checked to give the patches back exactly.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"


def measure(path: str, codecs: tuple[int, ...], cache: Path) -> tuple[str, int, list[int], float, float]:
    """``(name, patches, bytes per codec, encode s, decode s)`` for one image (times: last codec)."""
    import numpy as np

    from layout.ink import decode_patches, encode_patches
    from picd import api
    from picd.bench import ocr_lines_cached
    from picd.imageio import load_input

    page = load_input(path)
    lines, _ = ocr_lines_cached(page.image, cache)
    a = api.analyse(replace(page, lines=lines))
    h, w = page.image.shape[:2]
    want = sorted(a.ink, key=lambda p: (p.y, p.x))
    sizes, enc_s, dec_s = [], 0.0, 0.0
    for codec in codecs:
        t = time.perf_counter()
        data = encode_patches(a.ink, w, h, codec=codec)
        enc_s = time.perf_counter() - t
        t = time.perf_counter()
        back = decode_patches(data, w, h, codec=codec)
        dec_s = time.perf_counter() - t
        if len(back) != len(want) or not all(
                (p.x, p.y, p.scale, p.color) == (q.x, q.y, q.scale, q.color)
                and np.array_equal(p.mask, q.mask) for p, q in zip(back, want)):
            raise SystemExit(f"{path}: ink codec {codec} does not decode its patches back")
        sizes.append(len(data))
    return Path(path).name, len(a.ink), sizes, enc_s, dec_s


def _row(name: str, n: int, sizes: list[int], enc_s: float, dec_s: float) -> str:
    parts = "  ".join(f"{b:>7}" + (f" ({b / sizes[0]:.2f})" if i else "") for i, b in enumerate(sizes))
    return f"{name[:36]:<36} {n:>5} patches  {parts}  encode {enc_s:5.2f} s  decode {dec_s:5.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", type=Path)
    ap.add_argument("--codecs", default="3,4", help="ink codec ids, comma-separated (default 3,4)")
    ap.add_argument("--cache", type=Path, default=Path("out/ink-codec-ocr-cache"))
    ap.add_argument("-j", "--jobs", type=int, default=1)
    args = ap.parse_args()
    from layout.ink import CODECS

    codecs = tuple(int(c) for c in args.codecs.split(","))
    unknown = [c for c in codecs if c not in CODECS]
    if unknown:
        ap.error(f"unknown ink codec {unknown[0]} (known: {', '.join(map(str, CODECS))})")
    images = args.images or sorted(p for p in (SHARED / "screen").iterdir()
                                   if p.suffix.lower() in (".png", ".jpg"))
    print(f"{'image':<36} {'':>13}  " + "  ".join(f"codec {c}" for c in codecs))
    with Pool(max(1, args.jobs)) as pool:
        results = pool.starmap(measure, [(str(p), codecs, args.cache) for p in images])
    total = [0] * len(codecs)
    for name, n, sizes, enc_s, dec_s in results:
        print(_row(name, n, sizes, enc_s, dec_s), flush=True)
        total = [t + b for t, b in zip(total, sizes)]
    print(_row(f"TOTAL ({len(results)} images)", sum(r[1] for r in results), total,
               sum(r[3] for r in results), sum(r[4] for r in results)))


if __name__ == "__main__":
    main()
