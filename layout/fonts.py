"""The font table of the text layer.

`FONTS` is an **append-only** tuple: a font's id is its index, it is written into every ``.picd``
file (`layout.model.Style.font`), and so it must never be reordered, removed or made to point at
a different face. Add new faces at the end only.

Every face comes from an installed Python package, never from the system or the network, so that
the encoder and every decoder rasterise the same outlines:

- ``matplotlib`` ships DejaVu Sans / Sans Mono / Serif (regular, bold, oblique, bold-oblique) and
  STIXGeneral (a Times-like serif: regular, bold, italic, bold-italic) in ``mpl-data/fonts/ttf``.
- ``fontpkg-arimo`` (SIL OFL 1.1) ships Arimo, metric-compatible with Arial/Helvetica, the most
  common face on web pages and documents, as one variable font (``wght`` 400..700).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageFont


@dataclass(frozen=True)
class FontSpec:
    """One face of the font table.

    Attributes:
        id: index in `FONTS` (written into files; never changes).
        name: human-readable name of the face.
        package: the Python package whose files hold the face.
        file: path of the font file relative to the package's font folder (see `font_path`).
        family: ``"sans"``, ``"serif"`` or ``"mono"``.
        bold, italic, mono: style of the face.
        weight: ``wght`` axis value for variable fonts, else None.
    """

    id: int
    name: str
    package: str
    file: str
    family: str
    bold: bool
    italic: bool
    mono: bool
    weight: int | None = None


def _table() -> tuple[FontSpec, ...]:
    rows = [
        # name, package, file, family, bold, italic, weight
        ("DejaVu Sans", "matplotlib", "DejaVuSans.ttf", "sans", False, False, None),
        ("DejaVu Sans Bold", "matplotlib", "DejaVuSans-Bold.ttf", "sans", True, False, None),
        ("DejaVu Sans Oblique", "matplotlib", "DejaVuSans-Oblique.ttf", "sans", False, True, None),
        ("DejaVu Sans Bold Oblique", "matplotlib", "DejaVuSans-BoldOblique.ttf", "sans", True, True,
         None),
        ("DejaVu Sans Mono", "matplotlib", "DejaVuSansMono.ttf", "mono", False, False, None),
        ("DejaVu Sans Mono Bold", "matplotlib", "DejaVuSansMono-Bold.ttf", "mono", True, False, None),
        ("DejaVu Sans Mono Oblique", "matplotlib", "DejaVuSansMono-Oblique.ttf", "mono", False, True,
         None),
        ("DejaVu Sans Mono Bold Oblique", "matplotlib", "DejaVuSansMono-BoldOblique.ttf", "mono",
         True, True, None),
        ("DejaVu Serif", "matplotlib", "DejaVuSerif.ttf", "serif", False, False, None),
        ("DejaVu Serif Bold", "matplotlib", "DejaVuSerif-Bold.ttf", "serif", True, False, None),
        ("DejaVu Serif Italic", "matplotlib", "DejaVuSerif-Italic.ttf", "serif", False, True, None),
        ("DejaVu Serif Bold Italic", "matplotlib", "DejaVuSerif-BoldItalic.ttf", "serif", True, True,
         None),
        ("STIX General", "matplotlib", "STIXGeneral.ttf", "serif", False, False, None),
        ("STIX General Bold", "matplotlib", "STIXGeneralBol.ttf", "serif", True, False, None),
        ("STIX General Italic", "matplotlib", "STIXGeneralItalic.ttf", "serif", False, True, None),
        ("STIX General Bold Italic", "matplotlib", "STIXGeneralBolIta.ttf", "serif", True, True,
         None),
        ("Arimo", "fontpkg_arimo", "Arimo[wght].ttf", "sans", False, False, 400),
        ("Arimo Bold", "fontpkg_arimo", "Arimo[wght].ttf", "sans", True, False, 700),
        ("Arimo Italic", "fontpkg_arimo", "Arimo-Italic[wght].ttf", "sans", False, True, 400),
        ("Arimo Bold Italic", "fontpkg_arimo", "Arimo-Italic[wght].ttf", "sans", True, True, 700),
    ]
    return tuple(
        FontSpec(i, name, pkg, file, fam, bold, italic, fam == "mono", weight)
        for i, (name, pkg, file, fam, bold, italic, weight) in enumerate(rows)
    )


FONTS: tuple[FontSpec, ...] = _table()
"""Append-only: ids are indexes and are stored in files. Never reorder or remove."""


@lru_cache(maxsize=None)
def _package_font_dir(package: str) -> str:
    mod = importlib.import_module(package)
    root = os.path.dirname(mod.__file__)
    if package == "matplotlib":
        return os.path.join(root, "mpl-data", "fonts", "ttf")
    return os.path.join(root, "files")


def font_path(font_id: int) -> str:
    """Absolute path of the font file of face `font_id`.

    Raises:
        KeyError: unknown id.
        ModuleNotFoundError: the package that ships the face is not installed.
    """
    if not 0 <= font_id < len(FONTS):
        raise KeyError(f"unknown font id {font_id}")
    spec = FONTS[font_id]
    return os.path.join(_package_font_dir(spec.package), spec.file)


@lru_cache(maxsize=None)
def font_available(font_id: int) -> bool:
    """Whether the package of face `font_id` is installed (the encoder only picks those)."""
    try:
        return os.path.exists(font_path(font_id))
    except (KeyError, ImportError):
        return False


@lru_cache(maxsize=512)
def load_font(font_id: int, size: int) -> ImageFont.FreeTypeFont:
    """The face at em size `size` px, with Pillow's basic layout (no raqm) for determinism.

    Cached: callers must not change the returned object (e.g. its variation).
    """
    spec = FONTS[font_id]
    font = ImageFont.truetype(font_path(font_id), max(1, int(size)),
                              layout_engine=ImageFont.Layout.BASIC)
    if spec.weight is not None:
        font.set_variation_by_axes([spec.weight])
    return font


@lru_cache(maxsize=None)
def _codepoints(font_id: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(font_path(font_id), lazy=True) as tt:
        return frozenset(tt.getBestCmap() or ())


def covers(font_id: int, text: str) -> bool:
    """Whether face `font_id` has a glyph for every character of `text`."""
    cps = _codepoints(font_id)
    return all(ord(c) in cps for c in text)
