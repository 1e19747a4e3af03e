"""Text engines: RapidOCR on rendered text, its post-processing, and the PDF text layer."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

import ocr
from ocr import rapid
from ocr.base import NullOcrEngine, OcrLine, OcrWord
from ocr.pdf import open_pdf, page_count, render_page
from picd.errors import BadInputError

DEJAVU = matplotlib.get_data_path() + "/fonts/ttf/DejaVuSans.ttf"


def _inside(inner, outer, slack=0):
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def _iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


# --- registry ------------------------------------------------------------------------------


def test_get_engine_names():
    assert ocr.ENGINES == ("rapidocr", "none")
    assert isinstance(ocr.get_engine("none"), NullOcrEngine)
    assert ocr.get_engine("none").recognize(np.zeros((8, 8, 3), np.uint8)) == []
    assert isinstance(ocr.get_engine("rapidocr"), rapid.RapidOcrEngine)
    with pytest.raises(ValueError, match="rapidocr, none"):
        ocr.get_engine("tesseract")


# --- RapidOCR --------------------------------------------------------------------------------


def test_rapidocr_reads_words_where_they_were_drawn():
    font = ImageFont.truetype(DEJAVU, 22)
    words = ["Quick", "brown", "fox", "jumps", "2024"]
    image = Image.new("RGB", (520, 60), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    x, truth = 14, []
    for word in words:
        draw.text((x, 16), word, font=font, fill=(20, 30, 120))
        truth.append(draw.textbbox((x, 16), word, font=font))
        x += int(draw.textlength(word + " ", font=font))
    lines = ocr.get_engine("rapidocr").recognize(np.asarray(image))
    got = [w for line in lines for w in line.words]
    assert [w.text for w in got] == words
    for word, box in zip(got, truth):
        assert _iou(word.box, box) > 0.7, (word, box)
        assert 0.5 < word.confidence <= 1.0
        assert all(isinstance(v, int) for v in word.box)


def test_rapidocr_gets_bgr_and_keeps_it_out_of_the_caller(monkeypatch):
    seen = []

    def fake_engine(array):
        seen.append(array.copy())
        return SimpleNamespace(txts=None)

    monkeypatch.setattr(rapid, "_cached_rapidocr", lambda config: fake_engine)
    image = np.zeros((4, 5, 3), np.uint8)
    image[..., 0] = 255  # pure red in RGB
    assert rapid.RapidOcrEngine().recognize(image) == []
    assert seen[0][0, 0].tolist() == [0, 0, 255]
    assert image[0, 0].tolist() == [255, 0, 0]


def test_rapidocr_missing_models_fail_clearly(monkeypatch, tmp_path):
    from picd.errors import MissingModelError

    monkeypatch.setattr(rapid, "_model_dir", lambda: tmp_path)  # an empty "wheel"
    engine = rapid.RapidOcrEngine(rapid.RapidOcrConfig(text_score=0.123))  # not cached yet
    with pytest.raises(MissingModelError, match="PP-OCRv6_det_small.onnx"):
        engine.recognize(np.zeros((32, 32, 3), np.uint8))


def _fake_result(txts, boxes, tokens):
    quads = [np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float) for x0, y0, x1, y1 in boxes]
    return SimpleNamespace(txts=tuple(txts), scores=(0.9,) * len(txts), boxes=np.array(quads), word_results=tuple(tokens))


def _quad(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_cjk_characters_join_into_words_split_at_ink_gaps(monkeypatch):
    image = np.full((40, 140, 3), 255, np.uint8)
    for x0, x1 in ((10, 28), (30, 48), (70, 88)):  # two touching "characters", a space, one more
        image[12:30, x0:x1] = 0
    # RapidOCR: one token per CJK character, no space transcribed, loose estimated boxes
    tokens = [(("中", 0.99, _quad(8, 5, 29, 35)), ("文", 0.95, _quad(29, 5, 50, 35)), ("字", 0.97, _quad(66, 5, 90, 35)))]
    result = _fake_result(["中文字"], [(5, 5, 95, 35)], tokens)
    monkeypatch.setattr(rapid, "_cached_rapidocr", lambda config: lambda array: result)
    (line,) = rapid.RapidOcrEngine().recognize(image)
    assert [w.text for w in line.words] == ["中文", "字"]
    assert line.words[0].box == (10, 12, 48, 30)
    assert line.words[1].box == (70, 12, 88, 30)
    assert line.words[0].confidence == pytest.approx(0.95)


def test_latin_letters_on_a_line_read_per_character_join_into_words(monkeypatch):
    # One full-width sign switches RapidOCR to one token per character for the whole line; the
    # Latin letters must still form words (split only where the text has white space).
    image = np.full((40, 200, 3), 255, np.uint8)
    cols = [(10, 17), (18, 25), (27, 30), (31, 38), (39, 46), (80, 87), (88, 95)]
    for x0, x1 in cols:
        image[12:30, x0:x1] = 0
    chars = "ab：cd" + "ef"
    tokens = [tuple((c, 0.9, _quad(x0 - 1, 8, x1 + 1, 34)) for c, (x0, x1) in zip(chars, cols))]
    result = _fake_result(["ab：cd ef"], [(5, 8, 100, 34)], tokens)
    monkeypatch.setattr(rapid, "_cached_rapidocr", lambda config: lambda array: result)
    (line,) = rapid.RapidOcrEngine().recognize(image)
    assert [w.text for w in line.words] == ["ab：cd", "ef"]


def test_rapid_lines_in_reading_order_and_blank_words_dropped(monkeypatch):
    image = np.full((100, 200, 3), 255, np.uint8)
    image[60:70, 20:60] = 0
    image[20:30, 120:160] = 0
    image[21:29, 20:60] = 0
    result = _fake_result(
        ["low", "right", "left"],
        [(15, 55, 65, 75), (115, 15, 165, 35), (15, 16, 65, 34)],
        [
            (("low", 0.9, _quad(18, 55, 62, 75)), ("\u200b", 0.9, _quad(62, 55, 65, 75))),
            (("right", 0.9, _quad(118, 15, 162, 35)),),
            (("left", 0.9, _quad(18, 16, 62, 34)),),
        ],
    )
    monkeypatch.setattr(rapid, "_cached_rapidocr", lambda config: lambda array: result)
    lines = rapid.RapidOcrEngine().recognize(image)
    assert [ln.text for ln in lines] == ["left", "right", "low"]
    assert lines[0].words[0].box == (20, 21, 60, 29)


# --- PDF ---------------------------------------------------------------------------------------


def _make_pdf(path, rotation=0, cropbox=None):
    doc = pymupdf.open()
    page = doc.new_page(width=320, height=200)
    page.insert_text((30, 60), "Hello exact world", fontsize=18, color=(1, 0, 0))
    page.insert_text((30, 120), "Bold line", fontsize=12, fontname="hebo", color=(0, 0, 1))
    if cropbox is not None:
        page.set_cropbox(pymupdf.Rect(cropbox))
    page.set_rotation(rotation)
    doc.save(path)
    return path


def test_pdf_text_layer_matches_rendered_ink(tmp_path):
    path = _make_pdf(tmp_path / "a.pdf")
    assert page_count(path) == 1
    image, lines = render_page(path, 0, 144)
    assert image.shape == (400, 640, 3) and image.dtype == np.uint8
    assert [ln.text for ln in lines] == ["Hello exact world", "Bold line"]
    red = lines[0].words
    assert all(w.color == (255, 0, 0) and not w.bold for w in red)
    assert all(w.color == (0, 0, 255) and w.bold for w in lines[1].words)
    assert red[0].size == pytest.approx(36, abs=0.01)
    assert red[0].baseline == pytest.approx(120, abs=0.5)
    assert lines[1].words[0].baseline == pytest.approx(240, abs=0.5)
    assert red[0].font and "Helvetica" in red[0].font
    # every red pixel lies in a red word's box, and each box is tight around its ink
    ink = (image[..., 0] > 160) & (image[..., 1] < 120) & (image[..., 2] < 120)
    covered = np.zeros_like(ink)
    for w in red:
        x0, y0, x1, y1 = w.box
        covered[y0:y1, x0:x1] = True
        ys, xs = np.nonzero(ink[y0:y1, x0:x1])
        assert xs.size and xs.min() <= 2 and ys.min() <= 2
        assert xs.max() >= x1 - x0 - 3 and ys.max() >= y1 - y0 - 3
    assert not (ink & ~covered).any()


def test_pdf_words_know_where_the_pen_starts_and_stops(tmp_path):
    """A word's pen span: from its first character's origin to the origin of the space after it
    (Helvetica's advances: the text's length as PyMuPDF measures it); unknown after the line's
    last word, which no space ends."""
    path = _make_pdf(tmp_path / "a.pdf")
    _, lines = render_page(path, 0, 144)
    hello, exact, world = lines[0].words
    scale = 2.0  # pixels per point at 144 dpi
    assert hello.pen == pytest.approx((30 * scale, 30 * scale + pymupdf.get_text_length(
        "Hello ", fontsize=18) * scale - pymupdf.get_text_length(" ", fontsize=18) * scale), abs=0.05)
    assert exact.pen[0] == pytest.approx(30 * scale + pymupdf.get_text_length("Hello ", fontsize=18) * scale,
                                         abs=0.05)
    assert world.pen is None and lines[1].words[-1].pen is None
    # the ink lies inside the pen span, as Helvetica's side bearings keep it
    assert hello.pen[0] <= hello.box[0] + 1 and hello.box[2] <= hello.pen[1] + 1


@pytest.mark.parametrize("rotation", [90, 270])
def test_pdf_boxes_follow_rotation_and_cropbox(tmp_path, rotation):
    path = _make_pdf(tmp_path / "r.pdf", rotation=rotation, cropbox=(10, 20, 300, 190))
    image, lines = render_page(path, 0, 72)
    assert image.shape[:2] == (290, 170)
    # rotated by the page, the text runs vertically on the image: it is left in the background
    assert lines == []


def test_pdf_cropbox_offsets_boxes(tmp_path):
    path = _make_pdf(tmp_path / "c.pdf", cropbox=(10, 20, 300, 190))
    image, lines = render_page(path, 0, 72)
    assert image.shape[:2] == (170, 290)
    ink = (image[..., 0] > 160) & (image[..., 1] < 120)
    ys, xs = np.nonzero(ink)
    box = lines[0].box
    assert _inside((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), box)
    assert lines[0].words[0].baseline == pytest.approx(40, abs=0.5)


def test_pdf_rotated_text_on_rotated_page_reads_upright(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page(width=200, height=300)
    page.set_rotation(90)
    # text written so that it is upright once the page is turned
    page.insert_text((60, 200), "Upright", fontsize=20, rotate=90, color=(1, 0, 0))
    doc.save(tmp_path / "u.pdf")
    image, lines = render_page(tmp_path / "u.pdf", 0, 72)
    assert [ln.text for ln in lines] == ["Upright"]
    ink = (image[..., 0] > 160) & (image[..., 1] < 120)
    ys, xs = np.nonzero(ink)
    assert _inside((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), lines[0].box, slack=1)


def test_pdf_bad_inputs(tmp_path):
    garbage = tmp_path / "g.pdf"
    garbage.write_bytes(b"%PDF-1.7\n this is not really a pdf \x00\x01\x02" * 3)
    with pytest.raises(BadInputError):
        open_pdf(garbage)
    text = tmp_path / "t.pdf"
    text.write_text("hello")
    with pytest.raises(BadInputError):
        page_count(text)
    with pytest.raises(BadInputError):
        page_count(tmp_path / "missing.pdf")

    doc = pymupdf.open()
    doc.new_page().insert_text((50, 50), "secret")
    locked = tmp_path / "e.pdf"
    doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    with pytest.raises(BadInputError, match="password") as info:
        render_page(locked, 0, 72)
    assert "\n" not in str(info.value)

    path = _make_pdf(tmp_path / "ok.pdf")
    with pytest.raises(BadInputError, match="no page 2"):
        render_page(path, 1, 72)
    with pytest.raises(BadInputError):
        render_page(path, -1, 72)


def test_pdf_invisible_text_and_control_characters_are_dropped(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=100)
    page.insert_text((20, 40), "seen", fontsize=14)
    page.insert_text((20, 80), "hidden", fontsize=14, render_mode=3)
    doc.save(tmp_path / "h.pdf")
    _, lines = render_page(tmp_path / "h.pdf", 0, 72)
    assert [ln.text for ln in lines] == ["seen"]
    assert isinstance(lines[0], OcrLine) and isinstance(lines[0].words[0], OcrWord)
