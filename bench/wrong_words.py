"""Count redrawn words that differ from the ground truth ("no silent substitution").

    .venv/bin/python bench/wrong_words.py [--data ../shared/data] [--limit N] [--cache DIR]

For every image with ground truth, run the encoder's analysis (OCR, layout, verification) and
check each word that the decoder would redraw crisply:

- scans (``documents/scan_*`` with ``groundtruth/<name>.truth.hocr``): the truth words whose
  boxes overlap the redrawn word; the word is wrong if its text equals none of them;
- Design2Code pages (``screen/design2code_*`` with ``groundtruth/<name>.html``): the visible
  text of the HTML; the word is wrong if it does not occur in it.

"strict" compares NFKC text exactly; "loose" also ignores case and leading/trailing
punctuation (tokenisation differences between the truth and OCR, e.g. "D.C.," vs "D.C.").
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from picd import api
from picd.imageio import load_input

_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")


class _Hocr(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: list[tuple[str, tuple[int, int, int, int]]] = []
        self._box: tuple[int, int, int, int] | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "ocrx_word" in (a.get("class") or ""):
            m = _BBOX.search(a.get("title") or "")
            self._box = tuple(map(int, m.groups())) if m else None
            self._buf = []

    def handle_data(self, data):
        if self._box is not None:
            self._buf.append(data)

    def handle_endtag(self, tag):
        if self._box is not None and tag == "span":
            text = "".join(self._buf).strip()
            if text:
                self.words.append((text, self._box))
            self._box = None


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _strict(w: str) -> str:
    return unicodedata.normalize("NFKC", w)


def _loose(w: str) -> str:
    return re.sub(r"^\W+|\W+$", "", _strict(w)).casefold()


def _redrawn(path: Path, cache: Path | None = None):
    page = load_input(path)
    if cache is None:
        a = api.analyse(page)
        assert a.analysis is not None
        layer = a.analysis.layer
    else:  # the encoder's analysis on OCR cached as `picd bench` caches it
        import numpy as np

        from layout.analyze import build_layer
        from picd.bench import ocr_lines_cached

        lines, _ = ocr_lines_cached(page.image, cache)
        layer = build_layer(np.asarray(page.image)[:, :, :3], lines).layer
    for line in layer.lines:
        top = line.baseline - line.style.size
        for w in line.words:
            yield w.text, (w.x, top, w.x + w.width, line.baseline + line.style.size // 4)


def _overlap(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = max(1, (a[2] - a[0]) * (a[3] - a[1]))
    return ix * iy / area


def truth_files(data: Path) -> tuple[list, list]:
    """``(kind, image, truth)`` of every image with ground truth: scans (``documents/scan_*``
    with ``groundtruth/<name>.truth.hocr``) and Design2Code pages (``screen/design2code_*`` with
    ``groundtruth/<name>.html``)."""
    scans = []
    for img in sorted((data / "documents").glob("scan_*")):
        gt = data / "documents/groundtruth" / (img.stem.removeprefix("scan_") + ".truth.hocr")
        if gt.is_file():
            scans.append(("scan", img, gt))
    pages = [("page", img, data / "screen/groundtruth" / (img.stem + ".html"))
             for img in sorted((data / "screen").glob("design2code_*"))
             if (data / "screen/groundtruth" / (img.stem + ".html")).is_file()]
    return scans, pages


def truth_sets(kind: str, truth: Path) -> Callable[[tuple], tuple[set, set]]:
    """For a word's box, the truth words it may be (strict and loose forms): on a scan those
    whose boxes overlap it, on a page every visible word of the HTML."""
    text = truth.read_text(encoding="utf-8", errors="replace")
    if kind == "scan":
        p = _Hocr()
        p.feed(text)

        def near(box: tuple) -> tuple[set, set]:
            ws = [t for t, b in p.words if _overlap(box, b) > 0.2 or _overlap(b, box) > 0.2]
            return {_strict(t) for t in ws}, {_loose(t) for t in ws}
        return near
    v = _Visible()
    v.feed(text)
    words = " ".join(v.parts).split()
    sets = {_strict(w) for w in words}, {_loose(w) for w in words}
    return lambda box: sets


def check(kind: str, img: Path, truth: Path, cache: Path | None = None) -> tuple[int, list[str], list[str]]:
    sets = truth_sets(kind, truth)
    n, strict, loose = 0, [], []
    for text, box in _redrawn(img, cache):
        n += 1
        vs, vl = sets(box)
        if _strict(text) not in vs:
            strict.append(text)
            if _loose(text) not in vl:
                loose.append(text)
    return n, strict, loose


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--limit", type=int, default=0, help="at most this many files per group")
    ap.add_argument("--cache", type=Path, default=None,
                    help="OCR cache folder (a `picd bench` report's ocr-cache): OCR each image once")
    args = ap.parse_args()
    scans, pages = truth_files(Path(args.data))
    if args.limit:
        scans, pages = scans[: args.limit], pages[: args.limit]
    tot = {"scan": [0, 0, 0], "page": [0, 0, 0]}
    print(f"{'file':<36} {'redrawn':>7} {'strict':>6} {'loose':>5}  wrong (loose)")
    for kind, img, gt in scans + pages:
        n, strict, loose = check(kind, img, gt, args.cache)
        t = tot[kind]
        t[0] += n
        t[1] += len(strict)
        t[2] += len(loose)
        print(f"{img.name[:36]:<36} {n:>7} {len(strict):>6} {len(loose):>5}  {' '.join(loose[:8])}")
    for kind, (n, s, lo) in tot.items():
        if n:
            print(f"TOTAL {kind:<30} {n:>7} {s:>6} {lo:>5}  strict {s / n:.2%}, loose {lo / n:.2%}")


if __name__ == "__main__":
    main()
