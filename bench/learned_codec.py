"""The learned background codec against AVIF/WebP/JXL on Kodak and the classical codec on screens.

Usage::

    nice -n 19 .venv/bin/python bench/learned_codec.py [--limit N] [--threads 1] [--out report.json]

1. Kodak (``--kodak``, test only): for each image and each target in ``--bpp`` (default 0.02,
   0.05, 0.1) the budget is ``floor(target * W * H / 8)`` bytes of *file*. The learned codec's
   file is a whole ``.picd`` with only a background section (its header, framing and checksum
   counted); the others are their own files as `picd.baselines.encode_to_size` finds them
   (quality and downscale searched, side info counted). Reported: bpp, PSNR, MS-SSIM
   (`picd.metrics`), encode/decode seconds, and the Bjøntegaard delta rate of every codec against
   AVIF (PSNR and MS-SSIM; monotone piecewise-cubic interpolation of log rate over the common
   quality range, per image, then averaged; negative = fewer bytes than AVIF).
2. Screens (``--screen``): learned vs `ClassicalBackgroundCodec` at equal payload budgets
   (``--screen-bpp``), PSNR and MS-SSIM.
3. Speed: median of ``--repeat`` decodes (and encodes) of a 1280x720 crop of the first screen
   image at 0.02 bpp, with ``--threads`` torch threads.
4. Bit-exactness: one payload decoded in two fresh processes with 1 and 2 torch threads; the
   SHA-256 of the decoded pixels must agree (and agree with this process).

All numbers are what this machine measured with the installed weights (``--model-id``,
default: the manifest's default); nothing is extrapolated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from picd import container
from picd.background import ClassicalBackgroundCodec
from picd.baselines import encode_to_size
from picd.learned.codec import LearnedBackgroundCodec
from picd.learned.weights import WEIGHTS_DIR
from picd.metrics import ms_ssim, psnr

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def picd_file_bytes(payload: bytes, width: int, height: int) -> int:
    """Bytes of a ``.picd`` file whose only section is this background payload."""
    c = container.Container(width, height, container.Mode.NATURAL,
                            (container.Section(container.Tag.BACKGROUND, LearnedBackgroundCodec.codec_id, payload),))
    return len(container.pack(c))


def learned_row(codec: LearnedBackgroundCodec, img: np.ndarray, max_file_bytes: int) -> dict:
    h, w = img.shape[:2]
    frame = picd_file_bytes(b"", w, h)
    budget = max_file_bytes - frame
    budget -= len(container.write_varint(budget)) - 1  # the section length may take 2 bytes
    t = time.perf_counter()
    payload = codec.compress(img, budget)
    enc_s = time.perf_counter() - t
    t = time.perf_counter()
    out = codec.decompress(payload, w, h)
    dec_s = time.perf_counter() - t
    n = picd_file_bytes(payload, w, h)
    return {"bytes": n, "bpp": 8 * n / (w * h), "psnr": psnr(img, out), "ms_ssim": ms_ssim(img, out),
            "encode_s": enc_s, "decode_s": dec_s}


def baseline_row(name: str, img: np.ndarray, max_bytes: int) -> dict:
    h, w = img.shape[:2]
    r = encode_to_size(name, img, max_bytes)
    return {"bytes": r.n_bytes, "bpp": 8 * r.n_bytes / (w * h), "psnr": psnr(img, r.decoded_image),
            "ms_ssim": ms_ssim(img, r.decoded_image), "encode_s": r.encode_s, "decode_s": r.decode_s,
            "reached": r.reached}


def bd_rate(r_ref: list[float], q_ref: list[float], r_test: list[float], q_test: list[float]) -> float | None:
    """Bjøntegaard delta rate (percent) of test vs reference; None without a common range."""
    from scipy.interpolate import PchipInterpolator

    def curve(r, q):
        pts = sorted(zip(q, np.log(r)))
        qs, lr = [], []
        for a, b in pts:  # keep q strictly increasing
            if not qs or a > qs[-1] + 1e-9:
                qs.append(a)
                lr.append(b)
        return qs, lr

    qa, la = curve(r_ref, q_ref)
    qb, lb = curve(r_test, q_test)
    if len(qa) < 2 or len(qb) < 2:
        return None
    lo, hi = max(qa[0], qb[0]), min(qa[-1], qb[-1])
    if hi <= lo:
        return None
    grid = np.linspace(lo, hi, 101)
    fa, fb = PchipInterpolator(qa, la)(grid), PchipInterpolator(qb, lb)(grid)
    diff = float(np.trapezoid(fb - fa, grid) / (hi - lo))
    return (math.exp(diff) - 1) * 100


_DECODE = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from picd.learned.codec import LearnedBackgroundCodec
p = open(sys.argv[2], "rb").read()
out = LearnedBackgroundCodec(weights_dir=sys.argv[3]).decompress(p, int(sys.argv[4]), int(sys.argv[5]))
print(hashlib.sha256(out.tobytes()).hexdigest())
"""


def bit_exact(codec: LearnedBackgroundCodec, img: np.ndarray, max_bytes: int, tmp: Path) -> dict:
    h, w = img.shape[:2]
    payload = codec.compress(img, max_bytes)
    tmp.write_bytes(payload)
    here = hashlib.sha256(codec.decompress(payload, w, h).tobytes()).hexdigest()
    subs = {}
    for threads in (1, 2):
        r = subprocess.run([sys.executable, "-c", _DECODE, str(threads), str(tmp), str(codec.weights_dir), str(w), str(h)],
                           capture_output=True, text=True, cwd=ROOT, check=True)
        subs[threads] = r.stdout.strip()
    return {"this_process": here, "threads_1": subs[1], "threads_2": subs[2],
            "identical": here == subs[1] == subs[2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kodak", default=str(DATA / "kodak"))
    ap.add_argument("--screen", default=str(DATA / "screen"))
    ap.add_argument("--bpp", type=float, nargs="+", default=[0.02, 0.05, 0.1])
    ap.add_argument("--screen-bpp", type=float, nargs="+", default=[0.02, 0.05])
    ap.add_argument("--codecs", nargs="+", default=["avif", "webp", "jxl"])
    ap.add_argument("--limit", type=int, default=0, help="images per set (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model-id", type=int, default=None)
    ap.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    ap.add_argument("--skip", nargs="*", default=[], choices=["kodak", "screen", "speed", "bitexact"])
    ap.add_argument("--out", default=None, help="write every row and summary as JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    codec = LearnedBackgroundCodec(args.model_id, Path(args.weights_dir))
    report: dict = {"threads": args.threads, "model_id": codec._model()[0]}

    def pick(folder: str) -> list[Path]:
        files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        return files[: args.limit] if args.limit else files

    if "kodak" not in args.skip:
        rows = []
        for path in pick(args.kodak):
            img = load(path)
            h, w = img.shape[:2]
            for target in args.bpp:
                budget = int(target * w * h / 8)
                rows.append({"image": path.name, "target": target, "codec": "learned", **learned_row(codec, img, budget)})
                for name in args.codecs:
                    rows.append({"image": path.name, "target": target, "codec": name, **baseline_row(name, img, budget)})
                print(json.dumps(rows[-1 - len(args.codecs)]), file=sys.stderr)
        report["kodak_rows"] = rows
        summary = {}
        for name in ["learned", *args.codecs]:
            for target in args.bpp:
                sel = [r for r in rows if r["codec"] == name and r["target"] == target]
                summary[f"{name}@{target}"] = {k: statistics.mean(r[k] for r in sel) for k in ("bpp", "psnr", "ms_ssim", "encode_s", "decode_s")}
        report["kodak_summary"] = summary
        bd = {}
        for name in ["learned", *args.codecs[1:]] if args.codecs and args.codecs[0] == "avif" else []:
            for metric in ("psnr", "ms_ssim"):
                vals = []
                for image in sorted({r["image"] for r in rows}):
                    ref = [r for r in rows if r["image"] == image and r["codec"] == "avif"]
                    test = [r for r in rows if r["image"] == image and r["codec"] == name]
                    v = bd_rate([r["bpp"] for r in ref], [r[metric] for r in ref], [r["bpp"] for r in test], [r[metric] for r in test])
                    if v is not None:
                        vals.append(v)
                bd[f"{name}/{metric}"] = {"bd_rate_percent": statistics.mean(vals) if vals else None, "images": len(vals)}
        report["bd_rate_vs_avif"] = bd
        print("\n| codec@bpp | bpp | PSNR | MS-SSIM | enc s | dec s |\n|---|---|---|---|---|---|")
        for k, v in summary.items():
            print(f"| {k} | {v['bpp']:.4f} | {v['psnr']:.2f} | {v['ms_ssim']:.4f} | {v['encode_s']:.2f} | {v['decode_s']:.2f} |")
        for k, v in bd.items():
            print(f"BD-rate vs AVIF {k}: {v['bd_rate_percent']} ({v['images']} images)")

    if "screen" not in args.skip:
        classical = ClassicalBackgroundCodec()
        rows = []
        for path in pick(args.screen):
            img = load(path)
            h, w = img.shape[:2]
            for target in args.screen_bpp:
                budget = int(target * w * h / 8)
                for name, c in (("learned", codec), ("classical", classical)):
                    p = c.compress(img, budget)
                    out = c.decompress(p, w, h)
                    rows.append({"image": path.name, "target": target, "codec": name, "bytes": len(p),
                                 "psnr": psnr(img, out), "ms_ssim": ms_ssim(img, out)})
        report["screen_rows"] = rows
        print("\n| screens codec@bpp | payload bytes | PSNR | MS-SSIM |\n|---|---|---|---|")
        for name in ("learned", "classical"):
            for target in args.screen_bpp:
                sel = [r for r in rows if r["codec"] == name and r["target"] == target]
                print(f"| {name}@{target} | {statistics.mean(r['bytes'] for r in sel):.0f} | "
                      f"{statistics.mean(r['psnr'] for r in sel):.2f} | {statistics.mean(r['ms_ssim'] for r in sel):.4f} |")

    first_screen = pick(args.screen)[0]
    img = load(first_screen)
    if img.shape[0] < 720 or img.shape[1] < 1280:
        img = np.asarray(Image.fromarray(img).resize((max(1280, img.shape[1]), max(720, img.shape[0])), Image.Resampling.LANCZOS))
    img = np.ascontiguousarray(img[:720, :1280])
    budget = int(0.02 * 1280 * 720 / 8)
    if "speed" not in args.skip:
        enc, dec = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            payload = codec.compress(img, budget)
            enc.append(time.perf_counter() - t)
            t = time.perf_counter()
            codec.decompress(payload, 1280, 720)
            dec.append(time.perf_counter() - t)
        report["speed_1280x720"] = {"image": first_screen.name, "budget": budget, "payload": len(payload),
                                    "encode_median_s": statistics.median(enc), "decode_median_s": statistics.median(dec)}
        print(f"\n1280x720 ({first_screen.name}, {args.threads} thread(s)): encode median "
              f"{statistics.median(enc):.3f} s, decode median {statistics.median(dec):.3f} s")
    if "bitexact" not in args.skip:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            report["bit_exact"] = bit_exact(codec, img, budget, Path(d) / "bg.bin")
        print(f"bit-exact decode across processes (1 and 2 threads): {report['bit_exact']['identical']}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
