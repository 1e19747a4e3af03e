"""Image and text quality measures used by ``picd bench`` and the acceptance tests.

Image measures take two ``uint8`` RGB arrays of shape ``(H, W, 3)`` and the same size: ``a`` is
the reference (original), ``b`` the distorted (decoded) image. numpy and OpenCV only, no weights.

- :func:`psnr`: over all three RGB channels, peak 255.
- :func:`ms_ssim`: Wang, Simoncelli & Bovik, "Multi-scale structural similarity for image
  quality assessment", Asilomar 2003, on luma (BT.601 Y). Higher is better, 1 = identical.
- :func:`gmsd`: Xue, Zhang, Mou & Bovik, "Gradient magnitude similarity deviation", IEEE TIP 2014,
  on luma. Lower is better, 0 = identical.
- :class:`FullReference`: the same three for one original against many decoded images, with what
  depends on the original alone computed once.

Text measures compare a hypothesis (OCR of the decoded image) with a reference (the truth text):

- :func:`normalize_words`: NFKC, then split on white space. Case and punctuation are kept.
- :func:`word_f1`: F1 of the word multisets (bags of words; order ignored, repeats counted).
- :func:`cer`: character edit distance over reference length, on NFKC text with white space runs
  collapsed to one space and stripped at both ends.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import cv2
import numpy as np

# MS-SSIM (Wang et al. 2003): exponents per scale, finest first, and the SSIM constants.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SSIM_K1, _SSIM_K2, _SSIM_L = 0.01, 0.03, 255.0
_WIN_SIGMA = 1.5
_WIN_RADIUS = 5  # an 11x11 Gaussian window
# GMSD (Xue et al. 2014): stability constant for 0..255 images.
_GMSD_C = 170.0


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB arrays, got {a.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"expected uint8 arrays, got {a.dtype} and {b.dtype}")


_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` as float64 in 0..255."""
    return np.asarray(image) @ _LUMA_WEIGHTS


_WIN_KERNEL = cv2.getGaussianKernel(2 * _WIN_RADIUS + 1, _WIN_SIGMA)  # normalised, float64


def _gauss(x: np.ndarray) -> np.ndarray:
    # Separable 11-tap Gaussian, edges mirrored (d c b a | a b c d); OpenCV's float64 filter is
    # several times faster than scipy.ndimage's and agrees with it to ~1e-13.
    return cv2.sepFilter2D(x, cv2.CV_64F, _WIN_KERNEL, _WIN_KERNEL, borderType=cv2.BORDER_REFLECT)


def _ssim_cs(ref: tuple, y: np.ndarray) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term over the 'valid' window positions.

    ``ref`` is the reference's side at this scale: ``(x, gauss(x), gauss(x * x))``.
    """
    c1 = (_SSIM_K1 * _SSIM_L) ** 2
    c2 = (_SSIM_K2 * _SSIM_L) ** 2
    x, mx, gxx = ref
    my = _gauss(y)
    sxx = gxx - mx * mx
    syy = _gauss(y * y) - my * my
    sxy = _gauss(x * y) - mx * my
    r = _WIN_RADIUS
    if x.shape[0] > 2 * r and x.shape[1] > 2 * r:  # keep only windows fully inside the image
        sl = (slice(r, -r), slice(r, -r))
        mx, my, sxx, syy, sxy = mx[sl], my[sl], sxx[sl], syy[sl], sxy[sl]
    cs_map = (2.0 * sxy + c2) / (sxx + syy + c2)
    ssim_map = (2.0 * mx * my + c1) / (mx * mx + my * my + c1) * cs_map
    return float(ssim_map.mean()), float(cs_map.mean())


def _halve(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling (odd last row/column dropped)."""
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


_PREWITT = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0


def _grad_mag(z: np.ndarray) -> np.ndarray:
    # filter2D correlates (no kernel flip); edges repeat the border pixel.
    gx = cv2.filter2D(z, cv2.CV_64F, _PREWITT, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(z, cv2.CV_64F, _PREWITT.T, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


class FullReference:
    """An original image, ready to be compared with many decoded versions of it.

    What the measures compute from the reference alone (its luma pyramid and window statistics
    for MS-SSIM, its gradient magnitude for GMSD) is computed once, on first use, and kept; the
    benchmark compares each original with a few dozen decoded images. The values are those of
    :func:`psnr`, :func:`ms_ssim` and :func:`gmsd`.
    """

    def __init__(self, image: np.ndarray) -> None:
        self.image = np.asarray(image)
        self._pyramid: list[tuple] | None = None
        self._grad: np.ndarray | None = None

    def psnr(self, b: np.ndarray) -> float:
        """Peak signal-to-noise ratio in dB: ``10 log10(255^2 / MSE)``, MSE over all RGB samples.

        Returns ``inf`` for identical images.
        """
        _check_pair(self.image, b)
        # OpenCV sums the squared differences of uint8 images exactly, without int copies
        a, b = np.ascontiguousarray(self.image), np.ascontiguousarray(b)
        mse = cv2.norm(a, b, cv2.NORM_L2SQR) / a.size
        if mse == 0.0:
            return float("inf")
        return 10.0 * np.log10(255.0 * 255.0 / mse)

    def ms_ssim(self, b: np.ndarray) -> float:
        """Multi-scale SSIM (Wang et al. 2003) on BT.601 luma, in 0..1 (1 = identical).

        Five scales with the paper's weights ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``, an
        11x11 Gaussian window of sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, ``L = 255``, 2x2 average
        pooling between scales, statistics averaged over window positions fully inside the image.
        ``MS-SSIM = prod_{j<M} cs_j^w_j * ssim_M^w_M`` with ``ssim`` at the coarsest scale ``M``.

        Images too small for five scales (coarsest side under 11 pixels) use as many scales as
        fit, with the first weights renormalised to sum to 1. Negative ``cs``/``ssim`` means
        (possible on extreme distortions) are clamped to 0 so the result stays real.
        """
        _check_pair(self.image, b)
        if self._pyramid is None:
            x = luma(self.image)
            side = min(x.shape[:2])
            scales = 1
            while scales < len(MS_SSIM_WEIGHTS) and side // (2**scales) >= 2 * _WIN_RADIUS + 1:
                scales += 1
            pyramid = []
            for j in range(scales):
                pyramid.append((x, _gauss(x), _gauss(x * x)))
                x = _halve(x) if j < scales - 1 else x
            self._pyramid = pyramid
        weights = np.array(MS_SSIM_WEIGHTS[: len(self._pyramid)])
        weights = weights / weights.sum()
        y = luma(b)
        result = 1.0
        for j, ref in enumerate(self._pyramid):
            s, cs = _ssim_cs(ref, y)
            if j < len(self._pyramid) - 1:
                result *= max(cs, 0.0) ** weights[j]
                y = _halve(y)
            else:
                result *= max(s, 0.0) ** weights[j]
        return float(result)

    def gmsd(self, b: np.ndarray) -> float:
        """Gradient magnitude similarity deviation (Xue et al. 2014) on BT.601 luma; lower is
        better.

        As the authors' reference code: 2x2 average filter and downsampling by 2, Prewitt
        gradients (3x3, divided by 3), ``GMS = (2 m_a m_b + c) / (m_a^2 + m_b^2 + c)`` with
        ``c = 170`` for 0..255 images, and ``GMSD = std(GMS)`` over the image. 0 for identical
        images.
        """
        _check_pair(self.image, b)
        if self._grad is None:
            half = _halve(luma(self.image))
            self._grad = _grad_mag(half) if half.size else half
        ma = self._grad
        if ma.size == 0:
            return 0.0
        mb = _grad_mag(_halve(luma(b)))
        gms = (2.0 * ma * mb + _GMSD_C) / (ma * ma + mb * mb + _GMSD_C)
        return float(gms.std())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of ``b`` against ``a`` (see :meth:`FullReference.psnr`)."""
    return FullReference(a).psnr(b)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-scale SSIM of ``b`` against ``a`` (see :meth:`FullReference.ms_ssim`)."""
    return FullReference(a).ms_ssim(b)


def gmsd(a: np.ndarray, b: np.ndarray) -> float:
    """GMSD of ``b`` against ``a`` (see :meth:`FullReference.gmsd`)."""
    return FullReference(a).gmsd(b)


# ---------------------------------------------------------------------------------------------
# Text


def normalize_text(text: str) -> str:
    """NFKC, white space runs collapsed to one space, stripped at both ends."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def normalize_words(text: str) -> list[str]:
    """Words of ``text``: NFKC-normalised, split on any white space. Case and punctuation kept."""
    return unicodedata.normalize("NFKC", text).split()


def word_f1(hyp_text: str, ref_text: str) -> float:
    """F1 of the word multisets of ``hyp_text`` and ``ref_text`` (see :func:`normalize_words`).

    ``matches = sum over words w of min(count_hyp(w), count_ref(w))``,
    ``precision = matches / n_hyp``, ``recall = matches / n_ref``, ``F1 = 2PR / (P + R)``.
    Both empty: 1.0. Exactly one empty, or no match: 0.0.
    """
    hyp, ref = Counter(normalize_words(hyp_text)), Counter(normalize_words(ref_text))
    n_hyp, n_ref = sum(hyp.values()), sum(ref.values())
    if n_hyp == 0 and n_ref == 0:
        return 1.0
    matches = sum((hyp & ref).values())
    if matches == 0:
        return 0.0
    precision, recall = matches / n_hyp, matches / n_ref
    return 2.0 * precision * recall / (precision + recall)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit cost insert, delete, substitute) between two strings.

    Row-by-row dynamic programming, each row vectorised with numpy: substitutions and deletions
    elementwise, then insertions as a running minimum ``d[j] = min_k (t[k] + j - k)``.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    cols = np.arange(len(b) + 1, dtype=np.int64)
    prev = cols.copy()
    for i, ch in enumerate(a, start=1):
        cost = (bb != ord(ch)).astype(np.int64)
        t = np.empty_like(prev)
        t[0] = i
        np.minimum(prev[:-1] + cost, prev[1:] + 1, out=t[1:])
        prev = np.minimum.accumulate(t - cols) + cols
    return int(prev[-1])


def cer(hyp_text: str, ref_text: str) -> float:
    """Character error rate: ``edit_distance(hyp, ref) / len(ref)`` on :func:`normalize_text`.

    Can exceed 1 when the hypothesis is much longer than the reference. Empty reference: 0.0 if
    the hypothesis is empty too, else 1.0.
    """
    hyp, ref = normalize_text(hyp_text), normalize_text(ref_text)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(hyp, ref) / len(ref)


# ---------------------------------------------------------------------------------------------
# OCR of an image (the hypothesis text)


def ocr_text(image: np.ndarray) -> str:
    """The text RapidOCR reads in an RGB ``uint8`` image, one recognised line per row.

    Uses ``ocr.get_engine("rapidocr")`` (one cached engine per process).
    """
    from ocr import get_engine, lines_text

    return lines_text(get_engine("rapidocr").recognize(np.ascontiguousarray(image)))


def reference_text(image: np.ndarray, lines) -> tuple[str, str]:
    """The text a decoded image is judged against, and where it came from: an exact text layer
    (``lines``, e.g. a PDF's) when there is one, else OCR of the original ``image``."""
    if lines:
        from ocr import lines_text

        return lines_text(lines), "PDF text layer"
    return ocr_text(image), "OCR of the original"
