"""Raster OCR with RapidOCR's PP-OCR ONNX models, as shipped inside the ``rapidocr`` wheel.

Data flow: RGB page -> BGR (RapidOCR's ndarray convention) -> text-line detection (DB) ->
recognition (CTC) with per-word column positions -> words -> boxes snapped to the ink.

RapidOCR's own word boxes are estimates from CTC column positions: they span the whole detected
line box vertically and are only roughly placed horizontally. We snap each word box to the ink
(pixels that differ from the line's background colour) within the word's slot on the line, so
boxes are tight, as `OcrWord` promises. Latin lines come back as words; CJK and mixed lines come
back one character per token, and we join the characters of each white-space-delimited run.

No model is ever downloaded: the model paths are given explicitly, and a missing file raises
`picd.errors.MissingModelError`.
"""

from __future__ import annotations

import logging
import os
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ocr.base import Box, OcrEngine, OcrLine, OcrWord
from picd.errors import MissingModelError

_DET_MODEL = "PP-OCRv6_det_small.onnx"
_REC_MODEL = "PP-OCRv6_rec_small.onnx"
_CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"


@dataclass(frozen=True)
class RapidOcrConfig:
    """Settings of the RapidOCR engine (defaults defined here only).

    Attributes:
        det_limit_side_len: detection input size bound in pixels (see ``det_limit_type``).
        det_limit_type: ``"min"``: the shorter side is scaled *up* to at least
            ``det_limit_side_len`` and never down; ``"max"``: the longer side is scaled down to
            at most ``det_limit_side_len``.
        max_side_len: images whose longer side exceeds this are downscaled before detection and
            recognition (RapidOCR's global pre-processing); large so that small screen text in
            big screenshots keeps its pixels.
        use_cls: run the 0/180 degree line classifier (slow; screen text is upright).
        text_score: lines recognised with a lower mean confidence are dropped.
        threads: onnxruntime intra-op threads; -1 lets onnxruntime use every core. The default
            is read from the environment variable ``PICD_OCR_THREADS`` when set (the benchmark
            sets it to 1 in each of its worker processes).
    """

    det_limit_side_len: int = 736
    det_limit_type: str = "min"
    max_side_len: int = 4096
    use_cls: bool = False
    text_score: float = 0.5
    threads: int = field(default_factory=lambda: int(os.environ.get("PICD_OCR_THREADS", "-1")))


def _model_dir() -> Path:
    try:
        import rapidocr
    except ImportError as exc:  # pragma: no cover - rapidocr is a hard dependency
        raise MissingModelError("the rapidocr package is not installed") from exc
    return Path(rapidocr.__file__).resolve().parent / "models"


def _build_rapidocr(config: RapidOcrConfig):
    from rapidocr import RapidOCR

    models = _model_dir()
    paths = {"Det": models / _DET_MODEL, "Rec": models / _REC_MODEL}
    if config.use_cls:
        paths["Cls"] = models / _CLS_MODEL
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise MissingModelError(
            "RapidOCR model file(s) missing from the rapidocr wheel: " + ", ".join(missing)
        )
    params = {
        "Global.log_level": "error",
        "Global.use_cls": config.use_cls,
        "Global.return_word_box": True,
        "Global.return_single_char_box": False,
        "Global.text_score": config.text_score,
        "Global.max_side_len": config.max_side_len,
        # Where RapidOCR would fetch anything (a character dict), it would look here first.
        "Global.model_root_dir": str(models),
        "Det.limit_side_len": config.det_limit_side_len,
        "Det.limit_type": config.det_limit_type,
        "EngineConfig.onnxruntime.intra_op_num_threads": config.threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1 if config.threads > 0 else -1,
    }
    for stage, path in paths.items():
        params[f"{stage}.model_path"] = str(path)
    engine = RapidOCR(params=params)
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return engine


_CACHE: dict[RapidOcrConfig, object] = {}
_CACHE_LOCK = threading.Lock()


def _cached_rapidocr(config: RapidOcrConfig):
    with _CACHE_LOCK:
        engine = _CACHE.get(config)
        if engine is None:
            engine = _CACHE[config] = _build_rapidocr(config)
        return engine


class RapidOcrEngine(OcrEngine):
    """PP-OCRv6 (small det + rec) through RapidOCR on onnxruntime, CPU.

    The underlying RapidOCR object (about 1 s to load) is shared by all instances with the same
    config in a process.
    """

    name = "rapidocr"

    def __init__(self, config: RapidOcrConfig | None = None) -> None:
        self.config = config if config is not None else RapidOcrConfig()

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        image = _as_rgb(image)
        engine = _cached_rapidocr(self.config)
        result = engine(np.ascontiguousarray(image[:, :, ::-1]))  # RapidOCR wants BGR arrays
        txts = getattr(result, "txts", None)
        if not txts:
            return []
        boxes = result.boxes
        words_per_line = result.word_results or ()
        if len(words_per_line) != len(txts):
            # RapidOCR drops empty word lists; then the pairing is lost, use line boxes only.
            words_per_line = ((),) * len(txts)
        lines = []
        for txt, score, quad, tokens in zip(txts, result.scores, boxes, words_per_line):
            line = _make_line(image, str(txt), float(score), np.asarray(quad, float), tokens)
            if line is not None:
                lines.append(line)
        return reading_order(lines)

    def read_lines(self, image: np.ndarray, boxes: list[Box]) -> list[str]:
        """Recognition only (no detection): the text of each box, read as one line.

        Each box is widened by ``pad_y`` of its height above and below and ``pad_x`` of it left and
        right (the margin RapidOCR's own detection boxes leave around the ink), clipped to the image.
        A line read with a confidence below ``text_score`` gives ``""``, as in `recognize`.
        """
        image = _as_rgb(image)
        if not boxes:
            return []
        h, w = image.shape[:2]
        crops = []
        for x0, y0, x1, y1 in boxes:
            bh = max(1, y1 - y0)
            py, px = round(_PAD_Y * bh), round(_PAD_X * bh)
            cx0, cy0 = max(0, x0 - px), max(0, y0 - py)
            cx1, cy1 = min(w, max(x1 + px, cx0 + 1)), min(h, max(y1 + py, cy0 + 1))
            crops.append(np.ascontiguousarray(image[cy0:cy1, cx0:cx1, ::-1]))  # BGR
        engine = _cached_rapidocr(self.config)
        out = []
        # one crop per call: a batch is padded to its widest crop, which costs time and changes
        # what is read at the end of the narrower lines
        for crop in crops:
            result = engine.recognize_txt([crop])
            txt, score = result.txts[0], result.scores[0]
            out.append(_clean(str(txt)) if float(score) >= self.config.text_score else "")
        return out


_PAD_Y, _PAD_X = 0.3, 0.5  # margins of `RapidOcrEngine.read_lines` crops, in box heights


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    return image[:, :, :3]


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if unicodedata.category(c)[0] != "C").strip()


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _quad_box(quad) -> tuple[float, float, float, float]:
    q = np.asarray(quad, float).reshape(-1, 2)
    return float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())


@dataclass
class _Token:
    text: str
    score: float
    box: tuple[float, float, float, float]
    joins_previous: bool  # no white space before it, on a line read one character per token


def _tokens(txt: str, word_results) -> list[_Token]:
    """RapidOCR's word tokens of one line, marked where they belong to the previous word.

    Tokens are words on pure Latin/digit lines (split at spaces and at wide CTC gaps) but single
    characters on lines with CJK. A token's characters are the line's next non-space characters,
    so walking the line text tells where white space falls between tokens.
    """
    # RapidOCR switches a whole line to one token per character as soon as it holds one CJK (or
    # full-width) character; the Latin letters of such a line are single-character tokens too.
    char_mode = any(_is_wide(c) for text, _, _ in word_results for c in str(text))
    tokens: list[_Token] = []
    pos = 0
    for text, score, quad in word_results:
        core = "".join(str(text).split())
        if not core:
            continue
        k = txt.find(core, pos)
        space_before = k < 0 or (k > pos and any(c.isspace() for c in txt[pos:k]))
        if k >= 0:
            pos = k + len(core)
        joins = bool(tokens) and not space_before and char_mode
        tokens.append(_Token(core, float(score), _quad_box(quad), joins))
    return tokens


def _spread(txt: str, score: float, box: tuple[float, float, float, float]) -> list[_Token]:
    """Without word positions: the line box shared among its words by character count."""
    parts = txt.split()
    x0, y0, x1, y1 = box
    step = (x1 - x0) / max(1, sum(len(t) + 1 for t in parts) - 1)
    tokens = []
    for t in parts:
        tokens.append(_Token(t, score, (x0, y0, x0 + step * len(t), y1), False))
        x0 += step * (len(t) + 1)
    return tokens


def _make_line(image: np.ndarray, txt: str, score: float, quad: np.ndarray, word_results) -> OcrLine | None:
    h, w = image.shape[:2]
    line_box = _quad_box(quad)
    tokens = _tokens(txt, word_results) if word_results else []
    if not tokens:
        tokens = _spread(txt, score, line_box)
    # Only near-axis-aligned lines are snapped to the ink; a slanted line keeps its estimates.
    q = quad.reshape(-1, 2)
    slant = abs(q[1, 1] - q[0, 1]) if len(q) >= 2 else 0.0
    ink = _ink_mask(image, line_box) if slant <= max(2.0, 0.15 * (line_box[3] - line_box[1])) else None
    boxes: list[Box] = []
    for i, tok in enumerate(tokens):
        x0, y0, x1, y1 = tok.box
        box = None
        if ink is not None:
            left = tokens[i - 1].box[2] if i > 0 else line_box[0]
            right = tokens[i + 1].box[0] if i + 1 < len(tokens) else line_box[2]
            box = _snap(ink, (x0, x1), (left, right))
        if box is None:
            box = (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))
        boxes.append((max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])))
    # CJK characters without white space between them form one word unless the ink leaves a
    # gap of a quarter em (a space the recogniser did not transcribe).
    # The em is the median width of the wide characters' ink, but at least 0.6 of the line box's
    # height: a line with only a narrow full-width sign (a "：") has no wide ink to measure.
    wide_widths = [b[2] - b[0] for t, b in zip(tokens, boxes) if _is_wide(t.text[0])]
    em = max(float(np.median(wide_widths)) if wide_widths else 0.0, 0.6 * (line_box[3] - line_box[1]))
    merged: list[tuple[str, list[float], Box]] = []
    for tok, box in zip(tokens, boxes):
        if merged and tok.joins_previous and box[0] - merged[-1][2][2] <= 0.25 * em:
            text, scores, pbox = merged[-1]
            merged[-1] = (
                text + tok.text,
                scores + [tok.score],
                (min(pbox[0], box[0]), min(pbox[1], box[1]), max(pbox[2], box[2]), max(pbox[3], box[3])),
            )
        else:
            merged.append((tok.text, [tok.score], box))
    words = []
    for text, scores, box in merged:
        text = _clean(text)
        if text and box[2] > box[0] and box[3] > box[1]:
            conf = float(np.clip(min(scores), 0.0, 1.0))
            words.append(OcrWord(text=text, box=box, confidence=conf))
    if not words:
        return None
    words.sort(key=lambda wd: wd.box[0])
    return OcrLine(words=tuple(words))


@dataclass
class _Ink:
    mask: np.ndarray  # bool (h, w) of the line box
    x0: int
    y0: int


def _ink_mask(image: np.ndarray, box: tuple[float, float, float, float]) -> _Ink | None:
    """Pixels of a line box that differ clearly from the box's background colour."""
    h, w = image.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    patch = image[y0:y1, x0:x1].astype(np.int16)
    border = np.concatenate([patch[0], patch[-1], patch[:, 0], patch[:, -1]])
    background = np.median(border, axis=0)
    dist = np.abs(patch - background).max(axis=2)
    contrast = float(np.percentile(dist, 99))
    if contrast < 24:
        return None
    mask = dist > max(16.0, 0.4 * contrast)
    # Rules and frames running through the whole box are not part of any word.
    mask[mask.mean(axis=1) > 0.9, :] = False
    return _Ink(mask, x0, y0)


def _snap(ink: _Ink, span: tuple[float, float], limits: tuple[float, float]) -> Box | None:
    """The ink bounding box of a word estimated at ``span``, searched up to its neighbours."""
    a, b = span
    lo = a - 0.5 * max(0.0, a - limits[0])  # halfway to the neighbour (or the line box edge)
    hi = b + 0.5 * max(0.0, limits[1] - b)
    lo_i = max(0, int(np.floor(lo)) - ink.x0)
    hi_i = min(ink.mask.shape[1], int(np.ceil(hi)) - ink.x0)
    if hi_i <= lo_i:
        return None
    cols = ink.mask[:, lo_i:hi_i]
    xs = np.flatnonzero(cols.any(axis=0))
    if xs.size == 0:
        return None
    ys = np.flatnonzero(cols.any(axis=1))
    return (
        ink.x0 + lo_i + int(xs[0]),
        ink.y0 + int(ys[0]),
        ink.x0 + lo_i + int(xs[-1]) + 1,
        ink.y0 + int(ys[-1]) + 1,
    )


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Lines top to bottom; lines whose vertical centres lie within half a line height of each
    other form one row, read left to right."""
    if not lines:
        return []
    items = sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2)
    rows: list[list[OcrLine]] = []
    row_centre = row_height = 0.0
    for line in items:
        x0, y0, x1, y1 = line.box
        centre, height = (y0 + y1) / 2, y1 - y0
        if rows and abs(centre - row_centre) <= 0.5 * min(height, row_height):
            rows[-1].append(line)
        else:
            rows.append([line])
            row_centre, row_height = centre, height
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]
