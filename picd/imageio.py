"""Reading inputs (images and PDF pages) into one RGB array, and writing outputs atomically."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr.base import OcrLine
from picd.errors import BadInputError, OutputError

#: Largest image picd codes, in pixels (about 8000 x 5000). Larger inputs are refused before
#: they are decoded, so a huge or malicious file cannot exhaust memory.
MAX_PIXELS = 40_000_000
#: Smallest side, in pixels.
MIN_SIDE = 8

Source = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]


@dataclass(frozen=True)
class Page:
    """One input page: the RGB image and, for PDFs, its exact text layer (else None)."""

    image: np.ndarray
    lines: list[OcrLine] | None
    kind: str  # "image" or "pdf"
    name: str = ""


def is_pdf(src: Source) -> bool:
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if p.suffix.lower() == ".pdf":
            return True
        try:
            with open(p, "rb") as f:
                return f.read(5) == b"%PDF-"
        except OSError:
            return False
    if isinstance(src, bytes):
        return src[:5] == b"%PDF-"
    return False


def load_input(src: Source, page: int = 1, dpi: float = 100.0) -> Page:
    """Load an image (path, bytes, PIL image or array) or one page of a PDF (1-based ``page``)."""
    if is_pdf(src):
        if isinstance(src, bytes):
            with tempfile.NamedTemporaryFile(suffix=".pdf", delete=False) as f:
                f.write(src)
                tmp = f.name
            try:
                return _load_pdf(tmp, page, dpi)
            finally:
                os.unlink(tmp)
        return _load_pdf(str(src), page, dpi)
    return Page(load_image(src), None, "image", _name(src))


def _name(src: Source) -> str:
    return Path(src).name if isinstance(src, (str, os.PathLike)) else ""


def _load_pdf(path: str, page: int, dpi: float) -> Page:
    from ocr.pdf import page_count, render_page

    n = page_count(path)
    if not 1 <= page <= n:
        raise BadInputError(f"{Path(path).name}: page {page} out of range (the PDF has {n} page(s))")
    if not 10 <= dpi <= 1200:
        raise BadInputError(f"dpi {dpi} out of range (10..1200)")
    image, lines = render_page(path, page - 1, dpi)
    _check_size(image.shape[1], image.shape[0], Path(path).name)
    return Page(image, lines or None, "pdf", Path(path).name)


def _check_size(w: int, h: int, name: str) -> None:
    label = f"{name}: " if name else ""
    if w < MIN_SIDE or h < MIN_SIDE:
        raise BadInputError(f"{label}image too small ({w}x{h}; picd needs at least {MIN_SIDE}x{MIN_SIDE} pixels)")
    if w * h > MAX_PIXELS:
        raise BadInputError(
            f"{label}image too large ({w}x{h} = {w * h / 1e6:.0f} MP; picd codes at most "
            f"{MAX_PIXELS / 1e6:.0f} MP, crop or scale it first)"
        )


def load_image(src: Source) -> np.ndarray:
    """Any Pillow-readable image as RGB uint8 (H, W, 3), upright (EXIF orientation applied).

    Grey, palette and 16-bit images are converted; transparency is composited over white.
    """
    name = _name(src)
    label = f"{name}: " if name else ""
    if isinstance(src, np.ndarray):
        return _from_array(src)
    try:
        if isinstance(src, Image.Image):
            im = src
        else:
            with _bomb_limit(None):  # our own size check below names the limit
                im = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
        _check_size(im.width, im.height, name)
        with _bomb_limit(MAX_PIXELS):
            im.load()
        im = ImageOps.exif_transpose(im)
    except BadInputError:
        raise
    except FileNotFoundError:
        raise BadInputError(f"{src}: no such file") from None
    except IsADirectoryError:
        raise BadInputError(f"{src}: is a directory, not an image") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{label}not an image picd can read ({exc.__class__.__name__})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"{label}cannot read image ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})") from None
    return _to_rgb(im)


class _bomb_limit:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit

    def __enter__(self) -> None:
        self.old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = self.limit

    def __exit__(self, *exc: object) -> None:
        Image.MAX_IMAGE_PIXELS = self.old


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        g = np.clip(np.rint(a / hi * 255), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _from_array(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise BadInputError(f"array of shape {a.shape} is not an RGB image")
    _check_size(a.shape[1], a.shape[0], "")
    if a.dtype == np.uint16:
        a = np.rint(a / 257.0)
    elif a.dtype.kind == "f":
        a = np.rint(np.clip(a, 0.0, 1.0) * 255) if a.max() <= 1.0 else a
    a = np.clip(a, 0, 255).astype(np.uint8)
    if a.shape[2] == 4:
        alpha = a[..., 3:4].astype(np.float32) / 255
        a = np.rint(a[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename, so that
    a failed or interrupted write never leaves a partial file behind."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
        raise


def save_image_atomic(path: str | os.PathLike, image: np.ndarray | Image.Image) -> None:
    """Save an image (format from the suffix, PNG if none) atomically."""
    im = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    buf = io.BytesIO()
    try:
        im.save(buf, fmt)
    except (KeyError, ValueError, OSError) as exc:
        raise OutputError(f"{path}: cannot save as {fmt} ({exc})") from None
    write_atomic(path, buf.getvalue())
