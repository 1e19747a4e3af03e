"""The ``picd`` command: a thin layer that parses, calls `picd.api` and maps errors to exit codes."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
import numpy as np

from picd.errors import ExitCode, PicdError

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  internal error (a bug: please report it)
  2  bad command-line usage
  3  bad input (not an image/PDF, empty, too small or too large, encrypted PDF)
  4  bad .picd file (truncated, corrupted, wrong magic or version)
  5  missing codec/model (file needs weights this picd does not have)
  7  cannot write the output
"""


def _fail(exc: PicdError) -> None:
    click.echo(f"picd: error: {exc}", err=True)
    sys.exit(int(exc.code))


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except PicdError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            click.echo("picd: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: one line unless PICD_DEBUG asks for the traceback
            if os.environ.get("PICD_DEBUG"):
                raise
            click.echo(
                f"picd: internal error: {exc.__class__.__name__}: {exc} "
                "(set PICD_DEBUG=1 for a traceback, and please report it)",
                err=True,
            )
            sys.exit(int(ExitCode.INTERNAL))


@click.group(cls=_Group, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="picd")
def cli() -> None:
    """Compress screenshots, PDF pages and photos to a few kilobytes, text kept readable.

    \b
    The text is recognised, checked and coded losslessly; the rest of the image (the
    background, text taken out) is coded at a very low rate; decoding redraws the text on it.

    \b
    Examples:
      picd encode screenshot.png                  # -> screenshot.picd at 0.02 bpp
      picd encode paper.pdf --page 3 --bpp 0.05   # one PDF page, exact text layer
      picd decode screenshot.picd -o back.png
      picd info screenshot.picd
      picd eval screenshot.png screenshot.picd    # PSNR, MS-SSIM, OCR accuracy, bpp
    """


def _progress(verbose: bool):
    if not verbose:
        return None
    start = time.perf_counter()
    return lambda msg: click.echo(f"[{time.perf_counter() - start:6.2f}s] {msg}", err=True)


@cli.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: INPUT with the suffix .picd].")
@click.option("--mode", type=click.Choice(["auto", "screen", "document", "natural"]), default="auto",
              show_default=True,
              help="auto: PDF -> document, image with text -> screen, no text -> natural. "
                   "natural codes the background only (no OCR).")
@click.option("--bpp", type=float, help="Target size in bits per pixel, all file bytes counted; the "
              "file lands at or under it. [default: 0.02 for screens/documents, 0.05 for photos]")
@click.option("--quality", type=click.FloatRange(0, 100),
              help="Instead of --bpp: background quality 0..100 (rate 0.002*2^(Q/12.5) bpp); "
                   "text layer and ink patches on top.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="PDF page (1-based).")
@click.option("--dpi", type=click.FloatRange(10, 1200), default=100.0, show_default=True,
              help="Resolution a PDF page is rendered at.")
@click.option("--verify-threshold", type=click.FloatRange(0, 1),
              help="How closely a redrawn word must match the original to be kept as text "
                   "(else its ink is kept as a patch, see --ink-share, or left to the background). "
                   "[default: from layout.LayoutConfig]")
@click.option("--ink-share", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Words that are not redrawn keep their original ink as bilevel patches, "
                   "smallest first, in at most this share of the bytes the text layer leaves "
                   "(and 30% more of those past the first 2 KB); "
                   "more keeps more words readable and less background detail; "
                   "0 leaves them to the background codec.")
@click.option("--keep", "keep_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write intermediate images (text mask, background, redrawn glyphs, ink patches, "
                   "rejected words) here.")
@click.option("-v", "--verbose", is_flag=True, help="Print the stages as they run.")
def encode(input, output, mode, bpp, quality, page, dpi, verify_threshold, ink_share, keep_dir, verbose):
    """Encode an image or a PDF page to a .picd file."""
    from dataclasses import replace

    from layout.analyze import LayoutConfig
    from picd.api import encode_detailed, keep_intermediates
    from picd.imageio import write_atomic

    if bpp is not None and quality is not None:
        raise click.UsageError("give either --bpp or --quality, not both")
    cfg = LayoutConfig()
    if verify_threshold is not None:
        cfg = replace(cfg, verify_threshold=verify_threshold)
    res = encode_detailed(input, mode=mode, bpp=bpp, quality=quality, page=page, dpi=dpi,
                          layout_config=cfg, ink_share=ink_share, progress=_progress(verbose))
    out = output or input.with_suffix(".picd")
    write_atomic(out, res.data)
    for w in res.warnings:
        click.echo(f"picd: warning: {w}", err=True)
    if keep_dir is not None:
        keep_intermediates(res, keep_dir)
    n_words = res.analysis.layer.n_words if res.analysis else 0
    n_rej = len(res.analysis.rejected) if res.analysis else 0
    click.echo(
        f"{out}: {len(res.data)} bytes, {res.bpp:.4f} bpp ({res.width}x{res.height}, {res.mode.name.lower()}; "
        f"text {res.text_bytes} B for {n_words} words, {n_rej} not redrawn, "
        f"{res.ink_patches} of them as ink patches ({res.ink_bytes} B); "
        f"background {res.background_bytes} B) in {res.timings['total']:.1f} s"
    )


@cli.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output image; format from the suffix [default: INPUT with the suffix .png].")
@click.option("--renderer", type=click.Choice(["paste"]), default="paste", show_default=True,
              help="paste: glyphs drawn over the decoded background.")
def decode(input, output, renderer):
    """Decode a .picd file to an image."""
    from picd.api import decode_detailed
    from picd.imageio import save_image_atomic

    data = _read(input)
    dec = decode_detailed(data, renderer=renderer)
    out = output or input.with_suffix(".png")
    save_image_atomic(out, dec.image)
    click.echo(f"{out}: {dec.container.width}x{dec.container.height}")


def _read(path: Path) -> bytes:
    from picd.errors import BadInputError

    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror})") from None


@cli.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(input, as_json):
    """Show what is inside a .picd file: size, bpp, bytes per section, text."""
    from layout.ink import CODECS as INK_CODECS
    from layout.ink import count_patches
    from layout.textcoder import decode_layer
    from picd import container as ct
    from picd.api import TEXT_CODEC_ID

    data = _read(input)
    c = ct.unpack(data)
    text = c.section(ct.Tag.TEXT)
    layer = decode_layer(text.payload, c.width, c.height) if text and text.codec == TEXT_CODEC_ID else None
    ink = c.section(ct.Tag.INK)
    n_patches = count_patches(ink.payload) if ink and ink.codec in INK_CODECS else 0
    d = {
        "file": str(input),
        "width": c.width,
        "height": c.height,
        "mode": c.mode.name.lower(),
        "bytes": len(data),
        "bpp": len(data) * 8 / (c.width * c.height),
        "sections": [
            {"tag": ct.Tag(s.tag).name.lower() if s.tag in ct.Tag._value2member_map_ else s.tag,
             "codec": s.codec, "bytes": len(s.payload)}
            for s in c.sections
        ],
        "header_bytes": len(data) - sum(len(s.payload) for s in c.sections),
        "lines": len(layer.lines) if layer else 0,
        "words": layer.n_words if layer else 0,
        "characters": layer.n_chars if layer else 0,
        "ink_patches": n_patches,
    }
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(f"{d['file']}: {d['width']}x{d['height']} {d['mode']}, {d['bytes']} bytes, {d['bpp']:.4f} bpp")
    for s in d["sections"]:
        click.echo(f"  {s['tag']:<11} codec {s['codec']}  {s['bytes']:>7} bytes")
    click.echo(f"  {'framing':<11}          {d['header_bytes']:>7} bytes (header, section headers, checksum)")
    click.echo(f"  text: {d['lines']} lines, {d['words']} words, {d['characters']} characters; "
               f"{d['ink_patches']} ink patches")


@cli.command(name="eval")
@click.argument("original", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("decoded", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path),
              help="Reference text (.txt). Default: the PDF's text layer, else OCR of ORIGINAL.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="PDF page, if ORIGINAL is a PDF.")
@click.option("--dpi", type=click.FloatRange(10, 1200), default=100.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def eval_(original, decoded, truth, page, dpi, as_json):
    """Measure DECODED (an image, or a .picd file) against ORIGINAL.

    Prints bpp (when DECODED is a .picd file), PSNR, MS-SSIM, GMSD, and the OCR character
    error rate and word F1 of the decoded image against the truth text.
    """
    from picd import metrics
    from picd.api import decode
    from picd.container import is_picd
    from picd.imageio import load_image, load_input

    ref = load_input(original, page=page, dpi=dpi)
    raw = _read(decoded)
    bpp = None
    if is_picd(raw):
        img = np.asarray(decode(raw))
        bpp = len(raw) * 8 / (img.shape[0] * img.shape[1])
    else:
        img = load_image(decoded)
    if img.shape != ref.image.shape:
        from picd.errors import BadInputError

        raise BadInputError(f"sizes differ: original {ref.image.shape[1]}x{ref.image.shape[0]}, "
                            f"decoded {img.shape[1]}x{img.shape[0]}")
    if truth is not None:
        ref_text, source = _read(truth).decode("utf-8", "replace"), "truth file"
    else:
        ref_text, source = metrics.reference_text(ref.image, ref.lines)
    hyp = metrics.ocr_text(img)
    d = {
        "bpp": bpp,
        "psnr": metrics.psnr(ref.image, img),
        "ms_ssim": metrics.ms_ssim(ref.image, img),
        "gmsd": metrics.gmsd(ref.image, img),
        "cer": metrics.cer(hyp, ref_text),
        "word_f1": metrics.word_f1(hyp, ref_text),
        "truth": source,
    }
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    if bpp is not None:
        click.echo(f"bpp      {bpp:.4f}")
    click.echo(f"PSNR     {d['psnr']:.2f} dB\nMS-SSIM  {d['ms_ssim']:.4f}\nGMSD     {d['gmsd']:.4f}")
    click.echo(f"CER      {d['cer']:.4f}\nword F1  {d['word_f1']:.4f}   (against {source})")


from picd.bench import bench_command  # noqa: E402

cli.add_command(bench_command, "bench")


@cli.command(name="train-codec", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train_codec(args):
    """Train the learned background codec (options: picd train-codec --help).

    Runs on CPU (slow, resumable with --resume) or on a CUDA GPU when one is present.
    """
    from picd.learned.train import main as train_main

    train_main(list(args))


def main() -> None:
    cli(prog_name="picd")


if __name__ == "__main__":
    main()
