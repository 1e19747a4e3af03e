"""``picd bench``: picd against the classical codecs at the same sizes, with pictures.

Data flow, per input image (an image file, or one page of a PDF rendered at ``dpi``):

1. *prepare*: load the image, find its truth text (``--truth-dir`` file, else the PDF text layer,
   else OCR of the original, cached in ``REPORT_DIR/ocr-cache/`` by a hash of the pixels; picd's
   encoder reuses that OCR) and the crop region shown in the HTML page (the ``crop`` x ``crop``
   window with the most gradient energy, i.e. the most text and edges). With ``ocr_lines`` N > 0
   (the default) at most N of the original's text lines, taken evenly through the page, are the
   lines every decoded image is read at (see `BenchConfig`);
2. *units*: for each codec and each target bpp, code the image at or just under
   ``target * W * H / 8`` bytes (all file bytes), decode, and measure: bpp, PSNR, MS-SSIM, GMSD
   (:mod:`picd.metrics`), OCR character error rate and word F1 against the truth (recognition
   at those line boxes, or full OCR with ``ocr_lines=0``), encode and decode seconds, peak
   memory. The classical codecs search quality and downscale factor
   (:mod:`picd.baselines`); ``picd`` is asked for ``bpp=target`` and decoded with every renderer
   (rows ``picd-<renderer>``);
3. *report* in ``REPORT_DIR``: ``results.csv`` (every row, rewritten atomically after every unit,
   which is what a resumed run reads), ``summary.md`` (means per codec per target),
   ``rate_word_f1.png``, ``rate_psnr.png``, ``rate_ms_ssim.png``, ``rate_gmsd.png``, and
   ``crops.html`` with ``crops/`` (the same region of every codec's output, side by side).

Timing: ``encode_s``/``decode_s`` are one encode and one decode at the reported setting (the
classical codecs' search around it is reported apart, as ``search_s``); OCR is not included.
Peak memory (``peak_mem_mb``): the highest resident set size of the worker process while coding
that row (Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` before the row). It includes
what the worker already holds (Python, libraries, the OCR models once loaded), so compare codecs
by differences; external tools (DjVuLibre) run as child processes and are not counted. Empty
where the kernel offers no reset.

Resume: rows of ``results.csv`` whose status is ``ok`` or ``over`` are kept and not redone;
``error`` and ``skipped`` rows are tried again.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import multiprocessing
import os
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

import click
import cv2
import numpy as np

from ocr.base import GivenLinesEngine, OcrLine, OcrWord, lines_text
from picd import baselines, metrics
from picd.errors import BadInputError
from picd.imageio import save_image_atomic, write_atomic

FIELDS = (
    "image", "codec", "target_bpp", "status", "width", "height", "max_bytes", "bytes", "bpp",
    "setting", "psnr", "ms_ssim", "gmsd", "cer", "word_f1", "truth", "encode_s", "decode_s",
    "search_s", "ocr_s", "peak_mem_mb", "note",
)
DONE = ("ok", "over")  # statuses a resumed run keeps
PLOTS = (("word_f1", "word F1 (OCR of decoded vs truth)"), ("psnr", "PSNR (dB)"),
         ("ms_ssim", "MS-SSIM (luma)"), ("gmsd", "GMSD (lower is better)"))
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm",
                  ".pgm", ".avif", ".jxl"}


@dataclass(frozen=True)
class BenchConfig:
    """Settings of one bench run (defaults defined here only; the CLI reads them from here).

    Attributes:
        codecs: codec names: ``picd`` (every renderer) and :data:`picd.baselines.CODECS` keys.
        bpps: target sizes in bits per pixel.
        truth_dir: folder of ``<stem>.txt`` / ``<stem>.hocr`` truth files (PDF pages:
            ``<stem>-p<N>.txt``/``.hocr`` first, ``<stem>.txt``/``.hocr`` for page 1), or None.
        out_dir: report folder.
        jobs: worker processes.
        dpi: resolution PDF pages are rendered at. pages: pages per PDF (from the first).
        factors: downscale factors the classical codecs may use (``(1,)``: quality only).
        ocr: run OCR on decoded images (CER, word F1); off: those columns stay empty.
        ocr_lines: how the decoded images are read. ``N > 0``: recognition only, of at most
            ``N`` text lines per image taken evenly through the original's lines in reading
            order, at the original's line boxes (OCR lines, or the PDF text layer's), the same
            lines for every codec; the truth is then the original read the same way (or the PDF
            text of those lines). ``0``: full OCR (detection and recognition) of every decoded
            image against the whole truth text (several times slower on text-heavy pages).
            A ``--truth-dir`` text has no line boxes: those images are always read in full.
        ocr_width: with ``ocr_lines`` N > 0, each sampled line is read over at most its first
            ``ocr_width`` line heights, cut at a gap between words (at least one word is kept);
            reading time grows with the width read, and a few words from each of N lines sample
            a page better than whole lines from fewer. ``0``: whole lines.
        crop: side in pixels of the region shown in ``crops.html``.
    """

    codecs: tuple[str, ...] = ("picd", "avif", "webp", "jxl", "jpeg", "djvu", "djvu-pal")
    bpps: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1)
    truth_dir: str | None = None
    out_dir: str = "out/bench"
    jobs: int = 1
    dpi: float = 100.0
    pages: int = 1
    factors: tuple[int, ...] = baselines.DEFAULT_FACTORS
    ocr: bool = True
    ocr_lines: int = 16
    ocr_width: int = 24
    crop: int = 256


@dataclass(frozen=True)
class Item:
    """One benchmarked image: a file, or page ``page`` (1-based) of a PDF."""

    key: str
    path: str
    page: int | None = None


@dataclass
class Prepared:
    item: Item
    width: int
    height: int
    truth: str | None
    truth_source: str  # "truth-dir", "pdf-text", "ocr-original", "none"
    crop_box: tuple[int, int, int, int]
    note: str = ""
    ocr_boxes: tuple[tuple[int, int, int, int], ...] | None = None  # read only these (ocr_lines)
    read_width: int = 0  # the lines read were cut to this many line heights (ocr_width; 0: not)

    @property
    def truth_label(self) -> str:
        """The ``truth`` column: the truth's source, and the lines read when sampling."""
        if self.ocr_boxes is None:
            return self.truth_source
        cut = f"-{self.read_width}h" if self.read_width > 0 else ""
        return f"{self.truth_source}:{len(self.ocr_boxes)}-lines{cut}"


@dataclass
class Unit:
    prep: Prepared
    codec: str  # "picd" or a baselines codec name
    targets: tuple[float, ...]
    rows_codecs: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------
# Inputs and truth


def collect_items(inputs: list[str], pages: int) -> tuple[list[Item], list[str]]:
    """Images and PDF pages named by ``inputs`` (files, or folders: their files, not recursive),
    and one line per input that cannot be used."""
    files: list[Path] = []
    problems: list[str] = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            files.extend(sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(f"{arg}: no such file or folder")
    items: list[Item] = []
    seen: set[str] = set()
    for f in files:
        try:
            if f.suffix.lower() == ".pdf":
                from ocr.pdf import page_count

                n = page_count(str(f))
                for page in range(1, min(n, pages) + 1):
                    items.append(Item(_unique(f"{f.name}#p{page}", f, seen), str(f), page))
            else:
                from PIL import Image

                with Image.open(f) as im:
                    im.verify()
                items.append(Item(_unique(f.name, f, seen), str(f)))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, run goes on
            problems.append(f"{f}: skipped, not a readable image or PDF ({_short(exc)})")
    return items, problems


def _unique(key: str, path: Path, seen: set[str]) -> str:
    if key in seen:
        key = f"{path.parent.name}/{key}"
    while key in seen:
        key += "'"
    seen.add(key)
    return key


def _short(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {msg}" if msg else exc.__class__.__name__


class _HocrWords(HTMLParser):
    """Text of every element whose class includes ``ocrx_word``."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._stack: list[bool] = []  # per open element: is it (inside) a word
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        classes = dict(attrs).get("class") or ""
        inside = bool(self._stack and self._stack[-1])
        if tag in ("br", "img", "meta", "link", "hr", "input"):
            return
        is_word = "ocrx_word" in classes.split()
        if is_word and not inside:
            self._buf = []
        self._stack.append(inside or is_word)

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or tag in ("br", "img", "meta", "link", "hr", "input"):
            return
        was = self._stack.pop()
        if was and not (self._stack and self._stack[-1]):
            word = "".join(self._buf).strip()
            if word:
                self.words.append(word)

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1]:
            self._buf.append(data)


def hocr_text(markup: str) -> str:
    """The words of an hOCR document (``ocrx_word`` elements), joined by spaces."""
    parser = _HocrWords()
    parser.feed(markup)
    parser.close()
    return " ".join(parser.words)


def _truth_file(item: Item, truth_dir: str) -> Path | None:
    stem = Path(item.path).stem
    if item.page is None:
        stems = [stem]
    else:  # a PDF page: <stem>-p<N>, and <stem> alone for the first page
        stems = [f"{stem}-p{item.page}"] + ([stem] if item.page == 1 else [])
    for s in stems:
        for ext in (".txt", ".hocr"):
            p = Path(truth_dir) / (s + ext)
            if p.is_file():
                return p
    return None


def _load(item: Item, dpi: float):
    from picd.imageio import load_input

    return load_input(item.path, page=item.page or 1, dpi=dpi)


def _pixel_key(image: np.ndarray) -> str:
    h = hashlib.sha256(f"{image.shape}".encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()[:32]


def _text_cached(path: Path, compute) -> str:
    """The text in ``path``, or ``compute()`` written there (atomically) first."""
    if path.is_file():
        return path.read_text(encoding="utf-8")
    text = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))
    return text


def _ocr_cached(image: np.ndarray, cache_dir: Path) -> str:
    """OCR text of a (decoded) image, cached by its pixels."""
    return _text_cached(cache_dir / f"{_pixel_key(image)}.txt", lambda: metrics.ocr_text(image))


def _word_from_json(d: dict) -> OcrWord:
    d = dict(d, box=tuple(d["box"]))
    if d.get("color") is not None:
        d["color"] = tuple(d["color"])
    return OcrWord(**d)


def ocr_lines_cached(image: np.ndarray, cache_dir: Path) -> tuple[list, float]:
    """OCR lines of an original image and the seconds the OCR took, cached by its pixels (JSON):
    the truth text and picd's own encoder (``analyse``) share one OCR of each original."""
    from ocr import get_engine

    def recognise() -> str:
        t0 = time.perf_counter()
        lines = get_engine("rapidocr").recognize(np.ascontiguousarray(image))
        return json.dumps({"seconds": time.perf_counter() - t0,
                           "lines": [[asdict(w) for w in line.words] for line in lines]},
                          ensure_ascii=False)

    data = json.loads(_text_cached(cache_dir / f"{_pixel_key(image)}.lines.json", recognise))
    lines = [OcrLine(tuple(_word_from_json(w) for w in line)) for line in data["lines"]]
    return lines, float(data["seconds"])


def _read_cached(image: np.ndarray, boxes: tuple, cache_dir: Path) -> str:
    """Recognition alone at ``boxes`` (`ocr.base.OcrEngine.read_lines`), one line per row,
    cached by the pixels and the boxes."""
    from ocr import get_engine

    key = hashlib.sha256(repr(boxes).encode()).hexdigest()[:12]
    return _text_cached(
        cache_dir / f"{_pixel_key(image)}.{key}.txt",
        lambda: "\n".join(get_engine("rapidocr").read_lines(np.ascontiguousarray(image), list(boxes))))


def crop_box(image: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """The ``size`` x ``size`` window (clipped to the image) with the most gradient energy."""
    h, w = image.shape[:2]
    cw, ch = min(size, w), min(size, h)
    s = 4 if min(h, w) >= 64 else 1  # search on a 4x smaller luma for speed
    y = metrics.luma(image[: h // s * s, : w // s * s]).reshape(h // s, s, w // s, s).mean(axis=(1, 3))
    g = np.abs(np.diff(y, axis=0))[:, :-1] + np.abs(np.diff(y, axis=1))[:-1, :]
    ii = np.pad(g, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    kh, kw = max(1, min(ch // s, g.shape[0])), max(1, min(cw // s, g.shape[1]))
    sums = ii[kh:, kw:] - ii[:-kh, kw:] - ii[kh:, :-kw] + ii[:-kh, :-kw]
    iy, ix = np.unravel_index(int(np.argmax(sums)), sums.shape)
    x0, y0 = min(int(ix) * s, w - cw), min(int(iy) * s, h - ch)
    return (x0, y0, x0 + cw, y0 + ch)


def prepare(item: Item, cfg: BenchConfig) -> Prepared:
    """Load ``item`` and find its truth text and crop region (see the module docstring)."""
    page = _load(item, cfg.dpi)
    image = page.image
    h, w = image.shape[:2]
    truth, source, note, lines, boxes = None, "none", "", None, None
    if cfg.truth_dir and (tf := _truth_file(item, cfg.truth_dir)) is not None:
        raw = tf.read_text(encoding="utf-8", errors="replace")
        truth, source = (hocr_text(raw) if tf.suffix == ".hocr" else raw), "truth-dir"
    elif page.kind == "pdf" and page.lines:
        lines, source = page.lines, "pdf-text"
    elif cfg.ocr:
        if page.kind == "pdf":
            note = "PDF page has no text layer: truth is OCR of the original"
        lines, _ = ocr_lines_cached(image, _ocr_cache_dir(cfg))
        source = "ocr-original"
    if lines is not None:
        if cfg.ocr_lines > 0:
            lines = sample_lines(lines, cfg.ocr_lines, cfg.ocr_width)
            boxes = tuple(line.box for line in lines)
        truth = lines_text(lines)
        if source == "ocr-original" and boxes is not None:  # the original read as decoded ones are
            truth = _read_cached(image, boxes, _ocr_cache_dir(cfg))
    box = crop_box(image, cfg.crop)
    x0, y0, x1, y1 = box
    save_image_atomic(_crops_dir(cfg) / _crop_name(item.key, "", None), image[y0:y1, x0:x1])
    return Prepared(item, w, h, truth, source, box, note, boxes,
                    cfg.ocr_width if boxes is not None else 0)


def sample_lines(lines: list[OcrLine], n: int, width: int = 0) -> list[OcrLine]:
    """At most ``n`` of ``lines``, taken evenly through them (all of them if there are fewer).

    ``width > 0``: each line is cut to its words that end within ``width`` line heights of its
    first word's left edge (at least its first word).
    """
    if len(lines) > n:
        lines = [lines[(2 * i + 1) * len(lines) // (2 * n)] for i in range(n)]
    if width <= 0:
        return list(lines)
    out = []
    for line in lines:
        x0, y0, _, y1 = line.box
        limit = x0 + width * max(1, y1 - y0)
        words = [w for w in line.words if w.box[2] <= limit] or [line.words[0]]
        out.append(OcrLine(tuple(words)))
    return out


def _ocr_cache_dir(cfg: BenchConfig) -> Path:
    return Path(cfg.out_dir) / "ocr-cache"


def _crops_dir(cfg: BenchConfig) -> Path:
    path = Path(cfg.out_dir) / "crops"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# Coding and measuring


class _PeakRss:
    """Peak resident memory of this process inside the block, in MB (Linux ``VmHWM``, reset at
    entry through ``/proc/self/clear_refs``); ``mb`` stays None where that is not possible."""

    def __enter__(self) -> "_PeakRss":
        self.mb: float | None = None
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            self.ok = True
        except OSError:
            self.ok = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ok:
            self.mb = _proc_status_kb("VmHWM") / 1024.0


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"{key} not in /proc/self/status")


def _fmt(x: object) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return "" if math.isnan(x) else (f"{x:.6g}" if math.isfinite(x) else str(x))
    return str(x)


def _setting_str(setting: dict) -> str:
    return ";".join(f"{k}={v}" for k, v in setting.items())


def _measure(row: dict, ref: metrics.FullReference, decoded: np.ndarray, prep: Prepared,
             cfg: BenchConfig, crops_dir: Path) -> None:
    row["psnr"] = ref.psnr(decoded)
    row["ms_ssim"] = ref.ms_ssim(decoded)
    row["gmsd"] = ref.gmsd(decoded)
    if cfg.ocr and prep.truth is not None:
        t0 = time.perf_counter()
        cache = _ocr_cache_dir(cfg)
        if prep.ocr_boxes is not None:
            hyp = _read_cached(decoded, prep.ocr_boxes, cache)
        else:
            hyp = _ocr_cached(decoded, cache)
        row["ocr_s"] = time.perf_counter() - t0
        row["cer"] = metrics.cer(hyp, prep.truth)
        row["word_f1"] = metrics.word_f1(hyp, prep.truth)
    x0, y0, x1, y1 = prep.crop_box
    save_image_atomic(crops_dir / _crop_name(prep.item.key, row["codec"], row["target_bpp"]),
                      decoded[y0:y1, x0:x1])


def _crop_name(key: str, codec: str, bpp: float | None) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    tag = "original" if bpp is None else f"{codec}_{bpp:g}"
    return f"{safe}__{tag}.png"


def _base_row(prep: Prepared, codec: str, target: float) -> dict:
    w, h = prep.width, prep.height
    return {"image": prep.item.key, "codec": codec, "target_bpp": target, "width": w,
            "height": h, "max_bytes": int(target * w * h / 8), "truth": prep.truth_label,
            "note": prep.note}


def _run_baseline(unit: Unit, image: np.ndarray, cfg: BenchConfig, crops_dir: Path) -> list[dict]:
    codec = baselines.get_codec(unit.codec)
    prep = unit.prep
    missing = codec.missing()
    rows = []
    search = baselines.SizeSearch(codec, image, cfg.factors)
    ref = metrics.FullReference(image)
    for target in sorted(unit.targets):
        row = _base_row(prep, unit.codec, target)
        rows.append(row)
        if missing:
            row.update(status="skipped", note=missing)
            continue
        try:
            t0 = time.perf_counter()
            with _PeakRss() as mem:
                r = search.run(row["max_bytes"])
            row.update(status="ok" if r.reached else "over", bytes=r.n_bytes,
                       bpp=8.0 * r.n_bytes / (prep.width * prep.height),
                       setting=_setting_str(r.setting), encode_s=r.encode_s, decode_s=r.decode_s,
                       search_s=time.perf_counter() - t0, peak_mem_mb=mem.mb)
            if not r.reached:
                row["note"] = _join(row["note"], f"cannot go below {r.n_bytes} bytes: smallest file")
            _measure(row, ref, r.decoded_image, prep, cfg, crops_dir)
        except Exception as exc:  # noqa: BLE001 - reported in the row, the run goes on
            row.update(status="error", note=_join(row["note"], _short(exc)))
    return rows


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def picd_renderers() -> tuple[str, ...]:
    try:
        from renderer import RENDERERS

        return tuple(RENDERERS)
    except Exception:  # noqa: BLE001 - the picd rows then carry the error
        return ("paste",)


def _run_picd(unit: Unit, image: np.ndarray, cfg: BenchConfig, crops_dir: Path) -> list[dict]:
    """picd at every target: the size-independent stage (`picd.api.analyse`: OCR, layout, text
    coding, text removal) runs once per image and its time is added to every row's encode time;
    the background is coded per target (`picd.api.code`)."""
    import picd.api as api

    prep = unit.prep
    ref = metrics.FullReference(image)
    rows = []
    analysed = None
    analyse_s = 0.0
    for target in sorted(unit.targets):
        group = [_base_row(prep, c, target) for c in unit.rows_codecs]
        rows.extend(group)
        try:
            with _PeakRss() as mem:
                if analysed is None:
                    t0 = time.perf_counter()
                    src = prep.item.path if prep.item.page else image
                    page = api.load_input(src, page=prep.item.page or 1, dpi=cfg.dpi)
                    engine, ocr_s = "rapidocr", 0.0
                    if page.lines is None and cfg.ocr:  # the original's OCR, shared with the truth
                        lines, ocr_s = ocr_lines_cached(page.image, _ocr_cache_dir(cfg))
                        engine = GivenLinesEngine(lines)
                    t0 -= ocr_s  # the encode time includes the OCR as it was measured
                    analysed = api.analyse(page, mode="auto", ocr_engine=engine)
                    analyse_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                data = api.code(analysed, bpp=target).data
            enc_s = analyse_s + time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001
            for row in group:
                row.update(status="error", note=_join(row["note"], f"encode: {_short(exc)}"))
            continue
        n = len(data)
        for row in group:
            renderer = row["codec"].removeprefix("picd-")
            row.update(status="ok" if n <= row["max_bytes"] else "over", bytes=n,
                       bpp=8.0 * n / (prep.width * prep.height), setting=f"mode=auto;bpp={target}",
                       encode_s=enc_s, search_s=enc_s, peak_mem_mb=mem.mb)
            try:
                t0 = time.perf_counter()
                with _PeakRss() as dmem:
                    decoded = np.asarray(api.decode(data, renderer=renderer).convert("RGB"))
                row["decode_s"] = time.perf_counter() - t0
                if mem.mb is not None and dmem.mb is not None:
                    row["peak_mem_mb"] = max(mem.mb, dmem.mb)
                if decoded.shape != image.shape:
                    raise BadInputError(f"decoded size {decoded.shape} != original {image.shape}")
                _measure(row, ref, decoded, prep, cfg, crops_dir)
            except Exception as exc:  # noqa: BLE001
                row.update(status="error", note=_join(row["note"], f"decode: {_short(exc)}"))
    return rows


def run_unit(unit: Unit, cfg: BenchConfig) -> list[dict]:
    """Code one image with one codec at every target of ``unit``: its rows (errors as rows)."""
    crops_dir = _crops_dir(cfg)
    try:
        image = _load(unit.prep.item, cfg.dpi).image
    except Exception as exc:  # noqa: BLE001
        codecs = unit.rows_codecs if unit.codec == "picd" else (unit.codec,)
        return [dict(_base_row(unit.prep, c, t), status="error", note=_short(exc))
                for t in unit.targets for c in codecs]
    if unit.codec == "picd":
        return _run_picd(unit, image, cfg, crops_dir)
    return _run_baseline(unit, image, cfg, crops_dir)


# ---------------------------------------------------------------------------------------------
# Workers


def _init_worker(single_thread: bool) -> None:
    if single_thread:  # one worker per core: keep the native libraries to one thread each
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PICD_OCR_THREADS"):
            os.environ[var] = "1"
        cv2.setNumThreads(1)
        try:
            import torch

            torch.set_num_threads(1)
        except Exception:  # noqa: BLE001 - torch is optional here
            pass


def _prepare_task(args: tuple[Item, BenchConfig]) -> tuple[Item, Prepared | None, str]:
    item, cfg = args
    try:
        return item, prepare(item, cfg), ""
    except Exception as exc:  # noqa: BLE001
        return item, None, _short(exc)


def _unit_task(args: tuple[int, Unit, BenchConfig]) -> tuple[int, list[dict], float]:
    idx, unit, cfg = args
    t0 = time.perf_counter()
    try:
        rows = run_unit(unit, cfg)
    except Exception:  # noqa: BLE001 - a bug in one unit must not end the run
        tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
        rows = [dict(_base_row(unit.prep, c, t), status="error", note=tb)
                for t in unit.targets for c in (unit.rows_codecs or (unit.codec,))]
    return idx, rows, time.perf_counter() - t0


def _map(fn, tasks: list, jobs: int):
    """``fn`` over ``tasks``, in-process or on a pool of ``jobs`` spawned workers, unordered."""
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield fn(t)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(jobs, len(tasks)), initializer=_init_worker, initargs=(True,)) as pool:
        yield from pool.imap_unordered(fn, tasks)


# ---------------------------------------------------------------------------------------------
# The run


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k)) for k in FIELDS})
    write_atomic(path, buf.getvalue().encode("utf-8"))


def _row_key(row: dict) -> tuple[str, str, float]:
    return (row["image"], row["codec"], float(row["target_bpp"]))


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def run_bench(inputs: list[str], cfg: BenchConfig = BenchConfig()) -> Path:
    """Run the benchmark and write the report; returns the report folder."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "results.csv"
    t_start = time.perf_counter()

    items, problems = collect_items(inputs, cfg.pages)
    for p in problems:
        _log(f"bench: {p}")
    codecs: list[str] = []
    for name in cfg.codecs:
        if name != "picd" and name not in baselines.CODECS:
            problems.append(f"codec {name!r}: unknown, skipped (known: picd, {', '.join(baselines.CODECS)})")
            _log(f"bench: {problems[-1]}")
        elif name not in codecs:
            codecs.append(name)
    for name in codecs:
        if name != "picd" and (why := baselines.get_codec(name).missing()):
            problems.append(f"codec {name}: skipped, {why}")
            _log(f"bench: notice: {problems[-1]}")
    renderers = picd_renderers()

    _log(f"bench: {len(items)} image(s), codecs {', '.join(codecs)}, targets "
         f"{', '.join(f'{b:g}' for b in cfg.bpps)} bpp, {cfg.jobs} job(s)")
    preps: dict[str, Prepared] = {}
    for item, prep, err in _map(_prepare_task, [(i, cfg) for i in items], cfg.jobs):
        if prep is None:
            problems.append(f"{item.key}: skipped, {err}")
            _log(f"bench: {problems[-1]}")
            continue
        preps[item.key] = prep
        if prep.note:
            problems.append(f"{item.key}: {prep.note}")
            _log(f"bench: {problems[-1]}")
        _log(f"bench: prepared {item.key} ({prep.width}x{prep.height}, truth: {prep.truth_label})")

    rows = read_rows(csv_path)  # error/skipped rows stay until their unit replaces them
    # a row measured against another truth (another --ocr-lines, a new truth file) is redone
    labels = {key: prep.truth_label for key, prep in preps.items()}
    done = {_row_key(r) for r in rows if r.get("status") in DONE
            and (not cfg.ocr or r.get("truth") == labels.get(r.get("image")))}
    units: list[Unit] = []
    for key, prep in preps.items():
        for name in codecs:
            row_codecs = tuple(f"picd-{r}" for r in renderers) if name == "picd" else (name,)
            todo = tuple(b for b in cfg.bpps
                         if any((key, c, float(b)) not in done for c in row_codecs))
            if todo:
                units.append(Unit(prep, name, todo, row_codecs if name == "picd" else ()))
    units.sort(key=lambda u: -u.prep.width * u.prep.height)  # big first: better load balance
    if done:
        _log(f"bench: resuming: {len(done)} finished row(s) already in {csv_path}")

    t_units = time.perf_counter()
    total_px = sum(u.prep.width * u.prep.height for u in units) or 1
    done_px = 0
    for n, (idx, new_rows, secs) in enumerate(
            _map(_unit_task, [(i, u, cfg) for i, u in enumerate(units)], cfg.jobs), start=1):
        unit = units[idx]
        new_keys = {_row_key(r) for r in new_rows}
        rows = [r for r in rows if _row_key(r) not in new_keys] + new_rows
        write_rows(csv_path, rows)
        done_px += unit.prep.width * unit.prep.height
        elapsed = time.perf_counter() - t_units
        eta = elapsed * (total_px - done_px) / done_px
        bad = sum(r["status"] not in DONE for r in new_rows)
        _log(f"[{n}/{len(units)}] {unit.prep.item.key} {unit.codec}: {len(new_rows)} row(s)"
             f"{f', {bad} not ok' if bad else ''} in {secs:.1f} s; elapsed {_clock(elapsed)}, "
             f"ETA {_clock(eta)}")

    write_rows(csv_path, rows)
    # one representation (strings) for the report, which covers this run's rows only
    wanted = {(key, c, float(b)) for key in preps for name in codecs for b in cfg.bpps
              for c in (tuple(f"picd-{r}" for r in renderers) if name == "picd" else (name,))}
    rows = [r for r in read_rows(csv_path) if _row_key(r) in wanted]
    write_report(out, rows, preps, cfg, problems, time.perf_counter() - t_start)
    _log(f"bench: report in {out}/ (results.csv, summary.md, rate_*.png, crops.html) after "
         f"{_clock(time.perf_counter() - t_start)}")
    return out


# ---------------------------------------------------------------------------------------------
# Report


def _num(row: dict, key: str) -> float:
    try:
        return float(row.get(key) or "nan")
    except ValueError:
        return float("nan")


def _mean(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def summarize(rows: list[dict]) -> dict[tuple[str, float], dict]:
    """Means per (codec, target) over rows that coded (status ``ok`` or ``over``)."""
    groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for r in rows:
        if r["status"] in DONE:
            groups[(r["codec"], float(r["target_bpp"]))].append(r)
    out = {}
    for key, rs in groups.items():
        out[key] = {"n": len(rs), "over": sum(r["status"] == "over" for r in rs),
                    **{k: _mean([_num(r, k) for r in rs]) for k in
                       ("bpp", "psnr", "ms_ssim", "gmsd", "cer", "word_f1", "encode_s",
                        "decode_s", "peak_mem_mb")}}
    return out


def write_report(out: Path, rows: list[dict], preps: dict[str, Prepared], cfg: BenchConfig,
                 problems: list[str], seconds: float) -> None:
    """``summary.md``, ``rate_*.png`` and ``crops.html`` from the rows."""
    summary = summarize(rows)
    write_atomic(out / "summary.md", _summary_md(rows, summary, preps, cfg, problems,
                                                 seconds).encode("utf-8"))
    _plots(out, summary)
    _crops_html(out, rows, preps, cfg)


def _reading_md(preps: dict[str, Prepared], cfg: BenchConfig) -> str:
    """How the decoded images were read, for the summary."""
    if not cfg.ocr:
        return "OCR was off (`--no-ocr`): no CER or word F1."
    sampled = [p for p in preps.values() if p.ocr_boxes is not None]
    text = ("Reading: full OCR (detection and recognition) of each decoded image against the "
            "whole truth text (`--ocr-lines 0`)." if not sampled else
            f"Reading (`--ocr-lines {cfg.ocr_lines} --ocr-width {cfg.ocr_width}`): on "
            f"{len(sampled)} image(s), at most {cfg.ocr_lines} text lines per image, taken evenly "
            "through the original's lines"
            + (f" and cut to their first {cfg.ocr_width} line heights at a word gap"
               if cfg.ocr_width else "")
            + ", are read by recognition alone at the original's line boxes, the same lines for "
            "every codec; the truth is the original read the same way (or the PDF text of those "
            "lines). Text a codec moves out of its line box, or lines OCR did not find in the "
            "original, are not measured; `--ocr-lines 0` reads whole images (slower).")
    full = len(preps) - len(sampled)
    if sampled and full:
        text += f" {full} image(s) with a `--truth-dir` text were read in full."
    return text


def _summary_md(rows, summary, preps, cfg, problems, seconds) -> str:
    def f(x: float, nd: int) -> str:
        return "-" if math.isnan(x) else (f"{x:.{nd}f}" if math.isfinite(x) else "inf")

    sources = defaultdict(int)
    for p in preps.values():
        sources[p.truth_source] += 1
    lines = [
        "# picd bench", "",
        f"{len(preps)} image(s); targets {', '.join(f'{b:g}' for b in cfg.bpps)} bpp; "
        f"run time {_clock(seconds)} (this invocation; resumed rows not re-timed).", "",
        "Truth text: " + ", ".join(f"{n} from {s}" for s, n in sorted(sources.items())) + "."
        + (" **OCR of the original is the truth for some images: CER/word F1 there measure "
           "agreement with what OCR reads in the original, not with the true text.**"
           if sources.get("ocr-original") else ""), "",
        "Each codec lands at or just under the target (all file bytes counted). The classical "
        f"codecs search downscale factors {', '.join(map(str, cfg.factors))} and their quality "
        "setting and keep the best PSNR within the budget (`picd.baselines`); a downscaled "
        f"result counts {baselines.SIDE_INFO_BYTES} extra bytes for the factor. `over`: rows "
        "where the codec cannot go that low; its smallest file is measured instead (its bpp is "
        "above the target).", "",
        "PSNR on RGB; MS-SSIM and GMSD on luma (GMSD: lower is better); CER and word F1 of "
        "RapidOCR on the decoded image against the truth. Times in seconds (one encode / decode "
        "at the chosen setting), memory in MB (peak RSS of the worker process, baseline included).", "",
        _reading_md(preps, cfg), "",
    ]
    codecs = sorted({c for c, _ in summary}, key=lambda c: (not c.startswith("picd"), c))
    for target in cfg.bpps:
        lines += [f"## {target:g} bpp", "",
                  "| codec | n | over | bpp | PSNR | MS-SSIM | GMSD | CER | word F1 | enc s | dec s | MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for c in codecs:
            s = summary.get((c, float(target)))
            if s is None:
                continue
            lines.append(
                f"| {c} | {s['n']} | {s['over']} | {f(s['bpp'], 4)} | {f(s['psnr'], 2)} | "
                f"{f(s['ms_ssim'], 4)} | {f(s['gmsd'], 4)} | {f(s['cer'], 3)} | "
                f"{f(s['word_f1'], 3)} | {f(s['encode_s'], 2)} | {f(s['decode_s'], 2)} | "
                f"{f(s['peak_mem_mb'], 0)} |")
        lines.append("")
    failed = [r for r in rows if r["status"] not in DONE]
    if problems or failed:
        lines += ["## Problems", ""]
        lines += [f"- {p}" for p in problems]
        lines += [f"- {r['image']} {r['codec']} {float(r['target_bpp']):g} bpp: {r['status']}: "
                  f"{r['note']}" for r in failed]
        lines.append("")
    lines += ["Plots: " + ", ".join(f"[`rate_{k}.png`](rate_{k}.png)" for k, _ in PLOTS)
              + "; side-by-side crops: [`crops.html`](crops.html); every row: "
              "[`results.csv`](results.csv).", ""]
    return "\n".join(lines)


def _plots(out: Path, summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codecs = sorted({c for c, _ in summary}, key=lambda c: (not c.startswith("picd"), c))
    for key, label in PLOTS:
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
        for c in codecs:
            pts = sorted((s["bpp"], s[key]) for (cc, _), s in summary.items() if cc == c
                         and not math.isnan(s["bpp"]) and not math.isnan(s[key])
                         and math.isfinite(s[key]))
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", lw=2.2 if c.startswith("picd") else 1.2, label=c)
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (mean actual, all file bytes)")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs rate (mean over images)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png")
        plt.close(fig)
        write_atomic(out / f"rate_{key}.png", buf.getvalue())


def _crops_html(out: Path, rows: list[dict], preps: dict[str, Prepared], cfg: BenchConfig) -> None:
    crops = _crops_dir(cfg)
    by_image: dict[str, dict[tuple[str, float], dict]] = defaultdict(dict)
    for r in rows:
        if r["status"] in DONE:
            by_image[r["image"]][(r["codec"], float(r["target_bpp"]))] = r
    e = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>picd bench: crops</title>",
             "<style>body{font:13px sans-serif;margin:1em}td{vertical-align:top;padding:3px}"
             "img{image-rendering:pixelated;border:1px solid #ccc}figcaption{font-size:11px}"
             "</style>", "<h1>Same region, every codec, same size</h1>",
             "<p>Each crop is shown at 1:1 from the decoded image at full resolution. Caption: "
             "actual bpp, PSNR (dB), word F1.</p>"]
    for key, prep in preps.items():
        got = by_image.get(key)
        if not got:
            continue
        orig = crops / _crop_name(key, "", None)
        codecs = sorted({c for c, _ in got}, key=lambda c: (not c.startswith("picd"), c))
        parts.append(f"<h2>{e(key)}</h2><p>{prep.width}x{prep.height}, crop {prep.crop_box}, "
                     f"truth: {e(prep.truth_source)}</p><table><tr><th>target</th>"
                     "<th>original</th>" + "".join(f"<th>{e(c)}</th>" for c in codecs) + "</tr>")
        for target in cfg.bpps:
            cells = [f"<td><b>{target:g} bpp</b></td>",
                     f"<td><img src='crops/{e(orig.name)}'></td>"]
            for c in codecs:
                r = got.get((c, float(target)))
                name = _crop_name(key, c, float(target))
                if r is None or not (crops / name).is_file():
                    cells.append("<td>-</td>")
                    continue
                cap = (f"{_num(r, 'bpp'):.4f} bpp{' (over)' if r['status'] == 'over' else ''}, "
                       f"{_num(r, 'psnr'):.2f} dB, F1 {r.get('word_f1') or '-'}")
                cells.append(f"<td><figure style='margin:0'><img src='crops/{e(name)}'>"
                             f"<figcaption>{e(cap)}</figcaption></figure></td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    write_atomic(out / "crops.html", "\n".join(parts).encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# CLI


def _floats(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}") from None
    if not vals or any(v <= 0 for v in vals):
        raise click.BadParameter("expected positive numbers")
    return vals


_D = BenchConfig()


@click.command("bench")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--codecs", default=",".join(_D.codecs), show_default=True,
              help="Codecs: picd (every renderer), " + ", ".join(baselines.CODECS) + ".")
@click.option("--bpp", "bpp", default=",".join(f"{b:g}" for b in _D.bpps), show_default=True,
              help="Target sizes in bits per pixel.")
@click.option("--truth-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of <stem>.txt or <stem>.hocr truth texts.")
@click.option("-o", "--out", "out_dir", default=_D.out_dir, show_default=True,
              help="Report folder (resumes the run found there).")
@click.option("-j", "--jobs", default=_D.jobs, show_default=True, type=click.IntRange(1, 256),
              help="Worker processes.")
@click.option("--dpi", default=_D.dpi, show_default=True, type=click.FloatRange(10, 1200),
              help="Resolution PDF pages are rendered at.")
@click.option("--pages", default=_D.pages, show_default=True, type=click.IntRange(1, 10_000),
              help="Pages per PDF, from the first.")
@click.option("--factors", default=",".join(map(str, _D.factors)), show_default=True,
              help="Downscale factors the classical codecs may use (1: quality search only).")
@click.option("--ocr/--no-ocr", default=_D.ocr, show_default=True,
              help="OCR decoded images for CER and word F1.")
@click.option("--ocr-lines", default=_D.ocr_lines, show_default=True, type=click.IntRange(0, 100_000),
              help="Read at most N text lines per image, by recognition alone at the original's "
                   "line boxes (the same lines for every codec); 0: full OCR of every decoded "
                   "image (several times slower on text-heavy pages).")
@click.option("--ocr-width", default=_D.ocr_width, show_default=True,
              type=click.IntRange(0, 100_000),
              help="With --ocr-lines N > 0: read each of those lines over at most its first W "
                   "line heights, cut at a word gap (0: whole lines).")
@click.option("--crop", default=_D.crop, show_default=True, type=click.IntRange(16, 4096),
              help="Side of the crops in crops.html, in pixels.")
def bench_command(inputs, codecs, bpp, truth_dir, out_dir, jobs, dpi, pages, factors, ocr,
                  ocr_lines, ocr_width, crop):
    """Compare picd with AVIF, WebP, JPEG XL, JPEG and DjVu at the same sizes.

    INPUTS are images, PDFs, or folders of them. Each codec is coded at or just under every
    target size, decoded and measured (bpp, PSNR, MS-SSIM, GMSD, OCR CER and word F1, times,
    memory); the report (results.csv, summary.md, rate_*.png, crops.html) goes to --out.
    An interrupted run resumes where it stopped when run again with the same --out.
    """
    try:
        facs = tuple(int(x) for x in factors.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {factors!r}",
                                 param_hint="--factors") from None
    if not facs or min(facs) < 1:
        raise click.BadParameter("factors must be integers >= 1", param_hint="--factors")
    cfg = replace(_D, codecs=tuple(c.strip() for c in codecs.split(",") if c.strip()),
                  bpps=_floats(bpp), truth_dir=truth_dir, out_dir=out_dir, jobs=jobs, dpi=dpi,
                  pages=pages, factors=facs, ocr=ocr, ocr_lines=ocr_lines, ocr_width=ocr_width, crop=crop)
    run_bench(list(inputs), cfg)


if __name__ == "__main__":
    bench_command()
