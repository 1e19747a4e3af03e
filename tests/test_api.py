"""The pipeline through the Python API: verified redraw, rate control, modes."""

import numpy as np
import pytest

import picd
from picd import api
from picd import container as ct
from picd.errors import BadInputError
from picd.imageio import Page
from tests.conftest import make_screenshot

from ocr.base import OcrEngine


class _Relabel(OcrEngine):
    """Real OCR, then one word swapped for a planted misreading."""

    name = "relabel"

    def __init__(self, mapping):
        from ocr import get_engine
        from ocr.base import OcrLine, OcrWord

        self._inner = get_engine("rapidocr")
        self._mapping = mapping
        self._OcrLine, self._OcrWord = OcrLine, OcrWord

    def recognize(self, image):
        out = []
        for line in self._inner.recognize(image):
            words = tuple(
                self._OcrWord(self._mapping.get(w.text, w.text), w.box, w.confidence) for w in line.words
            )
            out.append(self._OcrLine(words))
        return out


def test_planted_misreading_is_not_redrawn():
    img = np.asarray(make_screenshot(lines=("Battery saver is on", "Open the file menu")))
    engine = _Relabel({"Battery": "Baltery", "menu": "mean"})
    res = api.encode_detailed(Page(img, None, "image"), bpp=0.2, ocr_engine=engine)
    kept = {w.text for line in res.analysis.layer.lines for w in line.words}
    rejected = {w.text for w, _, _ in res.analysis.rejected}
    assert {"Baltery", "mean"} <= rejected
    assert not {"Baltery", "mean"} & kept
    assert {"saver", "Open", "file"} <= kept  # the correctly read words stay text


def test_quality_mode_and_default_target(screenshot_path):
    lo = picd.encode(screenshot_path, quality=10)
    hi = picd.encode(screenshot_path, quality=90)
    assert len(lo) < len(hi)
    default = picd.encode(screenshot_path)
    assert len(default) * 8 <= api.DEFAULT_BPP[ct.Mode.SCREEN] * 480 * 200
    with pytest.raises(BadInputError):
        picd.encode(screenshot_path, bpp=0.02, quality=50)
    with pytest.raises(BadInputError):
        picd.encode(screenshot_path, mode="poster")


def test_text_over_target_warns_and_codes_background_at_floor(screenshot_path):
    res = api.encode_detailed(screenshot_path, bpp=0.002)
    assert res.warnings and "floor" in res.warnings[0]
    assert res.background_bytes == 4
    assert np.asarray(picd.decode(res.data)).shape == (200, 480, 3)


def test_pdf_page_uses_exact_text_layer(tmp_path):
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    page.insert_text((30, 60), "Quarterly report for the board", fontsize=14, fontname="helv")
    page.insert_text((30, 100), "Revenue grew by twelve percent", fontsize=12, fontname="helv")
    p = tmp_path / "doc.pdf"
    doc.save(p)
    res = api.encode_detailed(p, bpp=0.1)
    assert res.mode == ct.Mode.DOCUMENT
    text = res.analysis.layer.text
    assert "Quarterly report for the board" in text and "twelve" in text
    with pytest.raises(BadInputError, match="page 3"):
        picd.encode(p, page=3)
