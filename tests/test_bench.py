"""picd.baselines size search and the ``picd bench`` runner, on tiny images made here."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

import ocr
from ocr.base import OcrEngine, OcrLine, OcrWord
from picd import baselines, bench, metrics


def _screen(w: int = 160, h: int = 120, seed: int = 0) -> np.ndarray:
    """A small screen-like image: flat colours, a gradient bar and some text."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (w, h), (250, 250, 248))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, w, 18), fill=(40, 90, 160))
    for i, y in enumerate(range(26, h - 10, 14)):
        d.text((8, y), f"Line {i} of text {rng.integers(100, 999)}", fill=(20, 20, 20))
    for x in range(w):
        d.line((x, h - 8, x, h), fill=(x * 255 // w, 120, 255 - x * 255 // w))
    return np.asarray(im)


def _pillow_independent(image: np.ndarray, setting: dict) -> tuple[int, float]:
    """Byte size and PSNR of coding ``image`` with Pillow alone, from a reported setting."""
    h, w = image.shape[:2]
    f = setting["factor"]
    im = Image.fromarray(image)
    if f > 1:
        im = im.resize((math.ceil(w / f), math.ceil(h / f)), Image.Resampling.LANCZOS)
    fmt = {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}[setting["codec"]]
    params = {k: v for k, v in setting.items() if k not in ("codec", "factor")}
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    dec = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if f > 1:
        dec = dec.resize((w, h), Image.Resampling.LANCZOS)
    return len(buf.getvalue()), metrics.psnr(image, np.asarray(dec))


@pytest.mark.parametrize("codec", ["avif", "webp", "jpeg"])
@pytest.mark.parametrize("bpp", [0.3, 1.0])
def test_reported_setting_matches_an_independent_pillow_encode(codec, bpp):
    image = _screen()
    budget = int(bpp * image.shape[0] * image.shape[1] / 8)
    r = baselines.encode_to_size(codec, image, budget)
    assert r.reached and r.n_bytes <= budget
    assert r.n_bytes == len(r.data) + (baselines.SIDE_INFO_BYTES if r.setting["factor"] > 1 else 0)
    n, p = _pillow_independent(image, r.setting)
    assert n == len(r.data)
    assert p == pytest.approx(metrics.psnr(image, r.decoded_image), abs=1e-9)


def test_search_lands_just_under_and_prefers_full_resolution_when_rich():
    image = _screen()
    budget = int(2.0 * image.size / 3 / 8)
    r = baselines.encode_to_size("webp", image, budget, factors=(1,))
    assert r.reached and r.setting["factor"] == 1
    if r.setting["quality"] < 100:  # one step up no longer fits
        assert len(baselines.get_codec("webp").encode(image, r.setting["quality"] + 1)) > budget


def test_unreachable_budget_returns_smallest_file():
    image = _screen()
    r = baselines.encode_to_size("avif", image, 10)
    assert not r.reached and r.n_bytes > 10
    assert r.setting["quality"] == 0 and r.decoded_image.shape == image.shape


def test_search_uses_downscaling_at_tiny_budgets():
    image = np.asarray(Image.fromarray(_screen()).resize((640, 480)))
    r = baselines.encode_to_size("jpeg", image, 600)
    assert r.reached and r.setting["factor"] > 1


def test_hocr_words():
    doc = ("<html><body><div class='ocr_page'><span class='ocr_line'>"
           "<span class='ocrx_word' title='bbox 0 0 5 5'>Hello</span> "
           "<span class='ocrx_word'><em>wor</em>ld</span></span></div></body></html>")
    assert bench.hocr_text(doc) == "Hello world"


def test_crop_box_finds_the_busy_region():
    image = np.full((200, 300, 3), 255, np.uint8)
    image[120:170, 200:260] = np.random.default_rng(0).integers(0, 255, (50, 60, 3))
    x0, y0, x1, y1 = bench.crop_box(image, 64)
    assert (x1 - x0, y1 - y0) == (64, 64)
    assert x0 <= 210 and x1 >= 250 and y0 <= 130 and y1 >= 160


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_end_to_end_report_bad_input_and_resume(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_screen(seed=1)).save(src / "a.png")
    Image.fromarray(_screen(144, 96, seed=2)).save(src / "b.png")
    (src / "notes.txt").write_text("not an image")
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "a.txt").write_text("Line 0 of text")
    (truth / "b.hocr").write_text("<span class='ocrx_word'>Line</span>"
                                  "<span class='ocrx_word'>zero</span>")
    monkeypatch.setattr(metrics, "ocr_text", lambda image: "Line 0 of")  # no OCR models in tests
    monkeypatch.setattr(baselines.shutil, "which", lambda tool: None)  # as without djvulibre
    out = tmp_path / "report"
    args = [str(src), "--codecs", "webp,jpeg,djvu", "--bpp", "0.5,1", "--truth-dir", str(truth),
            "-o", str(out), "--factors", "1,2"]
    result = CliRunner().invoke(bench.bench_command, args)
    assert result.exit_code == 0, result.output
    for name in ("results.csv", "summary.md", "rate_word_f1.png", "rate_psnr.png",
                 "rate_ms_ssim.png", "crops.html"):
        assert (out / name).is_file(), name
    rows = _read(out / "results.csv")
    assert len(rows) == 2 * 3 * 2
    ok = [r for r in rows if r["codec"] in ("webp", "jpeg")]
    assert all(r["status"] == "ok" for r in ok)
    assert all(int(r["bytes"]) <= int(r["max_bytes"]) for r in ok)
    a = [r for r in ok if r["image"] == "a.png"]
    assert all(float(r["word_f1"]) == pytest.approx(metrics.word_f1("Line 0 of", "Line 0 of text"))
               for r in a)
    assert all(r["truth"] == "truth-dir" for r in ok)
    djvu = [r for r in rows if r["codec"] == "djvu"]
    assert all(r["status"] == "skipped" and "djvulibre" in r["note"] for r in djvu)
    summary = (out / "summary.md").read_text()
    assert "notes.txt" in summary and "djvulibre" in summary
    assert "| webp | 2 | 0 |" in summary
    html = (out / "crops.html").read_text()
    assert "a.png" in html and "original" in html
    assert (out / "crops" / "a.png__webp_0.5.png").is_file()

    # Resume: finished rows are kept, not redone.
    calls = []
    monkeypatch.setattr(bench, "run_unit", lambda unit, cfg: calls.append(unit) or [])
    result = CliRunner().invoke(bench.bench_command, args)
    assert result.exit_code == 0, result.output
    assert [u.codec for u in calls] == ["djvu", "djvu"]  # only the skipped rows are retried
    assert len(_read(out / "results.csv")) == len(rows)


class _FakeOcr(OcrEngine):
    """Stands in for RapidOCR (no models in tests): one line, and records what it is asked."""

    name = "fake"

    def __init__(self) -> None:
        self.recognized = 0
        self.read: list[list] = []

    def recognize(self, image):
        self.recognized += 1
        return [OcrLine((OcrWord("Line", (8, 26, 30, 36)), OcrWord("0", (33, 26, 38, 36))))]

    def read_lines(self, image, boxes):
        self.read.append(list(boxes))
        return ["Line 0"] * len(boxes)


@pytest.fixture
def fake_ocr(monkeypatch):
    engine = _FakeOcr()
    monkeypatch.setattr(ocr, "get_engine", lambda name="rapidocr": engine)
    return engine


@pytest.mark.parametrize("ocr_lines", [0, 24])
def test_ocr_truth_is_cached(tmp_path, fake_ocr, ocr_lines):
    Image.fromarray(_screen()).save(tmp_path / "a.png")
    cfg = bench.BenchConfig(codecs=("jpeg",), bpps=(1.0,), out_dir=str(tmp_path / "r"),
                            ocr_lines=ocr_lines)
    items, problems = bench.collect_items([str(tmp_path / "a.png")], 1)
    assert not problems
    first = bench.prepare(items[0], cfg)
    second = bench.prepare(items[0], cfg)
    assert first.truth == second.truth == "Line 0" and first.truth_source == "ocr-original"
    assert fake_ocr.recognized == 1
    if ocr_lines:
        assert first.ocr_boxes == ((8, 26, 38, 36),) and len(fake_ocr.read) == 1
        assert first.truth_label == "ocr-original:1-lines-24h"
    else:
        assert first.ocr_boxes is None and not fake_ocr.read


def test_sample_lines_spreads_evenly():
    assert bench.sample_lines(list(range(10)), 3) == [1, 5, 8]
    assert bench.sample_lines(list(range(4)), 6) == [0, 1, 2, 3]


def test_sample_lines_cuts_long_lines_at_a_word_gap():
    # a 10 px high line: 3 line heights reach x = 130; "bb" ends at 125, "cc" at 140
    words = (OcrWord("aa", (100, 0, 110, 10)), OcrWord("bb", (115, 0, 125, 10)),
             OcrWord("cc", (130, 0, 140, 10)))
    (cut,) = bench.sample_lines([OcrLine(words)], 4, width=3)
    assert cut.text == "aa bb" and cut.box == (100, 0, 125, 10)
    (whole,) = bench.sample_lines([OcrLine(words)], 4, width=0)
    assert whole.text == "aa bb cc"
    (first,) = bench.sample_lines([OcrLine((OcrWord("long", (0, 0, 90, 10)),) + words)], 4, 3)
    assert first.text == "long"  # a first word wider than the limit is kept alone


def test_decoded_images_are_read_at_the_originals_line_boxes(tmp_path, fake_ocr):
    Image.fromarray(_screen()).save(tmp_path / "a.png")
    out = tmp_path / "r"
    args = [str(tmp_path / "a.png"), "--codecs", "jpeg", "--bpp", "1", "-o", str(out)]
    result = CliRunner().invoke(bench.bench_command, args)
    assert result.exit_code == 0, result.output
    (row,) = _read(out / "results.csv")
    assert row["truth"] == "ocr-original:1-lines-24h" and float(row["word_f1"]) == 1.0
    assert fake_ocr.read == [[(8, 26, 38, 36)]] * 2  # the original, then the decoded image
    assert "--ocr-lines 16 --ocr-width 24" in (out / "summary.md").read_text()
    # Another reading mode measures against another truth: the row is redone, not resumed.
    result = CliRunner().invoke(bench.bench_command, args + ["--ocr-lines", "0"])
    assert result.exit_code == 0, result.output
    (row,) = _read(out / "results.csv")
    assert row["truth"] == "ocr-original" and fake_ocr.recognized == 2


def test_pdf_without_text_layer_falls_back_to_ocr_truth(tmp_path, fake_ocr):
    fitz = pytest.importorskip("fitz")
    png = io.BytesIO()
    Image.fromarray(_screen()).save(png, "PNG")
    doc = fitz.open()
    page = doc.new_page(width=160, height=120)
    page.insert_image(page.rect, stream=png.getvalue())
    doc.save(str(tmp_path / "scan.pdf"))
    items, problems = bench.collect_items([str(tmp_path / "scan.pdf")], 3)
    assert not problems and [i.key for i in items] == ["scan.pdf#p1"]
    prep = bench.prepare(items[0], bench.BenchConfig(out_dir=str(tmp_path / "r")))
    assert prep.truth_source == "ocr-original" and "no text layer" in prep.note


def test_size_search_over_budgets_matches_one_search_per_budget():
    # Budgets searched one after another on one SizeSearch (coarse factors first ruled out by
    # smaller budgets, guesses from other factors' size curves) land on what a fresh search for
    # each budget alone finds.
    image = _screen(320, 240)
    h, w = image.shape[:2]
    budgets = [int(b * w * h / 8) for b in (0.1, 0.2, 0.3, 0.5, 0.8)]
    search = baselines.SizeSearch(baselines.get_codec("webp"), image)
    factors = set()
    for budget in budgets:
        shared = search.run(budget)
        alone = baselines.encode_to_size("webp", image, budget)
        assert shared.setting == alone.setting and shared.data == alone.data
        assert shared.reached and len(shared.data) + 2 <= budget
        factors.add(shared.setting["factor"])
    assert len(factors) > 1  # the budgets span a change of factor
