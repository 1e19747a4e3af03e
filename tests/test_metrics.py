"""Image and text measures of picd.metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from picd import metrics


def _image(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.uniform(0, 255, (h, w, 3)), (3, 3, 0))
    return np.clip(base, 0, 255).astype(np.uint8)


def test_psnr_of_known_mse():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 10, np.uint8)  # MSE = 100
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100))
    assert metrics.psnr(a, a) == math.inf


def test_psnr_counts_every_channel():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[..., 0] = 30  # MSE = 900 / 3 = 300
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 300))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))


def test_non_uint8_images_are_an_error():
    with pytest.raises(ValueError):
        metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.int32))


def test_ms_ssim_identity_and_order():
    a = _image()
    assert metrics.ms_ssim(a, a) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    light = np.clip(a + rng.normal(0, 5, a.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    s_light, s_heavy = metrics.ms_ssim(a, light), metrics.ms_ssim(a, heavy)
    assert 0.0 <= s_heavy < s_light < 1.0


def test_ms_ssim_small_images_use_fewer_scales():
    a = _image(20, 24)
    b = np.clip(a.astype(int) + 20, 0, 255).astype(np.uint8)
    assert metrics.ms_ssim(a, a) == pytest.approx(1.0)
    assert 0.0 < metrics.ms_ssim(a, b) < 1.0
    assert 0.0 <= metrics.ms_ssim(a[:6, :6], b[:6, :6]) <= 1.0


def test_gmsd_zero_for_identity_and_grows_with_blur():
    a = _image()
    assert metrics.gmsd(a, a) == pytest.approx(0.0, abs=1e-12)
    mild = ndimage.gaussian_filter(a, (1, 1, 0))
    strong = ndimage.gaussian_filter(a, (4, 4, 0))
    assert 0.0 < metrics.gmsd(a, mild) < metrics.gmsd(a, strong)


def test_image_measures_are_fast_on_720p():
    import time

    a = _image(720, 1280)
    b = ndimage.gaussian_filter(a, (1, 1, 0))
    for fn in (metrics.psnr, metrics.ms_ssim, metrics.gmsd):
        t0 = time.perf_counter()
        fn(a, b)
        assert time.perf_counter() - t0 < 2.0, fn.__name__  # < 1 s unloaded; slack for CI


def test_normalize_words_nfkc_and_white_space():
    assert metrics.normalize_words("  ﬁne\tday\n\u00a0ok ") == ["fine", "day", "ok"]
    assert metrics.normalize_words("") == []


def test_word_f1_is_multiset_f1():
    assert metrics.word_f1("a a b", "a b b") == pytest.approx(2 / 3)  # 2 matches of 3 and 3
    assert metrics.word_f1("a", "a a a a") == pytest.approx(2 * 1 * 0.25 / 1.25)
    assert metrics.word_f1("b a", "a b") == 1.0  # order does not matter
    assert metrics.word_f1("Hello", "hello") == 0.0  # case matters
    assert metrics.word_f1("", "") == 1.0
    assert metrics.word_f1("x", "") == 0.0
    assert metrics.word_f1("", "x") == 0.0


def test_cer_hand_cases():
    assert metrics.cer("sitting", "kitten") == pytest.approx(3 / 6)
    assert metrics.cer("kitten", "sitting") == pytest.approx(3 / 7)
    assert metrics.cer("a  b\n", " a b") == 0.0  # white space runs collapse
    assert metrics.cer("ﬁ", "fi") == 0.0  # NFKC
    assert metrics.cer("", "") == 0.0
    assert metrics.cer("abc", "") == 1.0
    assert metrics.cer("", "abcd") == 1.0
    assert metrics.cer("abcdef", "ab") == pytest.approx(2.0)  # can exceed 1


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_edit_distance_matches_textbook_dp():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a = "".join(rng.choice(list("abcé "), rng.integers(0, 12)))
        b = "".join(rng.choice(list("abcé "), rng.integers(0, 12)))
        assert metrics.edit_distance(a, b) == _levenshtein(a, b), (a, b)


def test_full_reference_gives_the_functions_values_for_many_images():
    a = _image(64, 80)
    ref = metrics.FullReference(a)
    for sigma in (0.5, 1.0, 3.0):  # the reference's cached side must not depend on the first b
        b = ndimage.gaussian_filter(a, (sigma, sigma, 0))
        assert ref.psnr(b) == metrics.psnr(a, b)
        assert ref.ms_ssim(b) == metrics.ms_ssim(a, b)
        assert ref.gmsd(b) == metrics.gmsd(a, b)
    with pytest.raises(ValueError):
        ref.ms_ssim(a[:32])
