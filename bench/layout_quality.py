"""Quality of the text layer on real screenshots: ``python bench/layout_quality.py [--split dev]``.

For each image of a split (files of ``../shared/data/screen`` sorted by name: even indexes are
the dev split used for tuning, odd indexes the held-out split), cropped to at most ``--crop``
pixels from the top-left corner (keeps OCR time modest on this small machine):

- acceptance: words accepted into the layer over words OCR found (OCR of the original is cached
  in ``--cache``, keyed by the crop's pixels, since it costs seconds per image);
- misread rejection: on a copy of the OCR result, one accepted word per line (at most
  ``--plant`` per image) is changed by one character (substitution by a letter that is not a
  look-alike, deletion or insertion); the share of those planted misreadings that
  `build_layer` rejects; with ``--digits``, the planted misreadings are numbers instead: one
  digit of an accepted word with at least two digits changed to another digit (``2019`` read
  as ``2016``, the misreading that hurts most in prices, dates and codes);
- word F1 (``--f1``): OCR of the image decoded from a ``.picd`` at ``--bpp`` against OCR of the
  original (encodes with the cached OCR, decodes with the paste renderer, then runs OCR again);
- layout time: seconds in `build_layer` per image.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from layout.analyze import LayoutConfig, build_layer  # noqa: E402
from ocr.base import GivenLinesEngine, OcrLine, OcrWord, lines_text  # noqa: E402
from picd.bench import ocr_lines_cached  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "screen"
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
# Never planted: these pairs look alike in many faces (as in layout.analyze._ALIKE).
_ALIKE = ["lI1|", "ij!", "oO0", "cC", "sS", "uU", "vV", "wW", "xX", "zZ", "pP", "kK", "jJ", "yY",
          "9g", "5S", "rn", "ce", "hb", "nm"]


def split_files(split: str, every: int) -> list[Path]:
    files = sorted(p for p in DATA.iterdir() if p.suffix.lower() in SUFFIXES)
    if split == "samples":
        return sorted((ROOT / "samples").glob("screen_*.png")) + [ROOT / "samples" / "document_scan_scotus.png"]
    part = files[0::2] if split == "dev" else files[1::2]
    return part[::every]


def load(path: Path, crop: int) -> np.ndarray:
    from picd.imageio import load_input

    img = load_input(path).image
    h, w = img.shape[:2]
    cw, ch = min(w, crop), min(h, int(crop * 0.625) if crop < 10000 else h)
    return np.ascontiguousarray(img[:ch, :cw])


def _alike(a: str, b: str) -> bool:
    return any(a in g and b in g for g in _ALIKE)


def _misread_letter(text: str, rng: random.Random) -> str | None:
    """`text` with one letter substituted (not by a look-alike), deleted or doubled by another;
    None where that would make a neighbouring pair such as "rn"/"m"."""
    j = rng.choice([j for j, c in enumerate(text) if c.isalpha()])
    c = text[j]
    kind = rng.random()
    if kind < 0.7:
        new = rng.choice([a for a in string_pool(c) if a != c and not _alike(a, c)])
        out = text[:j] + new + text[j + 1:]
    elif kind < 0.85:
        out = text[:j] + text[j + 1:]
    else:
        out = text[:j] + rng.choice(string_pool(c)) + text[j:]
    if any(g in out and g not in text for g in ("rn", "m", "cl", "d", "vv", "w")):
        return None
    return out


def _misread_digit(text: str, rng: random.Random) -> str:
    """`text` with one digit changed to another digit."""
    j = rng.choice([j for j, c in enumerate(text) if c in string.digits])
    return text[:j] + rng.choice([d for d in string.digits if d != text[j]]) + text[j + 1:]


def plant(lines: list[OcrLine], accepted: set, rng: random.Random, limit: int,
          digits: bool = False):
    """A copy of `lines` with one accepted word per line misread; and the planted (text, box).

    Letters are planted in words with three or more letters (`_misread_letter`); with
    ``digits``, digits in words with two or more digits (`_misread_digit`)."""
    def plantable(text: str) -> bool:
        if digits:
            return sum(c in string.digits for c in text) >= 2
        return sum(c.isalpha() for c in text) >= 3

    out, planted = [], set()
    for line in lines:
        words = list(line.words)
        cands = [i for i, w in enumerate(words) if (w.text, w.box) in accepted
                 and plantable(w.text)]
        if cands and len(planted) < limit:
            i = rng.choice(cands)
            w = words[i]
            text = _misread_digit(w.text, rng) if digits else _misread_letter(w.text, rng)
            if text is not None:
                words[i] = OcrWord(text, w.box, w.confidence)
                planted.add((text, w.box))
        out.append(OcrLine(tuple(words)))
    return out, planted


def string_pool(c: str) -> str:
    return "abcdefghijklmnopqrstuvwxyz" if c.islower() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "held", "samples"), default="dev")
    ap.add_argument("--every", type=int, default=3, help="take every N-th file of the split")
    ap.add_argument("--crop", type=int, default=1280, help="max width (height: 0.625 x)")
    ap.add_argument("--cache", type=Path, default=Path("out/layout-ocr-cache"),
                    help="OCR of the inputs, shared format with picd bench's ocr-cache")
    ap.add_argument("--plant", type=int, default=20)
    ap.add_argument("--f1", action="store_true", help="also encode/decode and measure word F1")
    ap.add_argument("--bpp", type=float, default=0.02)
    ap.add_argument("--files", nargs="*", type=Path)
    ap.add_argument("--digits", action="store_true",
                    help="plant digit misreadings in numbers instead of letter misreadings")
    ap.add_argument("--alt-margin", type=float, default=None,
                    help="LayoutConfig.alt_margin to measure (default: the configured one)")
    args = ap.parse_args(argv)

    files = args.files or split_files(args.split, args.every)
    cfg = LayoutConfig() if args.alt_margin is None else LayoutConfig(alt_margin=args.alt_margin)
    tot = dict(words=0, acc=0, planted=0, caught=0, t=0.0)
    f1s = []
    print(f"{'file':<40} {'acc':>9} {'rate':>5} {'plant':>7} {'rej':>5} {'lay s':>6} {'F1':>6}")
    for path in files:
        img = load(path, args.crop)
        lines, _ = ocr_lines_cached(img, args.cache)
        n = sum(len(l.words) for l in lines)
        t = time.perf_counter()
        a = build_layer(img, lines, cfg)
        dt = time.perf_counter() - t
        rejected = {(w.text, w.box) for w, _, _ in a.rejected}
        accepted = {(w.text, w.box) for l in lines for w in l.words} - rejected
        rng = random.Random(path.name)
        bad_lines, planted = plant(lines, accepted, rng, args.plant, args.digits)
        b = build_layer(img, bad_lines, cfg)
        caught = len(planted & {(w.text, w.box) for w, _, _ in b.rejected})
        f1 = float("nan")
        if args.f1 and n:
            from picd import metrics
            from picd.api import decode_detailed, encode_detailed

            res = encode_detailed(img, mode="screen", bpp=args.bpp,
                                  ocr_engine=GivenLinesEngine(lines))
            dec = decode_detailed(res.data).image
            f1 = metrics.word_f1(metrics.ocr_text(dec), lines_text(lines))
            f1s.append(f1)
        acc = n - len(rejected)  # a word split by colour counts once
        tot["words"] += n
        tot["acc"] += acc
        tot["planted"] += len(planted)
        tot["caught"] += caught
        tot["t"] += dt
        print(f"{path.name[:40]:<40} {acc:>4}/{n:<4} {acc / max(n, 1):>5.2f} "
              f"{caught:>3}/{len(planted):<3} {caught / max(len(planted), 1):>5.2f} {dt:>6.2f} {f1:>6.3f}",
              flush=True)
    print(f"{'TOTAL':<40} {tot['acc']:>4}/{tot['words']:<4} {tot['acc'] / max(tot['words'], 1):>5.3f} "
          f"{tot['caught']:>3}/{tot['planted']:<3} {tot['caught'] / max(tot['planted'], 1):>5.3f} "
          f"{tot['t'] / max(len(files), 1):>6.2f} "
          f"{(np.mean(f1s) if f1s else float('nan')):>6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
