"""Train the learned background codec from images on disk; resumable; CUDA when present.

    python -m picd.learned.train --data ../shared/data/natural-train \\
        --screen-data ../shared/data/screen --out runs/bg --steps 300000 --resume \\
        --export bg-base-v1 --model-id 2

Data: random crops of the images under ``--data`` (photos) and ``--screen-data`` (screens and
documents). Each image is first downscaled by a random factor (log-uniform in 1..``--max-down``)
with probability 1/2, because the codec feeds downscaled backgrounds to the network at low
rates. Screen crops get, with probability ``--mask-prob``, a text mask: from ``--mask-dir``
(``<image stem>.png``, nonzero = text, e.g. `layout.analyze.build_layer`'s ``text_mask``) when
one exists, else synthetic text-like bars; the masked pixels are filled with
`picd.background.remove_text` exactly as the encoder does and get weight 0 in the distortion.
Kodak is a test set: never pass it here.

Loss per crop at a random rate level ``l``::

    L = R + lambda_l * 255^2 * (D_mse + edge_weight * D_edge)
    R      = -(log2 p(y~) + log2 p(z~)) / pixels                      (bits per pixel)
    D_mse  = weighted mean of (x_hat - x)^2
    D_edge = weighted mean of (grad x_hat - grad x)^2 over horizontal and vertical differences

``D_edge`` keeps flat UI colours flat and their edges sharp (ringing and blur both raise it).

Output folder: ``log.csv`` (one row per ``--log-every`` steps: step, seconds, loss, bpp, mse,
psnr, edge, lr), ``checkpoint.pt`` (model, optimiser, step, RNG states; written every
``--ckpt-every`` steps and at the end), and with ``--export`` the frozen model in
``picd/weights/<name>/`` plus its manifest entry.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from picd.background import remove_text
from picd.learned.model import LearnedCodecModel, ModelConfig
from picd.learned.weights import WEIGHTS_DIR, save_model

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
LOG_FIELDS = ("step", "seconds", "loss", "bpp", "mse", "psnr", "edge", "lr")

SIZES = {
    "tiny": dict(N=32, M=48, Nh=32, Mz=16),
    "base": dict(N=64, M=96, Nh=48, Mz=32),
}


def list_images(dirs: list[str]) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        p = Path(d)
        files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTS)
        out.extend(files)
    return out


def synthetic_text_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Bars shaped like lines of words (x-height 4..20 px, word gaps), as text masks look."""
    m = np.zeros((h, w), bool)
    y = int(rng.integers(0, max(1, h // 4)))
    while y < h:
        lh = int(rng.integers(4, 21))
        x = int(rng.integers(0, max(1, w // 3)))
        end = int(rng.integers(x, w + 1))
        while x < end:
            ww = int(rng.integers(lh, 6 * lh + 1))
            m[y : y + lh, x : min(end, x + ww)] = True
            x += ww + int(rng.integers(lh // 3 + 1, lh + 2))
        y += lh + int(rng.integers(lh // 2 + 1, 4 * lh + 2))
    return m


class PatchPool:
    """Random crops from a list of images, refilled a few images at a time (decode is costly)."""

    def __init__(self, photos: list[Path], screens: list[Path], crop: int, rng: np.random.Generator,
                 mask_prob: float = 0.5, mask_dir: str | None = None, max_down: float = 4.0,
                 crops_per_image: int = 8, pool_size: int = 256) -> None:
        self.items = [(p, False) for p in photos] + [(p, True) for p in screens]
        if not self.items:
            raise SystemExit("no training images found")
        self.crop, self.rng, self.mask_prob = crop, rng, mask_prob
        self.mask_dir = Path(mask_dir) if mask_dir else None
        self.max_down, self.per_image, self.pool_size = max_down, crops_per_image, pool_size
        self.pool: list[tuple[np.ndarray, np.ndarray]] = []

    def _load(self, path: Path, screen: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        im = Image.open(path).convert("RGB")
        mask = None
        if screen and self.mask_dir is not None and (self.mask_dir / f"{path.stem}.png").is_file():
            mask = Image.open(self.mask_dir / f"{path.stem}.png").convert("L")
        if self.rng.random() < 0.5 and self.max_down > 1:
            f = math.exp(self.rng.uniform(0, math.log(self.max_down)))
            size = (max(self.crop, round(im.width / f)), max(self.crop, round(im.height / f)))
            im = im.resize(size, Image.Resampling.LANCZOS)
            if mask is not None:
                mask = mask.resize(size, Image.Resampling.BOX)
        a = np.asarray(im)
        m_full = np.asarray(mask) > 0 if mask is not None else None
        c = self.crop
        if a.shape[0] < c or a.shape[1] < c:
            ph, pw = max(0, c - a.shape[0]), max(0, c - a.shape[1])
            a = np.pad(a, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(a.shape[:2]) > max(ph, pw) else "edge")
            if m_full is not None:
                m_full = np.pad(m_full, ((0, ph), (0, pw)), mode="edge")
        out = []
        for _ in range(self.per_image):
            y0 = int(self.rng.integers(0, a.shape[0] - c + 1))
            x0 = int(self.rng.integers(0, a.shape[1] - c + 1))
            patch = a[y0 : y0 + c, x0 : x0 + c]
            if self.rng.random() < 0.5:
                patch = patch[:, ::-1]
            patch = np.ascontiguousarray(patch)
            weight = np.ones((c, c), np.float32)
            if screen and self.rng.random() < self.mask_prob:
                m = m_full[y0 : y0 + c, x0 : x0 + c] if m_full is not None else synthetic_text_mask(c, c, self.rng)
                if m.any():
                    patch = remove_text(patch, m)
                    weight[m] = 0.0
            out.append((patch, weight))
        return out

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        while len(self.pool) < max(n, self.pool_size // 2):
            path, screen = self.items[int(self.rng.integers(len(self.items)))]
            try:
                self.pool.extend(self._load(path, screen))
            except OSError as exc:
                print(f"skipping {path}: {exc}", file=sys.stderr)
        idx = self.rng.permutation(len(self.pool))[:n]
        picked = [self.pool[i] for i in idx]
        for i in sorted(idx, reverse=True):  # each crop is used once
            self.pool.pop(i)
        x = torch.from_numpy(np.stack([p for p, _ in picked])).permute(0, 3, 1, 2).float() / 255.0
        w = torch.from_numpy(np.stack([w for _, w in picked]))[:, None]
        return x, w


def rd_loss(model: LearnedCodecModel, x: torch.Tensor, w: torch.Tensor, levels: torch.Tensor,
            edge_weight: float) -> dict[str, torch.Tensor]:
    """Rate-distortion loss of one batch (see the module docstring); per-crop lambdas."""
    out = model(x, levels)
    b, _, h, wd = x.shape
    bits = -(torch.log2(out["y_likelihoods"]).flatten(1).sum(1) + torch.log2(out["z_likelihoods"]).flatten(1).sum(1))
    bpp = bits / (h * wd)
    x_hat = out["x_hat"]
    wsum = w.flatten(1).sum(1).clamp_min(1.0)
    mse = (((x_hat - x) ** 2) * w).flatten(1).sum(1) / (3 * wsum)

    def grad_err(dim: int) -> torch.Tensor:
        d_hat, d = torch.diff(x_hat, dim=dim), torch.diff(x, dim=dim)
        pw = torch.minimum(w.narrow(dim, 0, w.shape[dim] - 1), w.narrow(dim, 1, w.shape[dim] - 1))
        return (((d_hat - d) ** 2) * pw).flatten(1).sum(1) / (3 * pw.flatten(1).sum(1).clamp_min(1.0))

    edge = 0.5 * (grad_err(2) + grad_err(3))
    lam = torch.tensor(model.config.lambdas, device=x.device)[levels]
    loss = (bpp + lam * 255.0**2 * (mse + edge_weight * edge)).mean()
    return {"loss": loss, "bpp": bpp.mean(), "mse": mse.mean(), "edge": edge.mean()}


def _save_checkpoint(path: Path, model, opt, step: int, seconds: float, rng: np.random.Generator) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({
        "model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
        "seconds": seconds, "config": model.config.to_json(), "torch_rng": torch.get_rng_state(),
        "numpy_rng": rng.bit_generator.state, "python_rng": random.getstate(),
    }, tmp)
    os.replace(tmp, path)


def train(args: argparse.Namespace) -> LearnedCodecModel:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    state = None
    if args.resume and ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        config = ModelConfig.from_dict(json.loads(state["config"]))
    else:
        config = replace(ModelConfig(), **SIZES[args.size])
    model = LearnedCodecModel(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    step, done = 0, 0.0  # steps and training seconds before this run
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, done = int(state["step"]), float(state.get("seconds", 0.0))
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = state["numpy_rng"]
        random.setstate(state["python_rng"])
        print(f"resumed from {ckpt_path} at step {step}", file=sys.stderr)
    pool = PatchPool(list_images(args.data), list_images(args.screen_data), args.crop, rng,
                     mask_prob=args.mask_prob, mask_dir=args.mask_dir, max_down=args.max_down)
    log_path = out / "log.csv"
    new_log = not log_path.is_file()
    log_f = open(log_path, "a", newline="")
    writer = csv.DictWriter(log_f, fieldnames=LOG_FIELDS)
    if new_log:
        writer.writeheader()
    t0 = time.time()
    acc: dict[str, float] = {}
    n_acc = 0
    model.train()
    while step < args.steps:
        if args.time_limit and time.time() - t0 > args.time_limit:
            print(f"time limit reached at step {step}", file=sys.stderr)
            break
        lr = args.lr * (0.1 if step >= args.decay_at * args.steps else 1.0)
        for g in opt.param_groups:
            g["lr"] = lr
        x, w = pool.batch(args.batch)
        x, w = x.to(device), w.to(device)
        levels = torch.from_numpy(rng.integers(0, config.levels, x.shape[0])).to(device)
        parts = rd_loss(model, x, w, levels, args.edge_weight)
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v.item()
        n_acc += 1
        if step % args.log_every == 0 or step == args.steps:
            row = {k: acc[k] / n_acc for k in acc}
            row["psnr"] = 10 * math.log10(1.0 / max(row["mse"], 1e-12))
            row.update(step=step, seconds=round(done + time.time() - t0, 1), lr=lr)
            writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in LOG_FIELDS})
            log_f.flush()
            acc, n_acc = {}, 0
        if step % args.ckpt_every == 0:
            _save_checkpoint(ckpt_path, model, opt, step, done + time.time() - t0, rng)
    _save_checkpoint(ckpt_path, model, opt, step, done + time.time() - t0, rng)
    log_f.close()
    model = model.cpu().eval()
    if args.export:
        model.update()
        folder = save_model(model, args.export, args.model_id, Path(args.weights_dir))
        print(f"exported model id {args.model_id} to {folder}", file=sys.stderr)
    return model


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m picd.learned.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="*", default=[], help="folders (or files) of photos")
    p.add_argument("--screen-data", nargs="*", default=[], help="folders of screenshots / document images")
    p.add_argument("--mask-dir", default=None, help="text masks <stem>.png for screen images")
    p.add_argument("--out", required=True, help="run folder: log.csv, checkpoint.pt")
    p.add_argument("--steps", type=int, default=300_000)
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    p.add_argument("--size", choices=sorted(SIZES), default="base", help="architecture (new runs)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=256, help="crop side, a multiple of 64")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--decay-at", type=float, default=0.9, help="fraction of steps after which lr /= 10")
    p.add_argument("--edge-weight", type=float, default=1.0)
    p.add_argument("--mask-prob", type=float, default=0.5)
    p.add_argument("--max-down", type=float, default=4.0)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--ckpt-every", type=int, default=500)
    p.add_argument("--time-limit", type=float, default=0, help="seconds; stop (and export) after")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--cpu", action="store_true", help="ignore CUDA")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", default=None, help="weights name to export to at the end")
    p.add_argument("--model-id", type=int, default=None, help="manifest id for --export (append-only)")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.crop % 64:
        raise SystemExit("--crop must be a multiple of 64")
    if args.export and args.model_id is None:
        raise SystemExit("--export needs --model-id (a new, never used id)")
    train(args)


if __name__ == "__main__":
    main()
