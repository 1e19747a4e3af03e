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
- ``fontpkg-roboto``, ``fontpkg-inter``, ``fontpkg-open-sans``, ``fontpkg-lato``,
  ``fontpkg-jetbrains-mono`` and ``fontpkg-roboto-mono`` (SIL OFL 1.1) ship the faces of much UI
  and web text (Android and Google pages, web apps, IDEs and terminals). Of the faces tried on the
  64 screenshots of ``../shared/data/screen`` these are the ones that redrew words no other face
  verified (Noto Sans, Source Sans 3, IBM Plex Sans, Fira Sans and Source Code Pro each under 300
  words in all, and not added). Five serif faces tried for pages set in Georgia-like faces
  (Merriweather, PT Serif, Noto Serif, Source Serif 4, Lora) lowered the words accepted over
  those screenshots, and were not added either (docs/history.md).
- ``pymupdf`` carries the PDF base-14 faces that MuPDF renders Helvetica, Times and Courier with
  (URW's Nimbus Sans, Nimbus Roman and Nimbus Mono); they are read from the package at run
  time (`pymupdf.Font(name).buffer`), never copied into this repository. They match PDFs that
  use those fonts exactly, and Courier matches typewritten pages and terminals.
"""

from __future__ import annotations

import importlib
import io
import os
import re
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

    @property
    def typeface(self) -> str:
        """The name without its style words: the faces of one typeface share it."""
        return re.sub(r" (Bold|Italic|Oblique)\b", "", self.name)


def _variable(name: str, package: str, upright: str, italic: str, family: str) -> list[tuple]:
    """Table rows of a typeface shipped as variable fonts (one file per slant, ``wght`` axis):
    regular, bold, italic, bold italic, in that order."""
    return [(name, package, upright, family, False, False, 400),
            (f"{name} Bold", package, upright, family, True, False, 700),
            (f"{name} Italic", package, italic, family, False, True, 400),
            (f"{name} Bold Italic", package, italic, family, True, True, 700)]


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
        *_variable("Arimo", "fontpkg_arimo", "Arimo[wght].ttf", "Arimo-Italic[wght].ttf", "sans"),
        # base-14 faces from pymupdf: `file` is the PyMuPDF font code
        ("Helvetica (Nimbus Sans)", "pymupdf", "helv", "sans", False, False, None),
        ("Helvetica Bold (Nimbus Sans)", "pymupdf", "hebo", "sans", True, False, None),
        ("Helvetica Oblique (Nimbus Sans)", "pymupdf", "heit", "sans", False, True, None),
        ("Helvetica Bold Oblique (Nimbus Sans)", "pymupdf", "hebi", "sans", True, True, None),
        ("Times (Nimbus Roman)", "pymupdf", "tiro", "serif", False, False, None),
        ("Times Bold (Nimbus Roman)", "pymupdf", "tibo", "serif", True, False, None),
        ("Times Italic (Nimbus Roman)", "pymupdf", "tiit", "serif", False, True, None),
        ("Times Bold Italic (Nimbus Roman)", "pymupdf", "tibi", "serif", True, True, None),
        ("Courier (Nimbus Mono)", "pymupdf", "cour", "mono", False, False, None),
        ("Courier Bold (Nimbus Mono)", "pymupdf", "cobo", "mono", True, False, None),
        ("Courier Oblique (Nimbus Mono)", "pymupdf", "coit", "mono", False, True, None),
        ("Courier Bold Oblique (Nimbus Mono)", "pymupdf", "cobi", "mono", True, True, None),
        # faces of UI and web text (SIL OFL 1.1), one fontpkg package each
        *_variable("Roboto", "fontpkg_roboto", "Roboto[wdth,wght].ttf",
                   "Roboto-Italic[wdth,wght].ttf", "sans"),
        *_variable("Inter", "fontpkg_inter", "Inter[opsz,wght].ttf", "Inter-Italic[opsz,wght].ttf",
                   "sans"),
        *_variable("Open Sans", "fontpkg_open_sans", "OpenSans[wdth,wght].ttf",
                   "OpenSans-Italic[wdth,wght].ttf", "sans"),
        ("Lato", "fontpkg_lato", "Lato-Regular.ttf", "sans", False, False, None),
        ("Lato Bold", "fontpkg_lato", "Lato-Bold.ttf", "sans", True, False, None),
        ("Lato Italic", "fontpkg_lato", "Lato-Italic.ttf", "sans", False, True, None),
        ("Lato Bold Italic", "fontpkg_lato", "Lato-BoldItalic.ttf", "sans", True, True, None),
        *_variable("JetBrains Mono", "fontpkg_jetbrains_mono", "JetBrainsMono[wght].ttf",
                   "JetBrainsMono-Italic[wght].ttf", "mono"),
        *_variable("Roboto Mono", "fontpkg_roboto_mono", "RobotoMono[wght].ttf",
                   "RobotoMono-Italic[wght].ttf", "mono"),
    ]
    return tuple(
        FontSpec(i, name, pkg, file, fam, bold, italic, fam == "mono", weight)
        for i, (name, pkg, file, fam, bold, italic, weight) in enumerate(rows)
    )


FONTS: tuple[FontSpec, ...] = _table()
"""Append-only: ids are indexes and are stored in files. Never reorder or remove."""


def style_twin(font_id: int, bold: bool, italic: bool) -> int | None:
    """The face of `font_id`'s typeface (same package) with the given weight and slant, if the
    table has it."""
    s = FONTS[font_id]
    return next((t.id for t in FONTS if t.package == s.package and t.typeface == s.typeface
                 and t.bold == bold and t.italic == italic), None)


@lru_cache(maxsize=None)
def _package_font_dir(package: str) -> str:
    mod = importlib.import_module(package)
    root = os.path.dirname(mod.__file__)
    if package == "matplotlib":
        return os.path.join(root, "mpl-data", "fonts", "ttf")
    return os.path.join(root, "files")


def font_path(font_id: int) -> str:
    """Absolute path of the font file of face `font_id` (for pymupdf faces: ``pymupdf:<code>``).

    Raises:
        KeyError: unknown id.
        ModuleNotFoundError: the package that ships the face is not installed.
    """
    if not 0 <= font_id < len(FONTS):
        raise KeyError(f"unknown font id {font_id}")
    spec = FONTS[font_id]
    if spec.package == "pymupdf":
        return f"pymupdf:{spec.file}"
    return os.path.join(_package_font_dir(spec.package), spec.file)


@lru_cache(maxsize=None)
def _pymupdf_font(code: str):
    import pymupdf

    return pymupdf.Font(code)


@lru_cache(maxsize=None)
def font_available(font_id: int) -> bool:
    """Whether the package of face `font_id` is installed (the encoder only picks those)."""
    try:
        if FONTS[font_id].package == "pymupdf":
            return len(_pymupdf_font(FONTS[font_id].file).buffer) > 0
        return os.path.exists(font_path(font_id))
    except (KeyError, IndexError, ImportError, RuntimeError):
        return False


@lru_cache(maxsize=512)
def load_font(font_id: int, size: int) -> ImageFont.FreeTypeFont:
    """The face at em size `size` px, with Pillow's basic layout (no raqm) for determinism.

    Cached: callers must not change the returned object (e.g. its variation).
    """
    spec = FONTS[font_id]
    src = io.BytesIO(_pymupdf_font(spec.file).buffer) if spec.package == "pymupdf" else font_path(font_id)
    font = ImageFont.truetype(src, max(1, int(size)), layout_engine=ImageFont.Layout.BASIC)
    if spec.weight is not None:
        # Every axis at its default except the weight (``wdth`` of Open Sans, Noto Sans, ...).
        axes = font.get_variation_axes()
        font.set_variation_by_axes([spec.weight if bytes(a.get("name", b"")).lower() in (b"weight", b"wght")
                                    else a["default"] for a in axes])
    return font


@lru_cache(maxsize=None)
def _codepoints(font_id: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    if FONTS[font_id].package == "pymupdf":
        f = _pymupdf_font(FONTS[font_id].file)
        return frozenset(cp for cp in f.valid_codepoints() if cp)

    with TTFont(font_path(font_id), lazy=True) as tt:
        return frozenset(tt.getBestCmap() or ())


def covers(font_id: int, text: str) -> bool:
    """Whether face `font_id` has a glyph for every character of `text`."""
    cps = _codepoints(font_id)
    return all(ord(c) in cps for c in text)
