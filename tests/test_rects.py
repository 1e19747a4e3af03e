import hashlib

import numpy as np
import pytest

from picd import rects
from picd.background import ClassicalBackgroundCodec
from picd.errors import BadStreamError


def _boxes(h=120, w=200):
    """A window-like image: flat panels, a title bar, a button."""
    img = np.full((h, w, 3), (240, 240, 240), np.uint8)
    img[10:30, :] = (0, 0, 128)
    img[40:100, 20:90] = (200, 30, 30)
    img[50:60, 120:190] = (10, 200, 10)
    img[104:118, 4:196] = (192, 192, 192)
    return img


def _mse(a, b):
    return float(((a.astype(float) - b) ** 2).mean())


@pytest.mark.parametrize("grid", [1, 2])
def test_flat_boxes_come_back_exactly_where_their_edges_lie_on_the_grid(grid):
    img = _boxes()
    data = rects.encode(img, np.ones(img.shape[:2]), 400, grid, 1)
    assert data is not None and len(data) <= 400
    assert np.array_equal(rects.decode(data, 200, 120), img)


@pytest.mark.parametrize("budget", [2, 9, 20, 40, 80])
def test_stays_within_budget_and_improves_with_it(budget):
    rng = np.random.default_rng(3)
    img = _boxes()
    img = np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    wt = np.ones(img.shape[:2])
    data = rects.encode(img, wt, budget, 1, 4)
    if budget < 3:  # not even the grid byte and one colour
        assert data is None
        return
    assert len(data) <= budget
    more = rects.encode(img, wt, budget * 2, 1, 4)
    assert _mse(rects.decode(more, 200, 120), img) < _mse(rects.decode(data, 200, 120), img)


def test_colours_on_a_coarser_step_cost_fewer_bytes_and_land_on_the_step():
    rng = np.random.default_rng(5)
    img = np.zeros((64, 256, 3), np.uint8)
    for i in range(16):  # 16 boxes of 16 unrelated colours
        img[:, i * 16 : (i + 1) * 16] = rng.integers(0, 256, 3)
    wt = np.ones(img.shape[:2])
    fine, coarse = rects.encode(img, wt, 400, 1, 1), rects.encode(img, wt, 400, 1, 16)
    assert np.array_equal(rects.decode(fine, 256, 64), img)
    out = rects.decode(coarse, 256, 64)
    assert len(coarse) < len(fine)
    assert np.all((out % 16 == 0) | (out == 255)) and np.abs(out.astype(int) - img).max() <= 8


def test_pixels_of_weight_zero_do_not_count():
    img = _boxes()
    img[60:80, 100:180] = (255, 0, 255)  # a word the text layer will cover
    wt = np.ones(img.shape[:2])
    wt[60:80, 100:180] = 0
    out = rects.decode(rects.encode(img, wt, 400, 1, 1), 200, 120)
    assert np.array_equal(out[wt > 0], img[wt > 0])


def test_golden_bytes():
    img = _boxes()
    img[70:90, 100:140] = (201, 31, 29)  # close to the red box's colour: takes it from the cache
    data = rects.encode(img, np.ones(img.shape[:2]), 400, 1, 1)
    assert (rects.decode(data, 200, 120)[70:90, 100:140] == (200, 30, 30)).all()
    assert hashlib.sha256(data).hexdigest() == "8eb2420e59c7eaa18827608f8e82524d73d10fb0d6ec606fa5cc39f8a5f9ccd3"


def test_corrupt_streams_are_refused_with_a_stream_error():
    img = _boxes()
    data = rects.encode(img, np.ones(img.shape[:2]), 400, 1, 4)
    with pytest.raises(BadStreamError):
        rects.decode(b"", 200, 120)
    with pytest.raises(BadStreamError):
        rects.decode(bytes([16]) + data[1:], 200, 120)  # no such grid and step
    rng = np.random.default_rng(0)
    for _ in range(200):  # random bytes decode to some partition or are refused, nothing else
        junk = bytes([int(rng.integers(0, 16))]) + rng.bytes(int(rng.integers(0, 40)))
        try:
            out = rects.decode(junk, 200, 120)
        except BadStreamError:
            continue
        assert out.shape == (120, 200, 3)


def test_a_reader_refuses_more_rectangles_than_the_bytes_allow(monkeypatch):
    img = _boxes()
    data = rects.encode(img, np.ones(img.shape[:2]), 400, 1, 4)
    monkeypatch.setattr(rects, "_max_leaves", lambda n: 3)
    with pytest.raises(BadStreamError, match="more rectangles"):
        rects.decode(data, 200, 120)


def test_the_background_codec_takes_rectangles_where_they_come_closer_in_few_bytes():
    img = _boxes(240, 400)
    img[150:200, 250:380] = (250, 200, 0)
    with_rects = ClassicalBackgroundCodec()
    without = ClassicalBackgroundCodec(rects=False)
    a, b = with_rects.compress(img, 120), without.compress(img, 120)
    assert a[0] == 3 and len(a) <= 120  # the rectangles' format
    ea = _mse(with_rects.decompress(a, 400, 240), img)
    eb = _mse(without.decompress(b, 400, 240), img)
    assert ea < eb / 4
