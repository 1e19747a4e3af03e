"""Ink patches of words that are not redrawn: extraction, lossless coding, budget, decoding."""

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from layout.ink import (InkPatch, count_patches, decode_patches, encode_patches, find_patches, fit_patches,
                        neighbour_codes, paint_patches)
from ocr.base import GivenLinesEngine, OcrLine, OcrWord
from picd import api
from picd import container as ct
from picd.errors import BadInputError, BadStreamError
from picd.imageio import Page
from tests.conftest import FONT_DIR


def _glyph_mask(text: str, px: int = 16) -> np.ndarray:
    f = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), px)
    x0, y0, x1, y1 = f.getbbox(text)
    im = Image.new("L", (x1 - x0, y1 - y0))
    ImageDraw.Draw(im).text((-x0, -y0), text, font=f, fill=255)
    m = np.asarray(im) > 127
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    return m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _patches() -> list[InkPatch]:
    rng = np.random.default_rng(3)
    out = []
    for i, t in enumerate(["Settings", "ok", "Wi-Fi 6E", "x", "Bluetooth"]):
        m = _glyph_mask(t, 12 + 3 * i)
        c = tuple(int(v) & 0xFC | 2 for v in rng.integers(0, 256, 3))
        out.append(InkPatch(10 + 37 * i, 5 + 20 * (i % 3), m, c))
    out.append(InkPatch(300, 100, rng.random((9, 31)) < 0.4, (2, 2, 2)))  # noise: still lossless
    return out


def test_patches_round_trip_exactly():
    ps = _patches()
    data = encode_patches(ps, 400, 200)
    back = decode_patches(data, 400, 200)
    want = sorted(ps, key=lambda p: (p.y, p.x))
    assert [(p.x, p.y, p.color) for p in back] == [(p.x, p.y, p.color) for p in want]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(back, want))
    assert count_patches(data) == len(ps) and count_patches(encode_patches([], 10, 10)) == 0
    # the context model pays for itself: glyphs cost well under one bit per pixel, even cold
    glyphs = ps[:-1]
    assert len(encode_patches(glyphs, 400, 200)) * 8 < 0.6 * sum(p.mask.size for p in glyphs)
    assert decode_patches(encode_patches([], 10, 10), 10, 10) == []


def test_corrupted_or_truncated_patches_raise_bad_stream():
    data = encode_patches(_patches(), 400, 200)
    for bad in (data[: len(data) // 3], bytes(b ^ 0x5A for b in data), data[:1]):
        try:
            decode_patches(bad, 400, 200)
        except BadStreamError:
            pass  # a clear error, or patches inside the image: never a crash
    with pytest.raises(BadStreamError):
        decode_patches(data, 40, 20)  # patches outside a smaller image


def test_find_patches_takes_the_ink_and_its_colour():
    img = np.full((40, 120, 3), (240, 236, 230), np.uint8)
    m = _glyph_mask("Hamburg", 18)
    h, w = m.shape
    img[10:10 + h, 8:8 + w][m] = (30, 60, 150)
    (p,) = find_patches(img, [OcrWord("Hmburg", (6, 8, 10 + w, 12 + h), 0.9)])
    assert (p.x, p.y) == (8, 10) and np.array_equal(p.mask, m)
    assert np.abs(np.subtract(p.color, (30, 60, 150))).max() <= 3
    assert find_patches(img, [OcrWord("none", (90, 30, 110, 38), 0.9)]) == []  # no contrast
    assert not p.edges  # aliased ink: painted with full coverage, which is closer
    out = paint_patches(np.full_like(img, 255), [p])
    assert (out[10:10 + h, 8:8 + w][m] == p.color).all() and (out[10:10 + h, 8:8 + w][~m] == 255).all()


def test_codec_3_paints_soft_edges_closer_to_anti_aliased_text():
    """Codec 3 paints a mask pixel with the coverage of its neighbours' configuration
    (`EDGE_COVERAGE`); codecs 1 and 2 (and a patch without ``edges``) with full coverage."""
    f = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 13)
    im = Image.new("L", (200, 24), 0)
    ImageDraw.Draw(im).text((4, 18), "Anti-aliased words", font=f, fill=255, anchor="ls")
    cov = np.asarray(im).astype(np.float64) / 255
    bg, fg = np.array([250.0, 248, 240]), np.array([20.0, 40, 90])
    img = np.round(bg + cov[:, :, None] * (fg - bg)).astype(np.uint8)
    (p,) = find_patches(img, [OcrWord("Anti-aliased words", (3, 4, 196, 22), 0.9)], line_height=0)
    assert p.edges and p.scale == 1
    a = p.alpha()
    assert a[~p.mask].max() == 0 and a[p.mask].min() >= 1 and (a[p.mask] < 255).any()
    assert (a[neighbour_codes(p.mask) == 255] >= 240).all()  # inside the strokes: nearly full
    (soft,) = decode_patches(encode_patches([p], 200, 24), 200, 24)
    assert (soft.x, soft.y, soft.color, soft.edges) == (p.x, p.y, p.color, True)
    assert np.array_equal(soft.mask, p.mask)
    # the same mask with full coverage, in its own best colour: further from the original
    hard = replace(p, edges=False, color=(0, 0, 0))
    hard = replace(hard, color=tuple(int(v) & 0xFC | 2 for v in np.round(
        np.clip(_fit(img, hard, bg), 0, 255)).astype(int)))
    (back,) = decode_patches(encode_patches([hard], 200, 24, codec=2), 200, 24, codec=2)
    assert not back.edges and (back.alpha() == np.where(back.mask, 255, 0)).all()
    flat = np.empty_like(img)
    flat[:] = bg.astype(np.uint8)
    err = [float(((paint_patches(flat, [q]).astype(float) - img) ** 2).mean()) for q in (soft, back)]
    assert err[0] < 0.8 * err[1], err
    with pytest.raises(ValueError):  # codec 2 has no soft edges
        encode_patches([p], 200, 24, codec=2)


def _fit(img, p, bg):
    from layout.ink import _blend_colour
    x0, y0, x1, y1 = p.box
    return _blend_colour(img[y0:y1, x0:x1].astype(np.float32), p.alpha(), bg, bg)


def _coloured_word(colours, px=40):
    """``Google``-like: one word whose letters are drawn in the given colours on white."""
    f = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), px)
    img = Image.new("RGB", (320, 80), "white")
    d, x = ImageDraw.Draw(img), 10.0
    for ch, c in zip("Google", colours):
        d.text((x, 60), ch, font=f, fill=c, anchor="ls")
        x += f.getlength(ch)
    return np.asarray(img), OcrWord("Google", (8, 20, int(x) + 2, 72), 0.9)


def _psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / ((a.astype(float) - b.astype(float)) ** 2).mean())


def test_ink_of_several_colours_gives_a_patch_per_colour():
    blue, red, yellow, green = (66, 133, 244), (234, 67, 53), (251, 188, 5), (52, 168, 83)
    img, word = _coloured_word([blue, red, yellow, blue, green, red])
    patches = find_patches(img, [word], line_height=0)
    assert len(patches) == 4
    for want in (blue, red, yellow, green):  # each colour painted close to its own
        assert min(np.abs(np.subtract(p.color, want)).max() for p in patches) <= 40
    masks = np.zeros(img.shape[:2], int)
    for p in patches:
        x0, y0, x1, y1 = p.box
        masks[y0:y1, x0:x1] += p.mask
    assert masks.max() == 1  # each ink pixel in one patch
    one = np.full_like(img, 255)
    assert _psnr(paint_patches(one, patches), img) > 25


def test_black_text_and_its_grey_edges_stay_one_patch():
    img, word = _coloured_word([(20, 20, 20)] * 6)
    (p,) = find_patches(img, [word], line_height=0)
    assert max(p.color) < 60


def test_thin_anti_aliased_strokes_stay_whole():
    from layout.ink import COVERAGE

    bg, fg = np.array([240.0] * 3), np.array([30.0] * 3)
    img = np.full((30, 60, 3), 240, np.uint8)
    img[8:22, 10:13] = 30  # a solid stem
    for x, cov in ((20, COVERAGE + 0.1), (24, COVERAGE - 0.1)):  # two faint one-pixel strokes
        img[8:22, x] = np.round(bg + cov * (fg - bg)).astype(np.uint8)
    img[8:22, 30:33] = 30
    (p,) = find_patches(img, [OcrWord("l | l", (9, 7, 34, 23), 0.9)])
    cols = p.mask.any(axis=0)
    assert cols[20 - p.x] and not cols[24 - p.x]


def test_large_text_is_kept_at_a_coarser_scale():
    img = np.full((90, 320, 3), (250, 250, 250), np.uint8)
    m = _glyph_mask("Settings", 44)
    h, w = m.shape
    img[20:20 + h, 12:12 + w][m] = (10, 10, 10)
    word = OcrWord("Setlings", (10, 14, 14 + w, 26 + h), 0.9)  # box about 48 px tall
    (p,) = find_patches(img, [word])
    assert p.scale == 2 and p.mask.size * 4 <= (h + 2) * (w + 2)
    x0, y0, x1, y1 = p.box
    assert x0 <= 12 and y0 <= 20 and x1 >= 12 + w and y1 >= 20 + h  # covers all of the ink
    full = np.zeros(img.shape[:2], bool)
    full[20:20 + h, 12:12 + w] = m
    got = np.zeros_like(full)
    got[y0:y1, x0:x1] = p.alpha() >= 128
    assert 2 * (got & full).sum() / (got.sum() + full.sum()) > 0.85  # the same shape, coarser
    (q,) = find_patches(img, [word], line_height=0)  # 0: always full resolution
    assert q.scale == 1 and np.array_equal(q.mask, m)
    # cheaper to code, and it decodes to the same patch
    assert len(encode_patches([p], 320, 90)) < 0.7 * len(encode_patches([q], 320, 90))
    (back,) = decode_patches(encode_patches([p], 320, 90), 320, 90)
    assert (back.x, back.y, back.scale, back.color) == (p.x, p.y, 2, p.color)
    assert np.array_equal(back.mask, p.mask)
    with pytest.raises(ValueError):  # codec 1 has no scales
        encode_patches([p], 320, 90, codec=1)


def test_scaled_patches_blend_in_integers():
    p = InkPatch(1, 2, np.array([[1, 0], [0, 0]], bool), (0, 0, 0), 2)
    a = p.alpha()
    assert a.shape == (4, 4) and a.dtype == np.uint8
    # bilinear with pixel centres aligned: full at the ink pixel's own quarter, fading outwards
    assert a[0, 0] == 255 and a[1, 1] == 143 and a[3, 3] == 0 and a[1, 2] == 48
    out = paint_patches(np.full((8, 8, 3), 200, np.uint8), [p])
    assert out[2, 1, 0] == 0 and out[3, 2, 0] == (200 * 112 + 127) // 255 and out[7, 7, 0] == 200
    assert InkPatch(0, 0, np.ones((1, 1), bool), (0, 0, 0)).alpha().tolist() == [[255]]


def test_fit_patches_keeps_the_smallest_under_the_budget():
    ps = _patches()
    full = len(encode_patches(ps, 400, 200))
    data, chosen = fit_patches(ps, 400, 200, full // 2)
    n = len(chosen)
    assert 0 < n < len(ps) and 0 < len(data) <= full // 2
    kept = decode_patches(data, 400, 200)
    sizes = sorted(p.mask.size for p in ps)
    assert sorted(p.mask.size for p in kept) == sizes[:n]
    assert fit_patches(ps, 400, 200, 0) == (b"", [])
    assert len(fit_patches(ps, 400, 200, 10_000)[1]) == len(ps)


@pytest.fixture
def avif_background(monkeypatch):
    """Backgrounds coded by AVIF/WebP only: on the flat page of `_misread_page`, a few flat
    rectangles keep the rejected word's pixels close enough that it needs no ink patch."""
    import picd.background

    monkeypatch.setattr(picd.background, "RECTS_MAX_BYTES", 0)


def _misread_page():
    f = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 18)
    im = Image.new("RGB", (480, 120), (246, 247, 249))
    d = ImageDraw.Draw(im)
    words, x = [], 24
    for t in ("Battery", "saver", "is", "on"):
        d.text((x, 40), t, font=f, fill=(20, 24, 32))
        x0, y0, x1, y1 = d.textbbox((x, 40), t, font=f)
        words.append(OcrWord("Baltery" if t == "Battery" else t, (x0, y0, x1, y1), 0.95))
        x = x1 + 6
    return np.asarray(im), [OcrLine(tuple(words))]


def test_rejected_word_keeps_its_ink_in_the_decoded_image(avif_background):
    img, lines = _misread_page()
    a = api.analyse(Page(img, None, "image"), mode="screen", ocr_engine=GivenLinesEngine(lines))
    assert [w.text for w, _, _ in a.analysis.rejected] == ["Baltery"] and len(a.ink) == 1
    res = api.code(a, bpp=0.03, ink_share=0.6)  # the background alone blurs the word here
    assert res.ink_patches == 1 and len(res.data) * 8 <= 0.03 * img.shape[0] * img.shape[1]
    c = ct.unpack(res.data)
    assert c.section(ct.Tag.INK) is not None
    dec = api.decode_detailed(res.data)
    (p,) = dec.ink
    x0, y0, x1, y1 = p.box
    orig = img[y0:y1, x0:x1].astype(int)
    got = dec.image[y0:y1, x0:x1].astype(int)
    # painted in one colour with the patch's coverage (anti-aliased text: soft edges), not a blur
    inside = p.mask & (neighbour_codes(p.mask) == 255)
    assert p.edges and inside.any() and np.abs(got[inside] - p.color).max() <= 8
    assert sum(p.color) < int(img[5, 5].astype(int).sum()) - 3 * 120  # still dark ink on the light page
    none = api.code(a, bpp=0.03, ink_share=0)
    assert none.ink_patches == 0 and ct.unpack(none.data).section(ct.Tag.INK) is None
    # with bytes enough, the background alone keeps the word: no patch, every byte to it
    rich = api.code(a, bpp=0.3, ink_share=0.6)
    assert rich.ink_patches == 0 and rich.background_bytes > 1000
    with pytest.raises(BadInputError):
        api.code(a, bpp=0.1, ink_share=1.5)


def test_cli_ink_share_default_is_the_api_default():
    from picd.cli import encode

    opt = next(p for p in encode.params if p.name == "ink_share")
    assert opt.default == api.INK_SHARE


def _terminal_patches() -> list[InkPatch]:
    """Words of an aliased monospace face (a terminal's or an old UI's text), many letters
    repeated pixel for pixel, as a rejected word's patch holds them."""
    f = ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono.ttf"), 13)
    words = "def main args return None if not self else print value error the then there".split()
    out = []
    for i, t in enumerate(words * 2):
        im = Image.new("1", (9 * len(t) + 4, 20))
        d = ImageDraw.Draw(im)
        d.fontmode = "1"  # no anti-aliasing: the same letter gives the same pixels
        d.text((2, 2), t, font=f, fill=1)
        m = np.asarray(im, bool)
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        out.append(InkPatch(4 + 100 * (i % 6), 4 + 22 * (i // 6), m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1],
                            (2, 2, 2)))
    return out


def test_pieces_make_up_the_mask_in_an_order_of_their_own():
    from layout.symbols import pieces

    rng = np.random.default_rng(5)
    m = rng.random((20, 40)) < 0.3
    ps = pieces(m)
    union = np.zeros_like(m)
    for x, y, bm in ps:
        assert bm.any() and not (union[y:y + bm.shape[0], x:x + bm.shape[1]] & bm).any()
        union[y:y + bm.shape[0], x:x + bm.shape[1]] |= bm
    assert np.array_equal(union, m)
    # the same pieces in the same order from the mask mirrored twice (labelled otherwise)
    again = pieces(m[::-1, ::-1][::-1, ::-1].copy())
    assert [(x, y, bm.tobytes()) for x, y, bm in again] == [(x, y, bm.tobytes()) for x, y, bm in ps]


def test_codec_4_codes_repeated_glyphs_once():
    """Codec 4 codes a mask's pieces seen before as references: aliased monospace text costs
    far less than row by row (codec 3), anti-aliased or noisy masks at most a bit a patch more,
    and both decode exactly."""
    ps = _terminal_patches()
    c3, c4 = encode_patches(ps, 620, 140, codec=3), encode_patches(ps, 620, 140, codec=4)
    assert len(c4) < 0.7 * len(c3)
    for data, codec in ((c3, 3), (c4, 4)):
        back = decode_patches(data, 620, 140, codec=codec)
        want = sorted(ps, key=lambda p: (p.y, p.x))
        assert [(p.x, p.y) for p in back] == [(p.x, p.y) for p in want]
        assert all(np.array_equal(a.mask, b.mask) for a, b in zip(back, want))
    other = _patches()  # anti-aliased glyphs thresholded, and noise: no repeats
    n3, n4 = len(encode_patches(other, 400, 200, codec=3)), len(encode_patches(other, 400, 200, codec=4))
    assert n4 <= n3 + 1


def test_codec_4_refuses_pieces_outside_their_mask():
    from layout.ink import _MaskCoder
    from layout.symbols import SymbolModel
    from picd.entropy import Decoder, Encoder

    class Outside(SymbolModel):  # an encoder that writes a piece past its mask's right edge
        def code(self, coder, mask, h, w, ps=None):
            self.count.code(coder, 1)
            self.height.code(coder, 2)
            self.width.code(coder, 2)
            self.bitmaps.code(coder, np.ones((2, 2), bool), 2, 2)
            self.gap.code(coder, w - 1)
            self.bottom.code(coder, 0)
            return mask

    enc = Encoder()
    mc = _MaskCoder(symbols=True)
    mc.symbols = Outside(mc.raster)
    mc.code(enc, np.ones((3, 5), bool), 3, 5, by_pieces=1)
    with pytest.raises(BadStreamError, match="outside its mask"):
        _MaskCoder(symbols=True).code(Decoder(enc.finish()), None, 3, 5)


def test_codec_4_refuses_more_pieces_than_its_length_allows():
    """Thousands of one-pixel pieces, each a reference to the same entry, code to a few bytes;
    the reader must refuse them (each reference costs work in proportion to the dictionary)."""
    from layout.ink import _MaskCoder, _max_pieces
    from picd.entropy import Decoder, Encoder

    m = np.zeros((128, 128), bool)
    m[::2, ::2] = True  # 4096 pieces
    enc = Encoder()
    _MaskCoder(symbols=True).code(enc, m, 128, 128, by_pieces=1)
    data = enc.finish()
    assert _max_pieces(len(data)) < 4096
    with pytest.raises(BadStreamError, match="piece count"):
        _MaskCoder(symbols=True, max_pieces=_max_pieces(len(data))).code(Decoder(data), None, 128, 128)
    back = _MaskCoder(symbols=True).code(Decoder(data), None, 128, 128)  # within no limit: exact
    assert np.array_equal(back, m)
    with pytest.raises(ValueError, match="pieces per byte"):
        from unittest import mock

        with mock.patch("layout.ink._MaskCoder._cheaper", lambda self, mask, ps: 1):
            encode_patches([InkPatch(0, 0, m, (2, 2, 2))], 128, 128, codec=4)


def test_ink_budget_takes_more_past_the_first_kilobytes():
    """40% of the room up to 2 KB, 70% of what is past it; none with a share of 0; never the
    background's floor."""
    assert api._ink_budget(1000, api.INK_SHARE, 10) == 400
    assert api._ink_budget(10048, api.INK_SHARE, 10) == int(0.4 * 10048 + 0.3 * 8000)
    assert api._ink_budget(10048, 0.0, 10) == 0
    assert api._ink_budget(1000, 1.0, 100) == 1000 - 100 - 2 - 2


def test_golden_bytes():
    """The ink bitstreams (codec ids 1 to 4) are frozen: a change here needs a new codec id."""
    import hashlib

    rng = np.random.default_rng(11)
    ps = []
    for i in range(6):
        h, w = int(rng.integers(3, 14)), int(rng.integers(4, 40))
        m = np.zeros((h, w), bool)
        m[:, ::3] = True
        m[h // 2, :] = rng.random(w) < 0.7
        ps.append(InkPatch(int(rng.integers(0, 200)), int(rng.integers(0, 80)), m,
                           (2, 130, 254) if i % 2 else (66, 6, 10)))
    data = encode_patches(ps, 256, 100, codec=1)
    assert len(data) == 56
    assert hashlib.sha256(data).hexdigest() == "43b922b39067d959a3d54dca13e0024c0cd50cd7da1dec9bd8006f8f54a3d717"
    back = decode_patches(data, 256, 100, codec=1)
    assert [(p.y, p.x, p.scale) for p in back] == sorted((p.y, p.x, 1) for p in ps)
    scaled = [InkPatch(p.x // 2, p.y // 2, p.mask, p.color, 1 + i % 2) for i, p in enumerate(ps)]
    data = encode_patches(scaled, 256, 100, codec=2)
    assert len(data) == 56
    assert hashlib.sha256(data).hexdigest() == "1650a01a984a9dfe14d9fda6cb84f81bc2c6c35306c5ffe0ce7ed3da0400dd50"
    soft = [replace(p, edges=i % 3 == 0) for i, p in enumerate(scaled)]
    data = encode_patches(soft, 256, 100, codec=3)
    assert [q.edges for q in decode_patches(data, 256, 100, codec=3)] == [
        q.edges and q.scale == 1 for q in sorted(soft, key=lambda q: (q.y, q.x))]
    assert hashlib.sha256(data).hexdigest() == "63537ef9c846c07acd2e445d45dafc446f576656211f4ad94ee8d01808f4fc18"
    terminal = _terminal_patches()
    data = encode_patches(terminal, 620, 140, codec=4)
    assert len(data) == 315  # codec 3: 553 bytes
    assert hashlib.sha256(data).hexdigest() == "bfa216bf98f7d8e8d7ad4cbb7899c48483a8b4a950480031417e746fde1d2a1a"
    assert [np.array_equal(p.mask, q.mask) for p, q in zip(
        decode_patches(data, 620, 140, codec=4), sorted(terminal, key=lambda q: (q.y, q.x)))] == [True] * len(terminal)
    data = encode_patches(soft, 256, 100, codec=4)
    assert hashlib.sha256(data).hexdigest() == "908f1283710ad5cda5a97f680b94f7e7e8e5d297fbb09e50b91873f3c835a506"


def test_keep_writes_the_ink_patches(tmp_path, avif_background):
    img, lines = _misread_page()
    res = api.encode_detailed(Page(img, None, "image"), mode="screen", bpp=0.03, ink_share=0.6,
                              ocr_engine=GivenLinesEngine(lines))
    written = {p.name for p in api.keep_intermediates(res, tmp_path)}
    assert "ink_patches.png" in written
    ink = np.asarray(Image.open(tmp_path / "ink_patches.png"))
    assert (ink < 128).any() and (ink == 255).mean() > 0.9


def test_no_ink_patches_in_natural_mode():
    img, lines = _misread_page()
    w = lines[0].words[0]
    unsure = [OcrLine((OcrWord(w.text, w.box, 0.2),))]  # rejected: nothing is redrawn
    a = api.analyse(Page(img, None, "image"), mode="auto", ocr_engine=GivenLinesEngine(unsure))
    assert len(a.analysis.rejected) == 1
    assert a.mode == ct.Mode.NATURAL and a.ink == ()
    res = api.code(a, bpp=0.03, ink_share=0.6)
    assert ct.unpack(res.data).section(ct.Tag.INK) is None


def test_a_tiny_section_cannot_ask_for_a_huge_area():
    from layout.ink import _code
    from picd.entropy import Encoder

    # An all-zero mask as large as the image codes to a few bytes; the reader must refuse it
    # (at 1.2 us a pixel, a crafted file could otherwise keep a decoder busy for minutes).
    enc = Encoder()
    _code(enc, [InkPatch(0, 0, np.zeros((300, 400), bool), (2, 2, 2))], 400, 300, 400 * 300)
    data = enc.finish()
    assert len(data) < 100
    with pytest.raises(BadStreamError):
        decode_patches(data, 400, 300)
    with pytest.raises(ValueError):
        encode_patches([InkPatch(0, 0, np.zeros((300, 400), bool), (2, 2, 2))], 400, 300)


def test_patches_never_push_the_file_over_its_target():
    img, lines = _misread_page()
    a = api.analyse(Page(img, None, "image"), mode="screen", ocr_engine=GivenLinesEngine(lines))
    n_ink = 0
    for target in range(100, 140):
        res = api.code(a, bpp=target * 8 / (img.shape[0] * img.shape[1]), ink_share=1.0)
        assert len(res.data) <= target
        n_ink += res.ink_patches
    assert n_ink > 0  # the patch was taken where it fits


def test_info_counts_the_ink_patches(tmp_path, avif_background):
    import json

    from click.testing import CliRunner

    from picd.cli import cli

    img, lines = _misread_page()
    a = api.analyse(Page(img, None, "image"), mode="screen", ocr_engine=GivenLinesEngine(lines))
    p = tmp_path / "x.picd"
    p.write_bytes(api.code(a, bpp=0.03, ink_share=0.6).data)
    r = CliRunner().invoke(cli, ["info", str(p), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ink_patches"] == 1


def _large_text_page():
    """A title of large text above a line of small text, and their OCR lines."""
    im = Image.new("RGB", (480, 150), (246, 246, 242))
    d = ImageDraw.Draw(im)
    lines = []
    for text, px, y in (("Save contact", 44, 20), ("Saving this number adds a contact", 15, 100)):
        f = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), px)
        words, x = [], 16
        for t in text.split():
            d.text((x, y), t, font=f, fill=(24, 28, 40))
            words.append(OcrWord(t, d.textbbox((x, y), t, font=f), 0.95))
            x = words[-1].box[2] + int(px * 0.3)
        lines.append(OcrLine(tuple(words)))
    return np.asarray(im), lines


def test_large_text_can_be_kept_as_its_own_ink(monkeypatch):
    img, lines = _large_text_page()
    a = api.analyse(Page(img, None, "image"), mode="screen", ocr_engine=GivenLinesEngine(lines))
    sizes = {w.text: ln.style.size for ln in a.analysis.layer.lines for w in ln.words}
    assert sizes["Save"] >= max(api.LARGE_TEXT_EM) and min(api.LARGE_TEXT_EM) > sizes["Saving"]
    a2, moved = api._large_text_as_ink(a, 28)
    assert len(moved) == 2 and a2.analysis.layer.text.split() == "Saving this number adds a contact".split()
    # Kept as ink only where that is closer to the original (a gain no file reaches: never) ...
    monkeypatch.setattr(api, "LARGE_TEXT_GAIN", 100.0)
    kept = api.code(a, bpp=0.1)
    assert "Save" in kept.analysis.layer.text.split() and kept.ink_patches == 0
    # ... (any file: always, if every patch fits)
    monkeypatch.setattr(api, "LARGE_TEXT_GAIN", -100.0)
    inked = api.code(a, bpp=0.1)
    assert "Save" not in inked.analysis.layer.text.split() and inked.ink_patches == 2
    assert len(inked.data) * 8 <= 0.1 * img.shape[0] * img.shape[1]
    dec = api.decode_detailed(inked.data)
    assert dec.layer.text.split() == "Saving this number adds a contact".split()
    for p in dec.ink:  # the title's own ink, painted where it was
        x0, y0, x1, y1 = p.box
        assert (img[y0:y1, x0:x1][p.ink()].mean(axis=0) < 120).all()
    # Words that would not all fit stay redrawn: none may vanish; where their patches alone are
    # over the ink budget, the file with them is not even coded.
    calls = []
    once = api._code_once
    monkeypatch.setattr(api, "_code_once", lambda *args: calls.append(args[0]) or once(*args))
    assert "Save" not in api.code(a, bpp=0.1).analysis.layer.text.split() and len(calls) == 2
    calls.clear()
    assert "Save" in api.code(a, bpp=0.1, ink_share=0.01).analysis.layer.text.split()
    assert calls == [a]
