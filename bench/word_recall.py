"""Where word F1 is lost: which of the original's words OCR finds again in the decoded image,
by what the encoder did with them.

Usage::

    .venv/bin/python bench/word_recall.py [images...] [--bpp 0.02] [--ink-share S] [-j 2]

For each image (default: every screenshot of ``../shared/data/screen``): OCR of the original
(cached under ``--cache`` in the format of ``picd bench``'s ``ocr-cache``, so a bench's cache can
be pointed at), encode at ``--bpp`` with that OCR, decode, full OCR of the decoded image. Every
word of the original's OCR is counted as

- ``redrawn``: accepted into the text layer;
- ``patched``: rejected, and an ink patch was coded inside its box;
- ``blurred``: rejected, no patch (left to the background);

and as found when the decoded image's OCR has the same word (NFKC, each decoded word matched
once). Prints per image and in total the words and the share found per kind, the decoded words
the original does not have ("extra"), and the word F1 of those counts (close to, not the same as,
`picd.metrics.word_f1`, which also counts words split differently).
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections import Counter
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
KINDS = ("redrawn", "patched", "blurred")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def measure(path: str, bpp: float, ink_share: float, cache: Path) -> tuple[str, dict, int]:
    """``(name, {kind: (words, found)}, extra)`` for one image."""
    import numpy as np

    from ocr import get_engine
    from picd import api
    from picd.bench import ocr_lines_cached
    from picd.imageio import load_input

    page = load_input(path)
    lines, _ = ocr_lines_cached(page.image, cache)
    a = api.analyse(replace(page, lines=lines))
    res = api.code(a, bpp=bpp, ink_share=ink_share)
    decoded = np.asarray(api.decode(res.data).convert("RGB"))
    got = Counter(_norm(w.text) for line in get_engine("rapidocr").recognize(decoded)
                  for w in line.words)
    rejected = {id(w) for w, _, _ in a.analysis.rejected} if a.analysis else set()
    counts = {k: [0, 0] for k in KINDS}
    for line in lines:
        for w in line.words:
            if id(w) not in rejected:
                kind = "redrawn"
            else:
                x0, y0, x1, y1 = w.box
                inside = any(x0 - 2 <= p.x <= x1 and y0 - 2 <= p.y <= y1 for p in res.ink)
                kind = "patched" if inside else "blurred"
            t = _norm(w.text)
            counts[kind][0] += 1
            if got[t] > 0:
                got[t] -= 1
                counts[kind][1] += 1
    return Path(path).name, {k: tuple(v) for k, v in counts.items()}, sum(got.values())


def _row(name: str, counts: dict, extra: int) -> str:
    n = sum(c[0] for c in counts.values())
    found = sum(c[1] for c in counts.values())
    f1 = 2 * found / max(1, n + found + extra)
    parts = "  ".join(f"{k} {c[0]:>5} {c[1] / c[0] if c[0] else float('nan'):5.1%}"
                      for k, c in counts.items())
    return f"{name[:36]:<36} {parts}  extra {extra:>4}  F1 {f1:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", type=Path)
    ap.add_argument("--bpp", type=float, default=0.02)
    ap.add_argument("--ink-share", type=float, default=None, help="default: picd's own")
    ap.add_argument("--cache", type=Path, default=Path("out/word-recall-ocr-cache"))
    ap.add_argument("-j", "--jobs", type=int, default=1)
    args = ap.parse_args()
    from picd.api import INK_SHARE

    share = INK_SHARE if args.ink_share is None else args.ink_share
    images = args.images or sorted(p for p in (SHARED / "screen").iterdir()
                                   if p.suffix.lower() in (".png", ".jpg"))
    jobs = [(str(p), args.bpp, share, args.cache) for p in images]
    with Pool(max(1, args.jobs)) as pool:
        results = pool.starmap(measure, jobs)
    total = {k: [0, 0] for k in KINDS}
    for name, counts, extra in results:
        print(_row(name, counts, extra), flush=True)
        for k, (n, f) in counts.items():
            total[k][0] += n
            total[k][1] += f
    print(_row(f"TOTAL ({len(results)} images)", total, sum(r[2] for r in results)))


if __name__ == "__main__":
    main()
