"""Encode and decode: the pipeline as plain functions over explicit inputs.

Encode::

    page image --ocr--> words --layout.build_layer--> text layer (verified words only)
                                   |         |                 |
                             text mask   rejected words   layout.textcoder (lossless)
                                   |         |                 |
                                   |    layout.ink: ink patches that fit the ink budget
                                   v         |                 |
             remove_text(image, mask) -> BackgroundCodec       |
                                        \\     |               /
                                         .picd container (docs/bitstream.md)

Decode: container -> background + ink patches painted on it + text layer -> renderer -> image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from layout.analyze import Analysis, LayoutConfig, build_layer
from layout.ink import CODECS as INK_CODECS
from layout.ink import (InkPatch, decode_patches, encode_patches, find_patches, fit_patches, lost_ink,
                        paint_patches, patch_mask)
from layout.model import TextLayer
from layout.textcoder import decode_layer, encode_layer
from ocr.base import OcrEngine
from picd import container as ct
from picd.background import ClassicalBackgroundCodec, get_background_codec, remove_text
from picd.errors import BadInputError, BadStreamError, PicdError
from picd.imageio import Page, Source, load_input, save_image_atomic, write_atomic

#: Default target when neither ``bpp`` nor ``quality`` is given, per mode.
DEFAULT_BPP = {ct.Mode.NATURAL: 0.05, ct.Mode.SCREEN: 0.02, ct.Mode.DOCUMENT: 0.02}
MODES = ("auto", "screen", "document", "natural")
#: Text codec id in the container (append-only).
TEXT_CODEC_ID = 1
#: Ink patch codec id that encoders write (append-only; `layout.ink.CODECS` lists those read).
INK_CODEC_ID = INK_CODECS[-1]
#: Default share of the bytes the text layer leaves that ink patches may take (see `code`).
INK_SHARE = 0.4
#: ... and, with a share above 0, this much more of those bytes past the first `INK_MORE_FROM`:
#: a background of a few hundred bytes needs them all, a larger one gives up some detail for more
#: readable words (see `code`).
INK_MORE = 0.3
INK_MORE_FROM = 2048
#: A word not redrawn gets an ink patch only where the background coded without patches keeps
#: its ink poorly: 1 - Dice overlap of original and decoded ink (`layout.ink.lost_ink`) above this. At
#: high rates the background alone keeps many such words readable.
INK_ERROR = 0.1
#: Words of these em sizes (pixels) or more are also tried as ink patches (see `code`).
LARGE_TEXT_EM = (28, 20)
#: ... and kept so where the decoded image's PSNR is at least this many dB higher.
LARGE_TEXT_GAIN = 0.1

Progress = Callable[[str], None]


def _check_target(bpp: float | None, quality: float | None) -> None:
    if bpp is not None and quality is not None:
        raise BadInputError("give either a target bpp or a quality, not both")
    if bpp is not None and not 0 < bpp <= 24:
        raise BadInputError(f"target bpp {bpp} out of range (0 < bpp <= 24)")


def quality_to_bpp(quality: float) -> float:
    """``--quality Q`` (0..100) -> background rate: 0.002 * 2**(Q / 12.5) bits per pixel
    (0.002 at Q=0, 0.032 at Q=50, 0.512 at Q=100); the text layer is lossless on top."""
    if not 0 <= quality <= 100:
        raise BadInputError(f"quality {quality} out of range (0..100)")
    return 0.002 * 2 ** (quality / 12.5)


@dataclass
class EncodeResult:
    """Everything the encoder made, for `picd info`, the benchmark and ``--keep``."""

    data: bytes
    mode: ct.Mode
    width: int
    height: int
    text_bytes: int
    background_bytes: int
    target_bytes: int | None
    analysis: Analysis | None
    background: np.ndarray  # the background that was coded (text removed)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    ink_bytes: int = 0
    ink: tuple[InkPatch, ...] = ()  # the coded ink patches, in the order they are painted

    @property
    def ink_patches(self) -> int:
        return len(self.ink)

    @property
    def bpp(self) -> float:
        return len(self.data) * 8 / (self.width * self.height)


def _note(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


@dataclass(frozen=True)
class Analysed:
    """What the encoder knows about a page before it spends any bytes (see `analyse`)."""

    page: Page
    mode: ct.Mode
    analysis: Analysis | None
    text_payload: bytes
    background: np.ndarray  # text removed
    weight: np.ndarray | None  # 0 where redrawn glyphs will cover the background
    timings: dict[str, float]
    ink: tuple[InkPatch, ...] = ()  # candidate ink patches of the rejected words


def analyse(
    page: Page,
    *,
    mode: str = "auto",
    layout_config: LayoutConfig | None = None,
    ocr_engine: str | OcrEngine = "rapidocr",
    progress: Progress | None = None,
) -> Analysed:
    """Stage 1 of encoding, independent of the target size: recognise the text (or take the PDF's
    text layer), build and verify the text layer, code it, and take the text out of the image.

    ``ocr_engine`` is an engine name from `ocr.ENGINES` or an `ocr.base.OcrEngine` instance; it is
    used for raster input (a PDF page with a text layer uses that layer).
    """
    if mode not in MODES:
        raise BadInputError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    image = page.image
    h, w = image.shape[:2]
    timings: dict[str, float] = {}
    analysis: Analysis | None = None
    if mode == "natural":
        cmode = ct.Mode.NATURAL
    else:
        t = time.perf_counter()
        if page.lines is not None:
            lines = page.lines
        else:
            from ocr import get_engine

            _note(progress, "recognising text")
            engine = get_engine(ocr_engine) if isinstance(ocr_engine, str) else ocr_engine
            lines = engine.recognize(image)
        timings["ocr"] = time.perf_counter() - t
        t = time.perf_counter()
        _note(progress, f"analysing {sum(len(l.words) for l in lines)} words")
        analysis = build_layer(image, lines, layout_config or LayoutConfig())
        timings["layout"] = time.perf_counter() - t
        if mode == "auto":
            if page.kind == "pdf":
                cmode = ct.Mode.DOCUMENT
            else:
                cmode = ct.Mode.SCREEN if analysis.layer.lines else ct.Mode.NATURAL
        else:
            cmode = ct.Mode.SCREEN if mode == "screen" else ct.Mode.DOCUMENT

    layer = analysis.layer if analysis is not None else TextLayer(w, h, ())
    t = time.perf_counter()
    text_payload = encode_layer(layer) if layer.lines else b""
    timings["text"] = time.perf_counter() - t

    t = time.perf_counter()
    _note(progress, "removing text from the background")
    if analysis is not None and analysis.text_mask.any():
        background = remove_text(image, analysis.text_mask)
        weight = 1.0 - _coverage(layer)
    else:
        background, weight = image, None
    timings["inpaint"] = time.perf_counter() - t
    ink: tuple[InkPatch, ...] = ()
    if analysis is not None and analysis.rejected and cmode != ct.Mode.NATURAL:
        t = time.perf_counter()
        ink = tuple(find_patches(image, analysis.ink_words))
        timings["ink"] = time.perf_counter() - t
    return Analysed(page, cmode, analysis, text_payload, background, weight, timings, ink)


def code(
    a: Analysed,
    *,
    bpp: float | None = None,
    quality: float | None = None,
    ink_share: float = INK_SHARE,
    progress: Progress | None = None,
) -> EncodeResult:
    """Stage 2 of encoding: code the ink patches of rejected words and the background in the
    bytes the target leaves, and pack the file.

    ``ink_share`` (0..1): the ink patches (`layout.ink`, smallest first) take at most this share
    of the bytes the text layer leaves under the target (with ``quality``: of the background's
    rate), plus `INK_MORE` (30%) of those bytes past the first `INK_MORE_FROM` (2 KB), and never
    the bytes the background needs at its floor; 0 turns them off. (A background of a few
    hundred bytes needs every one of them: at a flat 55% the 11 screenshots under 1000 bytes at
    0.02 bpp lost 0.022 of MS-SSIM, the other 53 gained word F1 and kept theirs; 30% more past
    2 KB read better than 15% and kept every screenshot's fidelity at or above AVIF's where 15%
    did; 45% did not; docs/history.md.) Only words
    that the background coded without patches leaves unreadable (`INK_ERROR`) get one; the
    background is then coded again without their ink: in the bytes left under a target, or at
    the same rate with ``quality`` (the patches come on top).
    Run it several times on one `Analysed` to code one page at several sizes.

    Where the layer has large text (em size 28 px or more, then 20: `LARGE_TEXT_EM`), the file
    is also made with that text as ink patches instead of redrawn glyphs (`_large_text_as_ink`);
    the closest to the original of those in which every such patch fits and, with ``quality``,
    the file is no bigger is kept if its decoded PSNR is at least `LARGE_TEXT_GAIN` dB higher: a
    face close to but not the same as the original's costs a large word's every edge, its own
    ink costs bytes only. A try whose moved words' patches alone are over the most the file
    could give ink patches is not coded.
    """
    _check_target(bpp, quality)
    if not 0 <= ink_share <= 1:
        raise BadInputError(f"ink share {ink_share} out of range (0..1)")
    codec = ClassicalBackgroundCodec()  # one for the page: it remembers what it has coded
    res = _code_once(a, bpp, quality, ink_share, progress, codec)
    if ink_share <= 0:
        return res
    t = time.perf_counter()
    h, w = a.page.image.shape[:2]
    tried, best, best_psnr = 0, res, None  # tried: words moved in the last try
    for em in LARGE_TEXT_EM:
        alt = _large_text_as_ink(a, em)
        if alt is None or len(alt[1]) == tried:  # none, or the same words as the last try
            continue
        a2, moved = alt
        tried = len(moved)
        try:
            need = len(encode_patches(moved, w, h))
        except ValueError:  # over the format's limits: they cannot all be coded
            continue
        if need > _ink_budget_bound(a2, bpp, quality, ink_share, codec):
            continue  # the moved words' patches alone are over any ink budget this file has
        _note(progress, f"trying {len(moved)} words of em {em} px or more as ink patches")
        res2 = _code_once(a2, bpp, quality, ink_share, progress, codec)
        coded = {(p.x, p.y, p.mask.shape) for p in res2.ink}
        # Under a target both files fit it; with ``quality``, the patches come on top: no bigger
        # file. No word may vanish: every patch of the moved words is coded.
        if not all((p.x, p.y, p.mask.shape) in coded for p in moved) or (
                res2.target_bytes is None and len(res2.data) > len(res.data)):
            continue
        from picd.metrics import psnr

        if best_psnr is None:
            best_psnr = psnr(a.page.image, decode_detailed(res.data).image) + LARGE_TEXT_GAIN
        p2 = psnr(a.page.image, decode_detailed(res2.data).image)
        if p2 >= best_psnr:
            best, best_psnr = res2, p2
    if not tried:
        return res
    res = best
    res.timings["large_text"] = time.perf_counter() - t
    res.timings["total"] += res.timings["large_text"]
    return res


def _large_text_as_ink(a: Analysed, em: int) -> tuple[Analysed, list[InkPatch]] | None:
    """`a` with the layer's words of em size `em` or more taken out of the layer and given ink
    patches of the original's ink under their redrawn boxes (their text is already out of the
    background); and those patches. None where there are no such words."""
    if a.analysis is None or a.mode == ct.Mode.NATURAL:
        return None
    from layout.raster import word_alpha
    from ocr.base import OcrWord

    keep, moved = [], []
    for line in a.analysis.layer.lines:
        if line.style.size < em:
            keep.append(line)
            continue
        for w in line.words:
            al, dx, dy = word_alpha(w.text, line.style, w.width)
            if al.size:
                x0, y0 = w.x + dx, line.baseline + dy
                moved.append(OcrWord(w.text, (x0, y0, x0 + al.shape[1], y0 + al.shape[0]), 1.0))
    patches = find_patches(a.page.image, moved) if moved else []
    if not patches:
        return None
    h, w = a.page.image.shape[:2]
    layer = TextLayer(w, h, tuple(keep))
    analysis = replace(a.analysis, layer=layer)
    return replace(a, analysis=analysis, text_payload=encode_layer(layer) if keep else b"",
                   weight=1.0 - _coverage(layer), ink=tuple(patches) + a.ink), patches


def _budgets(a: Analysed, bpp: float | None, quality: float | None) -> tuple[int | None, int | None]:
    """The file's target in bytes (None with ``quality``) and, with ``quality``, the
    background's budget (None under a target)."""
    h, w = a.page.image.shape[:2]
    if bpp is None and quality is not None:
        return None, int(quality_to_bpp(quality) * w * h / 8)
    return int((bpp if bpp is not None else DEFAULT_BPP[a.mode]) * w * h / 8), None


def _ink_budget(room: int, ink_share: float, min_bytes: int) -> int:
    """Bytes the ink patches may take of the ``room`` that the background and they share:
    ``ink_share`` of it, and `INK_MORE` of what it has past `INK_MORE_FROM` bytes."""
    share = ink_share * room + (INK_MORE * max(0, room - INK_MORE_FROM) if ink_share > 0 else 0.0)
    # the section header: tag and codec ids, and the payload's length
    return min(int(share), room - min_bytes - 2 - len(ct.write_varint(max(0, room))))


def _ink_budget_bound(a: Analysed, bpp: float | None, quality: float | None,
                      ink_share: float, codec: ClassicalBackgroundCodec) -> int:
    """At least the ink budget `_code_once` gives `a` (the background section's length bytes,
    not known yet, left out), for skipping a file that cannot hold some patches."""
    h, w = a.page.image.shape[:2]
    target, bg_budget = _budgets(a, bpp, quality)
    room = bg_budget or 0
    if target is not None:
        room = target - _framing(_text_sections(a), w, h)
    return _ink_budget(room, ink_share, codec.min_bytes())


def _text_sections(a: Analysed) -> list[ct.Section]:
    return [ct.Section(ct.Tag.TEXT, TEXT_CODEC_ID, a.text_payload)] if a.text_payload else []


def _framing(sections: list[ct.Section], w: int, h: int) -> int:
    """Bytes of a file with these sections and a background section, but for the background's
    payload and its length's bytes past the first."""
    return ct.overhead(len(sections) + 1, w, h) + sum(_len_extra(len(s.payload)) + len(s.payload)
                                                      for s in sections)


def _code_once(a: Analysed, bpp: float | None, quality: float | None, ink_share: float,
               progress: Progress | None, codec: ClassicalBackgroundCodec) -> EncodeResult:
    """`code` with the layer as it is (arguments checked by `code`), coding the background with
    ``codec`` (one instance per page)."""
    h, w = a.page.image.shape[:2]
    warnings: list[str] = []
    target, bg_budget = _budgets(a, bpp, quality)

    text = a.text_payload
    text_sections = _text_sections(a)

    def pack(ink: bytes, background: np.ndarray, weight: np.ndarray | None) -> tuple[bytes, bytes, list[str]]:
        """The file with these ink patches and this background in the bytes left."""
        sections = text_sections + ([ct.Section(ct.Tag.INK, INK_CODEC_ID, ink)] if ink else [])
        fixed = _framing(sections, w, h)
        notes = []
        budget = bg_budget
        if budget is None:
            assert target is not None
            budget = target - fixed
            if budget < codec.min_bytes():
                notes.append(
                    f"the text layer alone ({len(text)} bytes) leaves no room under the target "
                    f"of {target} bytes; the background is coded at its floor"
                )
                budget = codec.min_bytes()
        _note(progress, f"coding the background in {budget} bytes")
        for _ in range(3):  # the section's length varint may grow by a byte or two
            payload = codec.compress(background, budget, weight)
            data = ct.pack(ct.Container(w, h, a.mode, (*sections, ct.Section(ct.Tag.BACKGROUND, codec.codec_id, payload))))
            if target is None or len(data) <= target or budget <= codec.min_bytes():
                break
            budget = max(codec.min_bytes(), budget - (len(data) - target))
        return data, payload, notes

    t = time.perf_counter()
    data, bg_payload, notes = pack(b"", a.background, a.weight)
    ink, chosen, ink_s = b"", [], 0.0
    background = a.background
    if a.ink and ink_share > 0:
        t_ink = time.perf_counter()
        # Only words the background alone leaves unreadable get a patch.
        plain = codec.decompress(bg_payload, w, h)
        wanted = [p for p in a.ink if lost_ink(a.page.image, plain, p) > INK_ERROR]
        room = (target - len(data) + len(bg_payload)) if target is not None else bg_budget or 0
        ink_budget = _ink_budget(room, ink_share, codec.min_bytes())
        _note(progress, f"{len(wanted)} of {len(a.ink)} words not redrawn blur in the background: "
                        f"ink patches in up to {max(0, ink_budget)} bytes")
        ink, chosen = fit_patches(wanted, w, h, ink_budget)
        if chosen:
            # The patches' ink (and its anti-aliased fringe) leaves the background too.
            painted = patch_mask(chosen, w, h)
            fringe = cv2.dilate(painted.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            background = remove_text(a.background, fringe)
            weight = (np.ones((h, w), np.float32) if a.weight is None else a.weight) * ~painted
        ink_s = time.perf_counter() - t_ink
        if chosen:
            with_ink = pack(ink, background, weight)
            if target is None or len(with_ink[0]) <= target:
                data, bg_payload, notes = with_ink
            else:  # cannot happen with the budget above; never let the patches break the target
                ink, chosen, background = b"", [], a.background
    warnings += notes
    timings = dict(a.timings, background=time.perf_counter() - t - ink_s)
    timings["ink"] = timings.get("ink", 0.0) + ink_s
    timings["total"] = sum(timings.values())
    return EncodeResult(
        data=data,
        mode=a.mode,
        width=w,
        height=h,
        text_bytes=len(text),
        background_bytes=len(bg_payload),
        ink_bytes=len(ink),
        ink=tuple(chosen),
        target_bytes=target,
        analysis=a.analysis,
        background=background,
        warnings=warnings,
        timings=timings,
    )


def encode_detailed(
    src: Source | Page,
    *,
    mode: str = "auto",
    bpp: float | None = None,
    quality: float | None = None,
    page: int = 1,
    dpi: float = 100.0,
    layout_config: LayoutConfig | None = None,
    ocr_engine: str | OcrEngine = "rapidocr",
    ink_share: float = INK_SHARE,
    progress: Progress | None = None,
) -> EncodeResult:
    """Encode an image or PDF page; see `encode`. Returns the bytes and what was made on the way
    (`analyse` then `code`)."""
    _check_target(bpp, quality)  # before OCR, which takes seconds
    t = time.perf_counter()
    pg = src if isinstance(src, Page) else load_input(src, page=page, dpi=dpi)
    load_s = time.perf_counter() - t
    a = analyse(pg, mode=mode, layout_config=layout_config, ocr_engine=ocr_engine, progress=progress)
    res = code(a, bpp=bpp, quality=quality, ink_share=ink_share, progress=progress)
    res.timings["load"] = load_s
    res.timings["total"] += load_s
    return res


def _len_extra(n: int) -> int:
    return len(ct.write_varint(n)) - 1


def _coverage(layer: TextLayer) -> np.ndarray:
    from layout.raster import layer_coverage

    return np.clip(layer_coverage(layer), 0.0, 1.0)


def encode(
    src: Source,
    *,
    mode: str = "auto",
    bpp: float | None = None,
    quality: float | None = None,
    page: int = 1,
    dpi: float = 100.0,
    layout_config: LayoutConfig | None = None,
) -> bytes:
    """Encode an image or one PDF page to `.picd` bytes.

    Args:
        src: a path (image or PDF), file bytes, a PIL image or an RGB array.
        mode: ``auto`` (PDF -> document; image with text -> screen; else natural),
            ``screen``, ``document`` or ``natural`` (no text layer, background only).
        bpp: target size in bits per pixel, all file bytes counted; the file lands at or under
            it unless the lossless text layer alone is larger (then the background is coded at
            its floor). Default: `DEFAULT_BPP` for the mode.
        quality: instead of ``bpp``, 0..100 for the background (see `quality_to_bpp`).
        page: 1-based page of a PDF. dpi: resolution a PDF page is rendered at.
    """
    return encode_detailed(
        src, mode=mode, bpp=bpp, quality=quality, page=page, dpi=dpi, layout_config=layout_config
    ).data


@dataclass(frozen=True)
class Decoded:
    image: np.ndarray
    layer: TextLayer
    background: np.ndarray  # as decoded, before the ink patches are painted on it
    container: ct.Container
    ink: tuple[InkPatch, ...] = ()


def _check_codec(section: ct.Section, known: tuple[int, ...], what: str) -> None:
    if section.codec not in known:
        from picd.errors import MissingModelError

        raise MissingModelError(f"{what} codec id {section.codec} is not known to this picd")


def decode_detailed(data: bytes, renderer: str = "paste") -> Decoded:
    from renderer import get_renderer

    c = ct.unpack(data)
    text = c.section(ct.Tag.TEXT)
    if text is not None:
        _check_codec(text, (TEXT_CODEC_ID,), "text")
        try:
            layer = decode_layer(text.payload, c.width, c.height)
        except PicdError:
            raise
        except Exception as exc:  # a corrupted payload that slipped past the checksum
            raise BadStreamError(f"corrupted text section ({exc.__class__.__name__})") from None
    else:
        layer = TextLayer(c.width, c.height, ())
    bg = c.section(ct.Tag.BACKGROUND)
    if bg is None:
        raise BadStreamError("corrupted .picd file (no background section)")
    background = get_background_codec(bg.codec).decompress(bg.payload, c.width, c.height)
    ink = c.section(ct.Tag.INK)
    patches: list[InkPatch] = []
    if ink is not None:
        _check_codec(ink, INK_CODECS, "ink")
        patches = decode_patches(ink.payload, c.width, c.height, ink.codec)
    painted = paint_patches(background, patches) if patches else background
    image = get_renderer(renderer).render(painted, layer, int(c.mode))
    return Decoded(image, layer, background, c, tuple(patches))


def decode(data: bytes, renderer: str = "paste") -> Image.Image:
    """Decode `.picd` bytes to an RGB PIL image."""
    return Image.fromarray(decode_detailed(data, renderer).image)


def keep_intermediates(result: EncodeResult, folder: str | Path) -> list[Path]:
    """Write the encoder's intermediate images to ``folder`` (``--keep``)."""
    from layout.raster import draw_layer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    bg_path = folder / "background_in.png"
    save_image_atomic(bg_path, result.background)
    out.append(bg_path)
    if result.analysis is not None:
        a = result.analysis
        p = folder / "text_mask.png"
        save_image_atomic(p, (a.text_mask * 255).astype(np.uint8))
        out.append(p)
        p = folder / "glyphs.png"
        white = np.full((result.height, result.width, 3), 255, np.uint8)
        save_image_atomic(p, draw_layer(white, a.layer))
        out.append(p)
        if result.ink:
            p = folder / "ink_patches.png"
            save_image_atomic(p, paint_patches(white, result.ink))
            out.append(p)
        p = folder / "rejected.txt"
        # the part of a word that was left in the background (a word cut by colour is split)
        lines = [f"{wd.text}\t{wd.box}\t{score:.3f}\t{why}"
                 for wd, (_, score, why) in zip(a.ink_words, a.rejected)]
        write_atomic(p, ("\n".join(lines) + "\n").encode() if lines else b"")
        out.append(p)
    return out
