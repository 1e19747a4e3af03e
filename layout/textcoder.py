"""Lossless coder of the text layer (`layout.model.TextLayer`).

Bitstream (one range-coded stream, `picd.entropy`; the image size comes from the container):

1. ``n_lines`` (adaptive integer).
2. The characters: every line's text (words joined by ``" "``) followed by ``"\\n"``, coded with
   an adaptive context model that blends orders 3, 2, 1, 0 and a uniform order -1 (PPM-style
   interpolation with Witten-Bell-like escape weights), initialised from the shipped prior
   `layout/data/charprior.npz` (built by `layout/build_prior.py`) and adapting to the page. A
   character outside the current alphabet is coded as the escape symbol followed by its code
   point (signed difference to the previous new code point), and joins the alphabet.
3. The layout, line by line, predicted from what was coded before (all integer arithmetic):
   - style: position in a move-to-front list of recent styles, or "new" followed by font id,
     size and colour as differences to the previous style;
   - baseline: difference to the previous baseline minus the previous line spacing;
   - first word x: difference to the previous line's first x;
   - other words x: gap to the previous word's end minus the style's last seen gap;
   - width: difference to ``estimate(text) * ratio``, ``estimate`` summing generic advance widths
     (Helvetica metrics, 1/1000 em) and ``ratio`` a running pixels-per-unit of the style.

The model is fully adaptive and deterministic: counts and predictions are integers, and the
probabilities handed to the range coder are integers as float64 (see `picd.entropy`).
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np

from layout.model import Line, Style, TextLayer, Word
from picd.entropy import AdaptiveCategorical, AdaptiveInt, Coder, Decoder, Encoder
from picd.errors import BadStreamError

__all__ = ["encode_layer", "decode_layer", "layer_cost", "prior_bits", "PRIOR_PATH"]

PRIOR_PATH = pathlib.Path(__file__).with_name("data") / "charprior.npz"

# Character model parameters (tuned on held-out pages; changing any changes the bitstream).
_PRIOR_CAP = 64       # a prior context's counts are scaled to sum to about this
_INC = 16             # count added per coded character
_LIMIT = 1 << 13      # counts of a context are halved when their sum exceeds this
_ESC_A = 96           # escape weight per distinct symbol of a context, in 1/16
_ESC_B = 64           # constant escape weight, in 1/16
_BASE_SHIFT = 20      # order -1: every symbol weighs 1 << _BASE_SHIFT
_Q_BITS = 40          # blended weights are rescaled to sum to about 2**_Q_BITS (int64-safe)
_MAX_ORDER = 5
_SCALE_TOTAL = 4096   # must match layout/build_prior.py
_MAX_STYLES = 8       # length of the move-to-front list of recent styles

_START = "\n" * 8
_ESC = 0


@functools.lru_cache(maxsize=1)
def _prior() -> tuple[tuple[str, ...], tuple[dict[str, tuple[np.ndarray, np.ndarray]], ...]]:
    """The shipped prior: base alphabet (index 0 = escape) and per-order sparse counts."""
    z = np.load(PRIOR_PATH)
    chars = ("",) + tuple(chr(int(c)) for c in z["alphabet"])
    o0 = z["o0"].astype(np.int64)
    o0 = np.maximum(o0 * _PRIOR_CAP // _SCALE_TOTAL, 1)
    orders: list[dict[str, tuple[np.ndarray, np.ndarray]]] = [{"": (np.arange(len(o0)), o0)}]
    for k in range(1, _MAX_ORDER + 1):
        if f"ctx{k}" not in z:
            orders.append({})
            continue
        ctx, off, sym, cnt = (z[f"ctx{k}"], z[f"off{k}"], z[f"sym{k}"].astype(np.int64),
                              z[f"cnt{k}"].astype(np.int64))
        table = {}
        for i in range(len(ctx)):
            key = "".join(chars[j] for j in ctx[i])
            c = cnt[off[i]: off[i + 1]]
            tot = int(c.sum())
            if tot > _PRIOR_CAP:
                c = np.maximum(c * _PRIOR_CAP // tot, 1)
            table[key] = (sym[off[i]: off[i + 1]], c)
        orders.append(table)
    return chars, tuple(orders)


class _CharModel:
    """Blended order-3..0 context model over a growing alphabet (see the module docstring)."""

    def __init__(self) -> None:
        chars, self._prior = _prior()
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(chars) if i}
        self.n = len(chars)
        # ctx string -> [counts (int64, len >= n), total, distinct]
        self.tables: list[dict[str, list]] = [{} for _ in range(_MAX_ORDER + 1)]
        self.newcode = AdaptiveInt(signed=True)
        self.last_new = 0x80

    def _entries(self, h: str) -> list[list]:
        """The count entries of the contexts of orders 0.._MAX_ORDER after history ``h``."""
        out = []
        n = self.n
        for k, table in enumerate(self.tables):
            key = h[len(h) - k:] if k else ""
            ent = table.get(key)
            if ent is None:
                arr = np.zeros(n, dtype=np.int64)
                pr = self._prior[k].get(key)
                if pr is not None:
                    arr[pr[0]] = pr[1]
                ent = table[key] = [arr, int(arr.sum()), int(np.count_nonzero(arr))]
            elif len(ent[0]) < n:
                ent[0] = np.concatenate([ent[0], np.zeros(n - len(ent[0]), dtype=np.int64)])
            out.append(ent)
        return out

    def dist(self, ents: list[list]) -> np.ndarray:
        """Blended integer weights of the next symbol (all >= 1)."""
        q = np.full(self.n, 1 << _BASE_SHIFT, dtype=np.int64)
        z = self.n << _BASE_SHIFT
        for arr, total, distinct in ents:
            if total == 0:
                continue
            e = _ESC_A * distinct + _ESC_B
            zz = z * (16 * total + e)
            shift = zz.bit_length() - _Q_BITS
            q = arr * (16 * z) + e * q
            if shift > 0:
                q >>= shift
                z = zz >> shift
            else:
                z = zz
        return np.maximum(q, 1, out=q)

    def update(self, ents: list[list], s: int) -> None:
        for ent in ents:
            arr = ent[0]
            if arr[s] == 0:
                ent[2] += 1
            arr[s] += _INC
            ent[1] += _INC
            if ent[1] > _LIMIT:
                arr += 1
                arr >>= 1
                ent[1] = int(arr.sum())
                ent[2] = int(np.count_nonzero(arr))

    def code(self, coder: Coder, h: str, ch: str | None = None) -> str:
        """Code one character after history ``h`` (at least `_MAX_ORDER` characters)."""
        ents = self._entries(h)
        q = self.dist(ents)
        if not coder.decoding:
            s = self.index.get(ch, _ESC)  # type: ignore[arg-type]
            coder.categorical(q, s)
        else:
            s = coder.categorical(q)
        if s == _ESC:
            if not coder.decoding:
                cp = ord(ch)  # type: ignore[arg-type]
                self.newcode.code(coder, cp - self.last_new)
            else:
                cp = self.last_new + self.newcode.code(coder)
                if not 0 <= cp <= 0x10FFFF or chr(cp) in self.index:
                    raise BadStreamError("corrupt character code in text layer")
            self.last_new = cp
            ch = chr(cp)
            s = self.n
            self.chars.append(ch)
            self.index[ch] = s
            self.n += 1
            ents = self._entries(h)  # grown to the new alphabet size
            ents[0][0][_ESC] += _INC
            ents[0][1] += _INC
        else:
            ch = self.chars[s]
        self.update(ents, s)
        return ch  # type: ignore[return-value]


_ESC_BITS = 16.0  # cost charged, beyond the escape itself, for a character outside the prior


@functools.lru_cache(maxsize=1)
def _scorer() -> _CharModel:
    return _CharModel()


def prior_bits(text: str, before: str = " ") -> float:
    """Bits that the text coder's shipped prior alone (no adaptation) spends on ``text`` and the
    space after it, following ``before``: how plausible a string is as text (the misreading
    check of `layout.analyze` asks it whether an alternative reading is text at all).

    A character outside the prior costs its escape plus `_ESC_BITS`.
    """
    m = _scorer()
    h = (_START + before)[-len(_START):]
    bits = 0.0
    for c in text + " ":
        # the entries a fresh model would make, built here and not kept (no state grows)
        ents = []
        for k, prior in enumerate(m._prior):
            arr = np.zeros(m.n, dtype=np.int64)
            pr = prior.get(h[len(h) - k:] if k else "")
            if pr is not None:
                arr[pr[0]] = pr[1]
            ents.append([arr, int(arr.sum()), int(np.count_nonzero(arr))])
        q = m.dist(ents)
        s = m.index.get(c, _ESC)
        bits -= float(np.log2(q[s] / q.sum()))
        if s == _ESC:
            bits += _ESC_BITS
        h = h[1:] + c
    return bits


# Advance widths of Helvetica in 1/1000 em (printable ASCII), for width prediction only.
_HELV = dict(zip(
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
    (278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
     556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
     1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
     667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
     333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
     556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584),
))


def _advance(text: str) -> int:
    """Generic advance of ``text`` in 1/1000 em (wide for CJK and other full-width scripts)."""
    total = 0
    for c in text:
        w = _HELV.get(c)
        if w is None:
            w = 1000 if ord(c) >= 0x2E80 else 556
        total += w
    return total


class _LayoutModel:
    """Adaptive models and predictor state of the layout part, shared by encoder and decoder."""

    def __init__(self) -> None:
        self.style_pick = AdaptiveCategorical(_MAX_STYLES + 1, init=np.array([8] + [1] * _MAX_STYLES))
        self.font = AdaptiveInt()
        self.size = AdaptiveInt()
        self.color = [AdaptiveInt() for _ in range(3)]
        self.baseline0 = AdaptiveInt()
        self.baseline = AdaptiveInt()
        self.x0_first = AdaptiveInt()
        self.x0 = AdaptiveInt()
        self.gap = AdaptiveInt()
        self.width = AdaptiveInt()
        self.styles: list[Style] = []
        self.last_new = Style(0, 16, (0, 0, 0))
        self.ratio: dict[tuple[int, int], list[int]] = {}
        self.space: dict[tuple[int, int], int] = {}

    def code_style(self, coder: Coder, style: Style | None) -> Style:
        if not coder.decoding:
            i = self.styles.index(style) if style in self.styles else _MAX_STYLES
            self.style_pick.code(coder, i)
        else:
            i = self.style_pick.code(coder)
            if i < _MAX_STYLES and i >= len(self.styles):
                raise BadStreamError("corrupt style reference in text layer")
        if i < _MAX_STYLES:
            style = self.styles.pop(i)
        else:
            p = self.last_new
            enc = not coder.decoding
            font = p.font + self.font.code(coder, style.font - p.font if enc else None)
            size = p.size + self.size.code(coder, style.size - p.size if enc else None)
            pr, pg, pb = p.color
            if enc:
                r, g, b = style.color
                r = pr + self.color[0].code(coder, r - pr)
                self.color[1].code(coder, (g - r) - (pg - pr))
                self.color[2].code(coder, (b - g) - (pb - pg))
            else:
                r = pr + self.color[0].code(coder)
                g = r + (pg - pr) + self.color[1].code(coder)
                b = g + (pb - pg) + self.color[2].code(coder)
            style = Style(font, size, (r, g, b))
            self.last_new = style
            if len(self.styles) == _MAX_STYLES:
                self.styles.pop()
        self.styles.insert(0, style)
        return style

    def _ratio(self, style: Style) -> list[int]:
        key = (style.font, style.size)
        r = self.ratio.get(key)
        if r is None:
            r = self.ratio[key] = [4 * style.size, 4000]
        return r

    def code_words(self, coder: Coder, style: Style, texts: list[str], words: tuple[Word, ...] | None,
                   first_x: int | None) -> list[Word]:
        """Positions and widths of one line's words; returns them (decoded or as given)."""
        enc = not coder.decoding
        key = (style.font, style.size)
        ratio = self._ratio(style)
        out: list[Word] = []
        end = 0
        for j, text in enumerate(texts):
            w = words[j] if enc else None  # type: ignore[index]
            if j == 0:
                if first_x is None:
                    x = self.x0_first.code(coder, w.x if enc else None)  # type: ignore[union-attr]
                else:
                    x = first_x + self.x0.code(coder, w.x - first_x if enc else None)  # type: ignore[union-attr]
            else:
                sp = self.space.get(key)
                if sp is None:
                    sp = (style.size * 278 + 500) // 1000
                pred = end + sp
                x = pred + self.gap.code(coder, w.x - pred if enc else None)  # type: ignore[union-attr]
                self.space[key] = x - end
            est = _advance(text)
            pw = (est * ratio[0] + ratio[1] // 2) // ratio[1] if ratio[1] > 0 else 0
            width = pw + self.width.code(coder, w.width - pw if enc else None)  # type: ignore[union-attr]
            if 0 < width and est > 0:
                ratio[0] += width
                ratio[1] += est
                if ratio[1] > 1 << 16:
                    ratio[0] = (ratio[0] + 1) >> 1
                    ratio[1] = (ratio[1] + 1) >> 1
            end = x + width
            out.append(w if enc else Word(text, x, width))  # type: ignore[arg-type]
        return out


def _line_texts(layer: TextLayer) -> list[list[str]]:
    out = []
    for line in layer.lines:
        texts = []
        for w in line.words:
            if not w.text or " " in w.text or "\n" in w.text:
                raise ValueError(f"word {w.text!r} is empty or contains a space or newline")
            texts.append(w.text)
        out.append(texts)
    return out


def _code_text(coder: Coder, lines: list[list[str]] | None) -> list[list[str]]:
    """n_lines and the characters; returns the words of each line."""
    n_model = AdaptiveInt(signed=False)
    model = _CharModel()
    h = _START
    if not coder.decoding:
        n_model.code(coder, len(lines))  # type: ignore[arg-type]
        for texts in lines:  # type: ignore[union-attr]
            for c in " ".join(texts) + "\n":
                model.code(coder, h, c)
                h = h[1:] + c
        return lines  # type: ignore[return-value]
    n = n_model.code(coder)
    out = []
    for _ in range(n):
        buf: list[str] = []
        while True:
            c = model.code(coder, h)
            h = h[1:] + c
            if c == "\n":
                break
            buf.append(c)
        s = "".join(buf)
        texts = s.split(" ") if s else []
        if any(not t for t in texts):
            raise BadStreamError("corrupt text layer (empty word)")
        out.append(texts)
    return out


def _code_layout(coder: Coder, texts: list[list[str]], layer: TextLayer | None) -> list[Line]:
    m = _LayoutModel()
    enc = not coder.decoding
    out: list[Line] = []
    prev_base: int | None = None
    prev_step = 0
    first_x: int | None = None
    for i, ltexts in enumerate(texts):
        line = layer.lines[i] if enc else None  # type: ignore[union-attr]
        style = m.code_style(coder, line.style if enc else None)  # type: ignore[union-attr]
        if prev_base is None:
            base = style.size + m.baseline0.code(coder, line.baseline - style.size if enc else None)  # type: ignore[union-attr]
        else:
            pred = prev_base + prev_step
            base = pred + m.baseline.code(coder, line.baseline - pred if enc else None)  # type: ignore[union-attr]
            prev_step = base - prev_base
        prev_base = base
        words = m.code_words(coder, style, ltexts, line.words if enc else None, first_x)  # type: ignore[union-attr]
        if words:
            first_x = words[0].x
        out.append(line if enc else Line(base, style, tuple(words)))  # type: ignore[arg-type]
    return out


def encode_layer(layer: TextLayer) -> bytes:
    """Code ``layer`` losslessly (its width and height are not coded: the container has them).

    Raises ValueError for a word that is empty or contains a space or newline.
    """
    texts = _line_texts(layer)
    enc = Encoder()
    _code_text(enc, texts)
    _code_layout(enc, texts, layer)
    return enc.finish()


def decode_layer(data: bytes, width: int, height: int) -> TextLayer:
    """Inverse of `encode_layer`; raises `BadStreamError` for corrupt data where detectable."""
    dec = Decoder(data)
    try:
        texts = _code_text(dec, None)
        lines = _code_layout(dec, texts, None)
    except BadStreamError:
        raise
    except (ValueError, IndexError, OverflowError, MemoryError) as exc:
        raise BadStreamError(f"corrupt text layer: {exc}") from exc
    return TextLayer(width, height, tuple(lines))


def layer_cost(layer: TextLayer) -> dict[str, int]:
    """Bits of the coded layer split into characters (with the line count) and layout."""
    texts = _line_texts(layer)
    enc = Encoder()
    _code_text(enc, texts)
    char_bits = 8 * len(enc.finish())
    total = 8 * len(encode_layer(layer))
    return {
        "char_bits": char_bits,
        "layout_bits": total - char_bits,
        "total_bits": total,
        "n_chars": layer.n_chars,
        "n_words": layer.n_words,
        "n_lines": len(layer.lines),
    }
