"""Build `layout/data/charprior.npz`: the character-model prior of `layout.textcoder`.

Usage::

    .venv/bin/python layout/build_prior.py [--docs ../shared/data/documents] [--out PATH]

Training text: the PDF text layers (PyMuPDF ``page.get_text()``) of the documents named in
`TRAIN_DOCS` only; every other document and all screenshots are held out for
`bench/textcoder_bpc.py`. Each page becomes lines of words joined by single spaces and ended by
``"\\n"``, exactly as the text coder sees a `TextLayer`. Only n-gram counts (orders 0..ORDER) are
shipped, scaled and pruned, as integers.

Provenance of the training text (see ../shared/data/documents/MANIFEST.md): the pdfplumber
test PDFs (jsvine/pdfplumber, MIT repository; mostly US-government public documents). The shipped
file holds character n-gram statistics, not the text. (`pdfjs_freeculture.pdf`, CC BY-NC, was
used by the first draft and is deliberately left out: its licence does not allow shipping
material derived from it in an Apache-2.0 package.)

File format (numpy ``.npz``, all integer arrays):
- ``alphabet``: int32 code points of symbol indexes 1..K (index 0 is the escape symbol), most
  frequent first.
- ``o0``: int32 counts of order 0, length K + 1 (escape count at 0).
- for k in 1..ORDER: ``ctx{k}`` (n, k) uint8/uint16 symbol indexes of the context (oldest first),
  ``off{k}`` int32 offsets (n + 1) into ``sym{k}`` (symbol indexes) and ``cnt{k}`` (counts).
Counts of a context are scaled so that they sum to at most `SCALE_TOTAL`; entries that scale to 0
are dropped, and contexts seen fewer than `MIN_CTX` times are dropped.
"""

from __future__ import annotations

import argparse
import pathlib
from collections import Counter, defaultdict

import numpy as np

TRAIN_DOCS = (
    "pdfplumber_2023-06-20-PV.pdf",
    "pdfplumber_WARN-Report-for-7-1-2015-to-03-25-2016.pdf",
    "pdfplumber_chelsea_pdta.pdf",
    "pdfplumber_cupertino_usd_4-6-16.pdf",
    "pdfplumber_federal-register-2020-17221.pdf",
    "pdfplumber_issue-316-example.pdf",
    "pdfplumber_issue-336-example.pdf",
    "pdfplumber_issue-463-example.pdf",
    "pdfplumber_issue-598-example.pdf",
    "pdfplumber_issue-982-example.pdf",
    "pdfplumber_nics-background-checks-2015-11.pdf",
    "pdfplumber_scotus-transcript-p1.pdf",
    "pdfplumber_senate-expenditures.pdf",
)

ORDER = 5             # highest context order
MIN_CHAR = 8          # characters seen fewer times stay out of the base alphabet
SCALE_TOTAL = 4096    # per-context count total after scaling
MIN_CTX = (0, 4, 6, 8, 12, 24)  # minimum raw occurrences of a context of order k to be kept

OUT = pathlib.Path(__file__).with_name("data") / "charprior.npz"
DOCS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "documents"


def page_text(page) -> str:  # noqa: ANN001 - a pymupdf.Page
    """A page's text as the text coder sees it: words joined by spaces, lines ended by newline."""
    lines = []
    for raw in page.get_text().splitlines():
        words = raw.split()
        if words:
            lines.append(" ".join(words) + "\n")
    return "".join(lines)


def training_text(docs: pathlib.Path) -> list[str]:
    import pymupdf

    pages = []
    for name in TRAIN_DOCS:
        with pymupdf.open(docs / name) as doc:
            pages.extend(page_text(p) for p in doc)
    return [p for p in pages if p]


def build(pages: list[str]) -> dict[str, np.ndarray]:
    freq = Counter(c for p in pages for c in p)
    chars = sorted((c for c, n in freq.items() if n >= MIN_CHAR), key=lambda c: (-freq[c], ord(c)))
    for must in ("\n", " "):
        if must not in chars:
            chars.append(must)
    index = {c: i + 1 for i, c in enumerate(chars)}
    K = len(chars)

    counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(ORDER + 1)]
    for p in pages:
        # Unknown characters count as the escape symbol 0; texts start as after a newline.
        seq = [index["\n"]] * ORDER + [index.get(c, 0) for c in p]
        for i in range(ORDER, len(seq)):
            s = seq[i]
            for k in range(ORDER + 1):
                counts[k][tuple(seq[i - k : i])][s] += 1

    out: dict[str, np.ndarray] = {"alphabet": np.array([ord(c) for c in chars], dtype=np.int32)}
    o0 = np.zeros(K + 1, dtype=np.int64)
    for s, n in counts[0][()].items():
        o0[s] = n
    o0 = np.maximum(o0 * SCALE_TOTAL // max(1, int(o0.sum())), 0)
    o0[o0 == 0] = 1
    out["o0"] = o0.astype(np.int32)
    dt = np.uint8 if K < 256 else np.uint16
    for k in range(1, ORDER + 1):
        ctxs, offs, syms, cnts = [], [0], [], []
        for ctx in sorted(counts[k]):
            c = counts[k][ctx]
            tot = sum(c.values())
            if tot < MIN_CTX[k] or 0 in ctx:
                continue
            scale = min(1.0, SCALE_TOTAL / tot)
            items = sorted((s, int(n * SCALE_TOTAL // tot) if scale < 1 else n) for s, n in c.items())
            items = [(s, n) for s, n in items if n > 0]
            if not items:
                continue
            ctxs.append(ctx)
            syms.extend(s for s, _ in items)
            cnts.extend(n for _, n in items)
            offs.append(len(syms))
        out[f"ctx{k}"] = np.array(ctxs, dtype=dt).reshape(-1, k)
        out[f"off{k}"] = np.array(offs, dtype=np.int32)
        out[f"sym{k}"] = np.array(syms, dtype=dt)
        out[f"cnt{k}"] = np.array(cnts, dtype=np.uint16)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=pathlib.Path, default=DOCS)
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    args = ap.parse_args()
    pages = training_text(args.docs)
    tables = build(pages)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **tables)
    n_ctx = {k: len(tables[f"ctx{k}"]) for k in range(1, ORDER + 1)}
    print(f"{sum(map(len, pages))} training chars, {len(tables['alphabet'])} symbols, "
          f"contexts {n_ctx}, {args.out.stat().st_size} bytes -> {args.out}")


if __name__ == "__main__":
    main()
