import numpy as np
import pytest
from PIL import Image

from picd.background import ClassicalBackgroundCodec, get_background_codec, remove_text
from picd.errors import BadStreamError, MissingModelError


def _ui_image(h=180, w=320):
    rng = np.random.default_rng(1)
    img = np.full((h, w, 3), (240, 242, 245), np.uint8)
    img[20:60, 10:150] = (30, 90, 200)  # a coloured button
    img[100:170, 200:310] = rng.integers(0, 255, (70, 110, 3), dtype=np.uint8)  # a photo
    return img


def test_remove_text_fills_from_surroundings():
    img = _ui_image()
    text = img.copy()
    mask = np.zeros(img.shape[:2], bool)
    for y in range(28, 52, 6):  # thin "strokes" inside the button, as text is
        mask[y : y + 2, 20:140] = True
    mask[28:52, 40:42] = True
    text[mask] = (255, 255, 255)
    out = remove_text(text, mask)
    assert np.abs(out[mask].astype(int) - (30, 90, 200)).max() <= 2
    assert np.array_equal(out[~mask], text[~mask])


@pytest.mark.parametrize("budget", [60, 300, 1500])
def test_classical_codec_stays_within_budget_and_improves_with_rate(budget):
    img = _ui_image()
    # AVIF/WebP alone: with rectangles, a few more bytes can trade squared error for structure
    # (rectangles are kept only where they lose no MS-SSIM; tests/test_rects.py)
    codec = ClassicalBackgroundCodec(rects=False)
    payload = codec.compress(img, budget)
    assert len(payload) <= budget
    out = codec.decompress(payload, img.shape[1], img.shape[0])
    assert out.shape == img.shape and out.dtype == np.uint8
    mse = ((out.astype(float) - img) ** 2).mean()
    small = codec.decompress(codec.compress(img, 40), img.shape[1], img.shape[0])
    assert mse <= ((small.astype(float) - img) ** 2).mean()


def test_flat_floor_and_corruption():
    img = _ui_image()
    codec = ClassicalBackgroundCodec()
    floor = codec.compress(img, 4)
    assert len(floor) == 4 and floor[0] == 0
    with pytest.raises(BadStreamError):
        codec.decompress(b"\x01\x05abc", 32, 32)
    with pytest.raises(BadStreamError):
        codec.decompress(b"", 32, 32)
    with pytest.raises(MissingModelError, match="id 99"):
        get_background_codec(99)


def test_weight_zero_pixels_do_not_count():
    img = _ui_image()
    w = np.ones(img.shape[:2], np.float32)
    w[:, :160] = 0  # left half will be covered by text
    codec = ClassicalBackgroundCodec()
    a = codec.decompress(codec.compress(img, 400, w), img.shape[1], img.shape[0])
    b = codec.decompress(codec.compress(img, 400), img.shape[1], img.shape[0])
    err = lambda x: ((x[:, 160:].astype(float) - img[:, 160:]) ** 2).mean()  # noqa: E731
    assert err(a) <= err(b) + 1e-6


def test_full_size_is_tried_down_to_a_hundredth_of_a_bit_per_pixel():
    # A mostly flat 3239x2159 screen at 0.02 bpp codes best at full size (its edges stay sharp):
    # the factors tried start at 1 there, and coarser ones stay in the search.
    scales = ClassicalBackgroundCodec._scales(3239, 2159, 17000)
    assert scales[0] == 1 and 2 in scales and 4 in scales
    assert ClassicalBackgroundCodec._scales(3239, 2159, 4000)[0] == 2  # 0.005 bpp: too few bits


def _counting_encodes(monkeypatch):
    """The (format, downscaled size, quality) of every encode from now on."""
    import picd.background as bg

    calls = []
    real = bg._encode
    monkeypatch.setattr(bg, "_encode", lambda fmt, small, q: calls.append((fmt, small.size, q))
                        or real(fmt, small, q))
    return calls


def test_an_instance_codes_an_image_it_has_coded_again_from_memory(monkeypatch):
    # The encoder codes one page's background several times (with and without ink patches,
    # with large text as patches): the same pixels are not coded again.
    img = _ui_image()
    calls = _counting_encodes(monkeypatch)
    codec = ClassicalBackgroundCodec()
    first = codec.compress(img, 1500)
    n = len(calls)
    assert n > 0 and codec.compress(img, 1500) == first and len(calls) == n
    assert codec.compress(img, 1400) == ClassicalBackgroundCodec().compress(img, 1400)


def test_a_size_far_over_the_budget_for_the_last_image_is_not_coded_for_the_next(monkeypatch):
    img = _ui_image()
    other = img.copy()
    other[70:90, 20:120] = (200, 40, 40)  # a few words' ink painted in: a similar image
    calls = _counting_encodes(monkeypatch)
    fresh = ClassicalBackgroundCodec().compress(other, 150)
    # full size is tried (and does not fit: 298 bytes at quality 0)
    assert (320, 180) in {size for _, size, _ in calls}
    warm = ClassicalBackgroundCodec()
    warm.compress(img, 160)
    calls.clear()
    assert warm.compress(other, 150) == fresh and calls
    assert (320, 180) not in {size for _, size, _ in calls}


def test_payloads_far_over_the_budget_are_kept_as_lengths_and_coded_again_when_they_fit(
        monkeypatch):
    import picd.background as bg

    calls = []
    monkeypatch.setattr(bg, "_encode", lambda fmt, small, q: calls.append(q) or bytes(100 + 40 * q))
    codec = ClassicalBackgroundCodec()
    small = Image.new("RGB", (8, 8))
    assert len(codec._fit(1, small, b"k", 300)) == 300  # quality 5
    kept = codec._coded[b"k", 1]
    assert 50 in kept and kept[50] == 2100  # probed, far over 300 bytes: its length only
    assert all(isinstance(p, int) or len(p) <= 600 for p in kept.values())
    calls.clear()
    assert codec._fit(1, small, b"k", 2100) == bytes(2100) and calls.count(50) == 1
