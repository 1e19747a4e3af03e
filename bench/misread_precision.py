"""How often the verification is right to reject a word: for every word OCR reads in the images
with ground truth, whether the truth has it, by what `layout.analyze.build_layer` did with it.

    .venv/bin/python bench/misread_precision.py [--data ../shared/data] [--cache DIR] [-j 2]

Same images and the same truth matching as ``bench/wrong_words.py`` (scans with hOCR truth:
truth words whose boxes overlap the OCR word; Design2Code pages: the visible text of the HTML;
"right" ignores case and leading/trailing punctuation). OCR of each image is cached under
``--cache`` (the format of ``picd bench``'s ``ocr-cache``). Prints per group and reason (accepted,
misread, verification failed, stretch, ...) the number of words and the share of them that are
right: a check whose rejected words are right as often as the accepted ones rejects good words.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):  # run as a script from anywhere
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import wrong_words as ww  # noqa: E402


def _reason(why: str) -> str:
    if why.startswith("stretch"):
        return "stretch"
    return why.split(":")[0].split(" (")[0]


def measure(kind: str, img: str, truth: str, cache: str) -> list[tuple[str, bool]]:
    """``(reason, right)`` for every OCR word of one image."""
    import numpy as np

    from layout.analyze import build_layer
    from picd.bench import ocr_lines_cached
    from picd.imageio import load_input

    page = load_input(img)
    lines, _ = ocr_lines_cached(page.image, Path(cache))
    a = build_layer(np.asarray(page.image)[:, :, :3], lines)
    reasons = {id(w): _reason(why) for w, _, why in a.rejected}
    sets = ww.truth_sets(kind, Path(truth))
    return [(reasons.get(id(w), "accepted"), ww._loose(w.text) in sets(w.box)[1])
            for line in lines for w in line.words]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path("out/misread-ocr-cache"))
    ap.add_argument("-j", "--jobs", type=int, default=1)
    args = ap.parse_args()
    scans, pages = ww.truth_files(args.data)
    jobs = [(kind, str(img), str(gt), str(args.cache)) for kind, img, gt in scans + pages]
    with Pool(max(1, args.jobs)) as pool:
        results = pool.starmap(measure, jobs)
    for kind in ("scan", "page"):
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for job, rows in zip(jobs, results):
            if job[0] == kind:
                for reason, ok in rows:
                    tally[reason][0] += 1
                    tally[reason][1] += ok
        n = sum(1 for j in jobs if j[0] == kind)
        print(f"{kind}s ({n} images)")
        for reason, (words, ok) in sorted(tally.items(), key=lambda kv: -kv[1][0]):
            print(f"  {reason:<28} {words:>6} words  {ok / words:6.1%} right")


if __name__ == "__main__":
    main()
