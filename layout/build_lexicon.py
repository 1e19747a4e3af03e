"""Build `layout/data/words.txt.gz`: the word list of `layout.lexicon`.

Usage::

    apt-get install wamerican   # Debian's SCOWL American English list (/usr/share/dict)
    .venv/bin/python layout/build_lexicon.py [--words /usr/share/dict/american-english] [--out PATH]

Every entry is NFKC-normalised and lower-cased; entries of letters with at most inner
apostrophes are kept (``whale's``, ``café``), others dropped. The result, sorted and unique, one
word per line, is gzip-compressed with a zero timestamp so that the same list builds the same
bytes. Provenance and licence of the list: `layout/data/WORDS-LICENSE.txt` (SCOWL, by Kevin
Atkinson and others, permissive with notice; the shipped file is derived from Debian's
``wamerican`` package, version 2020.12.07-2).
"""

from __future__ import annotations

import argparse
import gzip
import io
import pathlib
import unicodedata

OUT = pathlib.Path(__file__).with_name("data") / "words.txt.gz"
WORDS = pathlib.Path("/usr/share/dict/american-english")


def keep(entry: str) -> str | None:
    """The entry as the lexicon holds it, or None when it is not a plain word."""
    w = unicodedata.normalize("NFKC", entry.strip()).lower()
    core = w.replace("'", "")
    if not core or not core.isalpha() or w.startswith("'") or w.endswith("'"):
        return None
    return w


def build(lines: list[str]) -> bytes:
    words = sorted({w for w in map(keep, lines) if w})
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write(("\n".join(words) + "\n").encode("utf-8"))
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=pathlib.Path, default=WORDS)
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    args = ap.parse_args()
    data = build(args.words.read_text(encoding="utf-8").splitlines())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(args.out)
    n = gzip.decompress(data).count(b"\n")
    print(f"{n} words, {len(data)} bytes -> {args.out}")


if __name__ == "__main__":
    main()
