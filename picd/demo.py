"""``python -m picd.demo [FOLDER] [-o OUT]``: encode and decode every sample, print a table.

For each image or PDF (first page) in FOLDER: encode to `.picd` at the default target, decode
with the paste renderer, measure PSNR and the OCR word F1 of the decoded image against the
reference text (the PDF's text layer, else OCR of the original), and write to OUT the `.picd`
file, the decoded PNG and a side-by-side PNG (original | decoded).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import numpy as np

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".pdf"}


def side_by_side(a: np.ndarray, b: np.ndarray, gap: int = 8) -> np.ndarray:
    h = max(a.shape[0], b.shape[0])
    out = np.full((h, a.shape[1] + gap + b.shape[1], 3), 255, np.uint8)
    out[: a.shape[0], : a.shape[1]] = a
    out[: b.shape[0], a.shape[1] + gap :] = b
    return out


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default="samples")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default="out/demo", show_default=True)
def main(folder: Path, output: Path) -> None:
    """Encode and decode every image/PDF in FOLDER; print sizes and text accuracy."""
    from picd import metrics
    from picd.api import decode_detailed, encode_detailed
    from picd.errors import PicdError
    from picd.imageio import load_input, save_image_atomic, write_atomic

    output.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        raise click.ClickException(f"no images or PDFs in {folder}")
    head = f"{'file':<28} {'size':>10} {'mode':<8} {'bytes':>6} {'bpp':>7} {'text':>5} {'ink':>5} {'bg':>5} {'words':>9} {'PSNR':>6} {'wordF1':>6} {'enc s':>5} {'dec s':>5}"
    click.echo(head)
    click.echo("-" * len(head))
    failures = 0
    for i, path in enumerate(files, 1):
        click.echo(f"[{i}/{len(files)}] {path.name} ...", err=True)
        try:
            page = load_input(path)
            t = time.perf_counter()
            res = encode_detailed(page)
            t_enc = time.perf_counter() - t
            t = time.perf_counter()
            dec = decode_detailed(res.data)
            t_dec = time.perf_counter() - t
        except PicdError as exc:
            failures += 1
            click.echo(f"{path.name:<28} error: {exc}")
            continue
        stem = output / path.stem
        write_atomic(stem.with_suffix(".picd"), res.data)
        save_image_atomic(f"{stem}.png", dec.image)
        save_image_atomic(f"{stem}_side.png", side_by_side(page.image, dec.image))
        if res.mode.name == "NATURAL":
            f1 = float("nan")
        else:
            ref, _ = metrics.reference_text(page.image, page.lines)
            f1 = metrics.word_f1(metrics.ocr_text(dec.image), ref)
        kept = res.analysis.layer.n_words if res.analysis else 0
        rej = len(res.analysis.rejected) if res.analysis else 0
        click.echo(
            f"{path.name[:28]:<28} {res.width:>4}x{res.height:<5} {res.mode.name.lower():<8} {len(res.data):>6} "
            f"{res.bpp:>7.4f} {res.text_bytes:>5} {res.ink_bytes:>5} {res.background_bytes:>5} {kept:>4}/{kept + rej:<4} "
            f"{metrics.psnr(page.image, dec.image):>6.2f} {f1:>6.3f} {t_enc:>5.1f} {t_dec:>5.2f}"
        )
    click.echo("\ntext, ink, bg: bytes of the text layer, of the ink patches of words not redrawn, of the background.")
    click.echo("words: redrawn/found; wordF1: OCR of the decoded image against the PDF text layer or OCR of the original.")
    click.echo(f"outputs in {output}/ (<name>.picd, <name>.png decoded, <name>_side.png original | decoded)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
