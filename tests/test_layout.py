"""Fast tests of the text layer's fonts, rasteriser and style analysis on synthetic images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from layout import raster
from layout.analyze import LayoutConfig, build_layer
from layout.fonts import FONTS, covers, font_path, load_font, style_twin
from layout.model import Line, Style, TextLayer, Word
from ocr.base import OcrLine, OcrWord

ARIMO, ARIMO_BOLD, DEJAVU, DEJAVU_BOLD, MONO, STIX = 16, 17, 0, 1, 4, 12


def make_page(spec, size=(420, 70), bg=(255, 255, 255), hints=False):
    """Draws lines ``(text, font_id, em_size, colour, x, baseline)``; returns image and OCR
    lines with tight boxes (and, with `hints`, PDF-like style hints)."""
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    lines = []
    for text, fid, em, color, x, base in spec:
        font = load_font(fid, em)
        words, cx = [], x
        for t in text.split():
            draw.text((cx, base), t, font=font, fill=color, anchor="ls")
            l, top, r, b = font.getbbox(t, anchor="ls")
            extra = {}
            if hints:
                extra = dict(font=FONTS[fid].name, size=float(em), color=color,
                             bold=FONTS[fid].bold, baseline=float(base))
            words.append(OcrWord(t, (cx + l, base + top, cx + r, base + b), 0.95, **extra))
            cx = int(round(cx + font.getlength(t + " ")))
        lines.append(OcrLine(tuple(words)))
    return np.asarray(img), lines


def relabel(lines, mapping):
    return [OcrLine(tuple(OcrWord(mapping.get(w.text, w.text), w.box, w.confidence)
                          for w in line.words)) for line in lines]


# ------------------------------------------------------------------------------------ fonts

def test_font_table_ids_are_indexes_and_load():
    for i, spec in enumerate(FONTS):
        assert spec.id == i
        assert font_path(i).endswith(spec.file)
        assert load_font(i, 12).getlength("Hello") > 0
    assert covers(ARIMO, "Hello, world!") and not covers(ARIMO, "漢字")
    # The table is append-only: pin the first ids.
    assert [FONTS[i].name for i in (0, 1, 4, 8, 12, 16, 17, 32, 36, 40, 44, 48, 52)] == [
        "DejaVu Sans", "DejaVu Sans Bold", "DejaVu Sans Mono", "DejaVu Serif", "STIX General",
        "Arimo", "Arimo Bold", "Roboto", "Inter", "Open Sans", "Lato", "JetBrains Mono",
        "Roboto Mono"]


def test_style_twins_stay_in_the_typeface():
    for spec in FONTS:
        for bold in (False, True):
            for italic in (False, True):
                t = FONTS[style_twin(spec.id, bold, italic)]
                assert (t.bold, t.italic) == (bold, italic)
                assert (t.package, t.family, t.typeface) == (spec.package, spec.family, spec.typeface)
    assert style_twin(DEJAVU, True, False) == DEJAVU_BOLD
    assert FONTS[style_twin(20, True, False)].file == "hebo"  # Helvetica -> Helvetica Bold


# ----------------------------------------------------------------------------------- raster

@pytest.mark.parametrize("font", [DEJAVU, ARIMO, STIX, MONO])
@pytest.mark.parametrize("scale", [0.7, 1.0, 1.6])
def test_word_alpha_spans_the_given_width(font, scale):
    nat, nx, ny, adv = raster.natural_alpha("Hamburgefonts", font, 20)
    width = int(round(adv * scale))
    a, dx, dy = raster.word_alpha("Hamburgefonts", Style(font, 20, (0, 0, 0)), width)
    assert a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1 and a.max() > 0.9
    cols = np.flatnonzero((nat > 0).any(axis=0))
    ink_l, ink_r = nx + cols[0], nx + cols[-1] + 1
    s = width / adv
    assert abs(dx - ink_l * s) <= 1.5
    assert abs(dx + a.shape[1] - ink_r * s) <= 1.5 + s
    assert dy == ny + int(np.flatnonzero((nat > 0).any(axis=1))[0])
    # Total coverage scales with the horizontal factor.
    assert a.sum() == pytest.approx(nat.sum() / 255 * s, rel=0.02)


def test_word_alpha_is_deterministic():
    style = Style(ARIMO, 15, (0, 0, 0))
    a1, *p1 = raster.word_alpha("Deterministic", style, 93)
    raster._word_alpha.cache_clear()
    raster.natural_alpha.cache_clear()
    a2, *p2 = raster.word_alpha("Deterministic", style, 93)
    assert p1 == p2 and a1.tobytes() == a2.tobytes()
    assert raster.word_alpha("", style, 10)[0].size == 0


def test_draw_layer_composites_and_clips():
    canvas = np.full((40, 100, 3), 200, np.uint8)
    style = Style(DEJAVU_BOLD, 24, (10, 20, 250))
    layer = TextLayer(100, 40, (Line(30, style, (Word("Hi", 5, 30), Word("edge", 80, 60))),
                                Line(5, style, (Word("top", -10, 40),))))
    out = raster.draw_layer(canvas, layer)
    assert out.shape == canvas.shape and out.dtype == np.uint8
    assert (canvas == 200).all()  # not modified in place
    cov = raster.layer_coverage(layer)
    assert cov.shape == (40, 100) and cov.max() <= 1.0
    full = cov > 0.99
    assert full.sum() > 20
    assert np.abs(out[full].astype(int) - [10, 20, 250]).max() <= 3
    assert (out[cov == 0] == 200).all()


# --------------------------------------------------------------------------------- analysis

def _single_line(analysis):
    assert len(analysis.layer.lines) == 1, analysis.rejected
    return analysis.layer.lines[0]


@pytest.mark.parametrize("font,em", [(ARIMO, 16), (ARIMO_BOLD, 22), (DEJAVU, 14),
                                     (DEJAVU_BOLD, 18), (STIX, 20), (MONO, 15)])
def test_build_layer_recovers_style(font, em):
    color = (30, 60, 120)
    img, lines = make_page([("Sphinx of black quartz judge", font, em, color, 8, 40)])
    a = build_layer(img, lines)
    line = _single_line(a)
    assert not a.rejected
    assert [w.text for w in line.words] == "Sphinx of black quartz judge".split()
    got = FONTS[line.style.font]
    assert (got.family, got.bold) == (FONTS[font].family, FONTS[font].bold)
    assert abs(line.style.size - em) <= max(1, 0.1 * em)
    assert abs(line.baseline - 40) <= 1
    assert np.abs(np.subtract(line.style.color, color)).max() <= 10
    # Words sit where they were drawn.
    for w, ow in zip(line.words, lines[0].words):
        assert abs(w.x - ow.box[0]) <= 3


def test_page_faces_come_from_the_body_text():
    """A title bar and menu of short lines in one face above paragraphs in another: the faces
    tried on every line are those of the longest lines, so the body text is not redrawn in the
    menu's face (nor the menu in the body's)."""
    menu = [(w, 24, 14, (0, 0, 0), 10, 22 + 20 * i)
            for i, w in enumerate("File Edit View Insert Format Tools Table Window Help".split())]
    body = [(t, ARIMO, 14, (0, 0, 0), 120, 30 + 26 * i) for i, t in enumerate([
        "Sphinx of black quartz, judge my vow and mind the pack of boxes",
        "The five boxing wizards jump quickly over the lazy sleeping dogs",
        "Pack my box with five dozen liquor jugs before the judge returns"])]
    img, lines = make_page(menu + body, size=(640, 200))
    a = build_layer(img, lines)
    faces = {w.text: FONTS[line.style.font] for line in a.layer.lines for w in line.words}
    assert a.rejected == []
    assert all(f.family == "sans" for t, f in faces.items() if t in " ".join(t for t, *_ in body))
    assert all(f.family == "serif" for t, f in faces.items() if t in {m[0] for m in menu})


@pytest.mark.parametrize("font", [32, 37, 40, 44, 48, 52])
def test_ui_faces_are_recognised(font):
    """Text in each face of the table's UI faces (Roboto, Inter Bold, Open Sans, Lato, JetBrains
    Mono, Roboto Mono) is redrawn in that typeface, not in a look-alike."""
    img, lines = make_page([("Quickly judge the boxing wizards", font, 20, (20, 20, 20), 8, 40)],
                           size=(460, 60))
    line = _single_line(build_layer(img, lines))
    got = FONTS[line.style.font]
    assert (got.typeface, got.bold) == (FONTS[font].typeface, FONTS[font].bold)


def test_rejected_words_come_in_reading_order():
    """Lines are analysed longest first; the rejected words are still listed line by line from
    the top (``picd encode --keep`` writes them so, in rejected.txt)."""
    img, lines = make_page([("QD here", ARIMO, 16, (0, 0, 0), 10, 30),
                            ("XY and a much longer line below it", ARIMO, 16, (0, 0, 0), 10, 60)],
                           size=(420, 80))
    weak = [OcrLine(tuple(OcrWord(w.text, w.box, 0.6 if w.text in ("QD", "XY") else 0.99)
                          for w in line.words)) for line in lines]
    a = build_layer(img, weak)
    assert [w.text for w, _, _ in a.rejected] == ["QD", "XY"]
    assert [line.words[0].text for line in a.layer.lines] == ["here", "and"]


def test_an_italic_run_is_drawn_in_italic():
    """The candidate faces are upright; a run that the italic twin of its face fits clearly
    better (``slant_gain``) is drawn in that twin, and upright text stays upright."""
    img, lines = make_page([("Settings Display Network Sound", ARIMO, 16, (0, 0, 0), 10, 30),
                            ("Notifications and actions", 18, 16, (0, 0, 0), 10, 60)], size=(420, 80))
    a = build_layer(img, lines)
    fonts = [FONTS[ln.style.font] for ln in a.layer.lines]
    assert len(fonts) == 2 and not fonts[0].italic and fonts[1].italic
    assert a.layer.n_words == 7
    never = build_layer(img, lines, LayoutConfig(slant_gain=1.0))
    assert not any(FONTS[ln.style.font].italic for ln in never.layer.lines)


def test_dark_mode_text():
    color, bg = (228, 230, 235), (24, 26, 33)
    img, lines = make_page([("Settings Display Network", ARIMO, 17, color, 10, 35)], bg=bg)
    line = _single_line(build_layer(img, lines))
    assert line.style.font in (ARIMO, ARIMO_BOLD, DEJAVU)
    assert np.abs(np.subtract(line.style.color, color)).max() <= 12
    assert len(line.words) == 3


def test_a_neighbour_lines_descenders_do_not_colour_a_word():
    """A box that reaches up into the line above holds the tails of its descenders; where they
    are farther from the background than the word's own ink (light grey over yellow on a dark
    terminal), they must not give the word their colour."""
    grey, yellow, bg = (197, 200, 198), (208, 178, 67), (41, 41, 41)
    img, above = make_page([("gypsy jumpy", MONO, 24, grey, 10, 30)], size=(320, 80), bg=bg)
    img2, below = make_page([("Spain Turkey", MONO, 24, yellow, 10, 64)], size=(320, 80), bg=bg)
    img = np.where((img2 != bg).any(axis=2, keepdims=True), img2, img)
    tails = max(w.box[3] for w in above[0].words)
    words = tuple(OcrWord(w.text, (w.box[0], tails - 3, w.box[2], w.box[3]), w.confidence)
                  for w in below[0].words)
    a = build_layer(np.ascontiguousarray(img), [OcrLine(words)])
    assert a.layer.n_words == 2
    for line in a.layer.lines:
        assert np.abs(np.subtract(line.style.color, yellow)).max() <= 20, line.style.color


def test_close_estimates_of_one_colour_become_one():
    """Estimated colours within ``color_snap`` of a longer line's take its colour (one style to
    code); colours given by a PDF, and colours farther apart, stay as they are."""
    from layout.analyze import _snap_colours

    def line(text, color):
        return Line(20, Style(DEJAVU, 14, color), tuple(Word(t, 0, 10) for t in text.split()))

    lines = [line("a short one", (30, 30, 40)), line("the longest line of the page", (20, 22, 30)),
             line("a link", (20, 40, 200)), line("exact text", (24, 24, 24)),
             line("a hair darker", (8, 10, 14))]
    out = _snap_colours(lines, [True, True, True, False, True], 16)
    assert [ln.style.color for ln in out] == [(20, 22, 30), (20, 22, 30), (20, 40, 200),
                                              (24, 24, 24), (20, 22, 30)]
    assert [ln.words for ln in out] == [ln.words for ln in lines]
    assert _snap_colours(lines, [True] * 5, 0) == lines
    assert _snap_colours(lines, [True] * 5, 8)[0].style.color == (30, 30, 40)
    # through build_layer: the short line takes the long one's colour
    img, lines = make_page([("Settings Display Network", ARIMO, 15, (40, 40, 40), 10, 25),
                            ("Sound", ARIMO, 15, (52, 46, 40), 10, 55)], size=(300, 70))
    layer = build_layer(img, lines).layer
    (long, short) = [ln.style.color for ln in layer.lines]
    assert long == short and np.abs(np.subtract(long, 40)).max() <= 4
    off = build_layer(img, lines, LayoutConfig(color_snap=0)).layer
    assert len({ln.style.color for ln in off.lines}) == 2


def test_colored_words_split_into_lines():
    img, lines = make_page([("plain text", ARIMO, 16, (0, 0, 0), 8, 30)])
    img2, lines2 = make_page([("blue link", ARIMO, 16, (0, 0, 230), 8, 30)])
    img = np.concatenate([img[:, :150], img2[:, :270]], axis=1)
    words = list(lines[0].words) + [
        OcrWord(w.text, (w.box[0] + 150, w.box[1], w.box[2] + 150, w.box[3]), w.confidence)
        for w in lines2[0].words]
    a = build_layer(np.ascontiguousarray(img), [OcrLine(tuple(words))])
    assert len(a.layer.lines) == 2
    assert a.layer.lines[0].style.color[2] < 60 and a.layer.lines[1].style.color[2] > 180


def test_trailing_punctuation_of_another_colour_is_split():
    teal, white, bg = (90, 190, 180), (250, 250, 250), (30, 32, 40)
    img, lines = make_page([("Host", MONO, 20, teal, 10, 40)], bg=bg)
    font = load_font(MONO, 20)
    x = 10 + int(round(font.getlength("Host")))
    draw = Image.fromarray(img.copy())
    ImageDraw.Draw(draw).text((x, 40), ":", font=font, fill=white, anchor="ls")
    img = np.asarray(draw)
    x0, y0, _, y1 = lines[0].words[0].box
    _, t, r, b = font.getbbox(":", anchor="ls")
    word = OcrWord("Host:", (x0, y0, x + r, max(y1, 40 + b)), 0.95)
    a = build_layer(img, [OcrLine((word,))])
    colours = {ln.text: ln.style.color for ln in a.layer.lines}
    assert set(colours) == {"Host", ":"}, a.rejected
    assert np.abs(np.subtract(colours["Host"], teal)).max() <= 12
    assert np.abs(np.subtract(colours[":"], white)).max() <= 12


def _highlighted_token(parts, size=24):
    """An image of one token drawn in parts of different colours, and its OCR word."""
    font = load_font(MONO, size)
    img = Image.new("RGB", (260, 60), (39, 40, 35))
    draw = ImageDraw.Draw(img)
    x = 12
    for part, colour in parts:
        draw.text((x, 40), part, font=font, fill=colour, anchor="ls")
        x += int(round(font.getlength(part)))
    text = "".join(p for p, _ in parts)
    l, t, r, b = font.getbbox(text, anchor="ls")
    return np.asarray(img), OcrWord(text, (12 + l, 40 + t, 12 + r, 40 + b), 0.95)


GREEN, WHITE = (144, 177, 69), (220, 220, 220)


def test_syntax_coloured_parts_of_a_token_are_split():
    # One OCR token in three colours, as code and terminals highlight it: `{` and `:` white,
    # `'id'` green. Each part is redrawn in its own colour.
    img, word = _highlighted_token([("{", WHITE), ("'id'", GREEN), (":", WHITE)])
    a = build_layer(img, [OcrLine((word,))])
    colours = {w.text: ln.style.color for ln in a.layer.lines for w in ln.words}
    assert set(colours) == {"{", "'id'", ":"}, a.rejected
    assert np.abs(np.subtract(colours["'id'"], GREEN)).max() <= 12
    assert np.abs(np.subtract(colours[":"], WHITE)).max() <= 12
    assert np.abs(np.subtract(colours["{"], WHITE)).max() <= 12
    assert a.rejected == [] and a.ink_words == []


def test_no_cut_between_letters_of_different_colours():
    # Tokens meet at punctuation: letters that change colour inside a word (the colour noise
    # of a scan) keep the word whole.
    img, word = _highlighted_token([("th", WHITE), ("em", GREEN)])
    a = build_layer(img, [OcrLine((word,))])
    assert [w.text for ln in a.layer.lines for w in ln.words] + [w.text for w in a.ink_words] == ["them"]


def test_a_misread_part_is_rejected_alone():
    # `'ib'` for `'id'`: the part is rejected (named by its OCR word) and left to an ink patch of
    # its own box; the white parts around it are still redrawn.
    img, word = _highlighted_token([("{", WHITE), ("'id'", GREEN), (":", WHITE)])
    a = build_layer(img, [OcrLine((OcrWord("{'ib':", word.box, 0.95),))])
    assert [w.text for w, _, _ in a.rejected] == ["{'ib':"]
    (part,) = a.ink_words
    assert part.text == "'ib'" and word.box[0] < part.box[0] and part.box[2] < word.box[2]
    assert sorted(w.text for ln in a.layer.lines for w in ln.words) == [":", "{"]


def test_a_token_of_one_colour_is_not_split():
    # Thin marks reach only part of the way to the text colour: not another colour.
    img, lines = make_page([("'a.b',c;", MONO, 14, (200, 200, 200), 10, 40)], bg=(30, 30, 30))
    a = build_layer(img, lines)
    assert [w.text for ln in a.layer.lines for w in ln.words] == ["'a.b',c;"], a.rejected


@pytest.mark.parametrize("wrong", [{"Hello": "Hella"}, {"world": "warld"},
                                   {"quickly": "quiekly"}, {"Hello": "Helo"},
                                   {"world": "wworld"}])
def test_planted_misreading_is_rejected(wrong):
    img, lines = make_page([("Hello world quickly", ARIMO, 16, (0, 0, 0), 10, 35)])
    a = build_layer(img, relabel(lines, wrong))
    bad = next(iter(wrong.values()))
    assert bad in [w.text for w, _, _ in a.rejected]
    assert bad not in a.layer.text.split()
    assert a.layer.n_words == 2


@pytest.mark.parametrize("fid", [ARIMO, DEJAVU, STIX])
@pytest.mark.parametrize("wrong", [{"October": "Öctober"}, {"Sciences": "Šciences"},
                                   {"August": "Auğust"}, {"careful": "cáreful"}])
def test_planted_diacritic_is_rejected(wrong, fid):
    # OCR adds marks that are not there (seen on scans: "Öctober", "01Auğ2018"): an accented
    # letter is checked for the ink of its marks.
    img, lines = make_page([("October Sciences August careful", fid, 14, (0, 0, 0), 10, 35)])
    a = build_layer(img, relabel(lines, wrong))
    bad = next(iter(wrong.values()))
    assert any(w.text == bad and "no ink for its mark" in why for w, _, why in a.rejected), a.rejected
    assert a.layer.n_words == 3


@pytest.mark.parametrize("fid", [ARIMO, DEJAVU, STIX])
def test_accented_words_are_redrawn(fid):
    # The marks are there; and an accented letter is drawn beside its neighbours when they are
    # checked (left out, its ink made a wide glyph beat the 'f' of "café").
    img, lines = make_page([("café Señor Dräger Muñoz", fid, 14, (0, 0, 0), 10, 35)])
    a = build_layer(img, lines)
    assert a.rejected == [] and a.layer.text.split() == ["café", "Señor", "Dräger", "Muñoz"]


def test_icon_read_as_text_is_rejected():
    img = Image.new("RGB", (200, 50), "white")
    d = ImageDraw.Draw(img)
    d.ellipse((20, 10, 50, 40), fill=(40, 40, 40))
    d.rectangle((70, 15, 110, 35), outline=(40, 40, 40), width=3)
    lines = [OcrLine((OcrWord("OK", (20, 10, 51, 41), 0.9), OcrWord("DD", (70, 15, 111, 36), 0.9)))]
    a = build_layer(np.asarray(img), lines)
    assert a.layer.n_words == 0 and len(a.rejected) == 2
    assert not a.text_mask.any()


def test_a_lone_letter_needs_a_closer_match(monkeypatch):
    """Icons are read as words of one letter (a magnifier as ``Q``, a funnel as ``Y``) and one
    glyph's outline says little: a lone letter or digit must score ``verify_threshold_char``,
    longer words and the parts of a word cut by colour only ``verify_threshold``."""
    from layout import analyze

    img, lines = make_page([("Q", ARIMO, 18, (60, 60, 60), 12, 30), ("Qt 7", ARIMO, 18, (60, 60, 60), 80, 30)],
                           size=(200, 44))
    # every word matches this well (as an icon of a search field matches our Q: 0.62 to 0.75)
    monkeypatch.setattr(analyze, "_verify_drift", lambda o, *args: (0.7, 0, None, 0))
    a = build_layer(img, lines)
    assert sorted(w.text for ln in a.layer.lines for w in ln.words) == ["Qt"]
    assert sorted(w.text for w, _, _ in a.rejected) == ["7", "Q"]
    assert all("0.75" in why for _, _, why in a.rejected)
    lax = build_layer(img, lines, LayoutConfig(verify_threshold_char=0.6))
    assert sorted(w.text for ln in lax.layer.lines for w in ln.words) == ["7", "Q", "Qt"]


def test_low_confidence_and_missing_glyphs_are_rejected():
    img, lines = make_page([("Hello world", ARIMO, 16, (0, 0, 0), 10, 35)])
    w0, w1 = lines[0].words
    lines = [OcrLine((OcrWord(w0.text, w0.box, 0.1), OcrWord("漢字", w1.box, 0.99)))]
    a = build_layer(img, lines)
    assert a.layer.n_words == 0
    reasons = sorted(r for _, _, r in a.rejected)
    assert reasons[0] == "low confidence" and "font" in reasons[1]


def test_mask_covers_the_glyphs():
    img, lines = make_page([("Mask these glyphs", DEJAVU, 18, (0, 0, 0), 10, 40)])
    a = build_layer(img, lines)
    assert a.layer.n_words == 3
    ink = np.abs(img.astype(int) - 255).max(axis=2) > 8
    assert a.text_mask.dtype == bool and a.text_mask.shape == img.shape[:2]
    assert (a.text_mask | ~ink).all()
    assert a.text_mask.sum() < 4 * ink.sum()


def test_rejected_word_stays_out_of_the_mask():
    img, lines = make_page([("Hello world", ARIMO, 16, (0, 0, 0), 10, 35)])
    a = build_layer(img, relabel(lines, {"world": "wcrld"}))
    x0, y0, x1, y1 = lines[0].words[1].box
    assert not a.text_mask[y0:y1, x0 + 2:x1 - 2].any()


def test_pdf_hints_are_used_and_verified():
    img, lines = make_page([("Exact text layer", STIX, 19, (90, 10, 10), 10, 40)], hints=True)
    a = build_layer(img, lines)
    line = _single_line(a)
    assert (line.style.size, line.baseline, line.style.color) == (19, 40, (90, 10, 10))
    assert FONTS[line.style.font].family == "serif"
    wrong = [OcrLine(tuple(OcrWord("Exakt" if w.text == "Exact" else w.text, w.box, 1.0,
                                   font=w.font, size=w.size, color=w.color, baseline=w.baseline)
                           for w in lines[0].words))]
    assert "Exakt" in [w.text for w, _, _ in build_layer(img, wrong).rejected]


def test_exact_text_in_a_face_we_do_not_ship_is_redrawn():
    """A PDF's characters are known: where our face differs from the PDF's own (here Computer
    Modern Sans, which matplotlib ships but the font table does not), no word is rejected as a
    misreading; planted wrong characters still are, by the line's score (previous test)."""
    import os

    import matplotlib
    from PIL import ImageFont

    font = ImageFont.truetype(os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data",
                                           "fonts", "ttf", "cmss10.ttf"), 15)
    img = Image.new("RGB", (520, 50), "white")
    draw = ImageDraw.Draw(img)
    words, cx = [], 8
    for t in "Every worker reads the summary before arriving at work".split():
        draw.text((cx, 30), t, font=font, fill=(0, 0, 0), anchor="ls")
        l, top, r, b = font.getbbox(t, anchor="ls")
        words.append(OcrWord(t, (cx + l, 30 + top, cx + r, 30 + b), 1.0, font="CMSS10", size=15.0,
                             color=(0, 0, 0), bold=False, baseline=30.0))
        cx = int(round(cx + font.getlength(t + " ")))
    a = build_layer(np.asarray(img), [OcrLine(tuple(words))])
    assert a.rejected == [] and a.layer.n_words == len(words)


@pytest.mark.parametrize("hints", [False, True])
def test_words_in_a_bordered_table_cell_are_redrawn(hints):
    """A table's borders run through the word boxes (a PDF's glyph boxes reach from ascender to
    descender, and cells are tight): they are not the word's ink, and must not fail it."""
    img, lines = make_page([("Maxim Integrated Product", ARIMO, 15, (0, 0, 0), 12, 32)],
                           size=(300, 50), hints=hints)
    img = img.copy()
    top = min(w.box[1] for w in lines[0].words)
    bottom = max(w.box[3] for w in lines[0].words)
    img[top - 1, :] = img[bottom, :] = (60, 60, 60)  # the cell's top and bottom borders
    img[:, 6] = img[:, 290] = (60, 60, 60)  # and its sides
    a = build_layer(img, lines)
    assert a.rejected == [] and a.layer.n_words == 3
    # the border stays in the background (but for the mask's one-pixel fringe under descenders)
    assert a.text_mask[bottom, 12:240].mean() < 0.3


def test_layer_is_plain_ints_and_threshold_is_configurable():
    img, lines = make_page([("Hello world", ARIMO, 16, (0, 0, 0), 10, 35)])
    a = build_layer(img, lines)
    for line in a.layer.lines:
        assert type(line.baseline) is int and type(line.style.size) is int
        assert all(type(c) is int for c in line.style.color)
        assert all(type(w.x) is int and type(w.width) is int for w in line.words)
    strict = build_layer(img, lines, LayoutConfig(verify_threshold=1.01))
    assert strict.layer.n_words == 0 and not strict.text_mask.any()


def test_short_low_confidence_words_stay_in_background():
    """Icons read as one- or two-letter words come with middling confidence: not redrawn."""
    img, lines = make_page([("QD Open the file", ARIMO, 20, (0, 0, 0), 10, 40)])
    weak = [OcrLine(tuple(OcrWord(w.text, w.box, 0.6 if w.text == "QD" else 0.99) for w in lines[0].words))]
    a = build_layer(img, weak)
    kept = {w.text for line in a.layer.lines for w in line.words}
    assert "QD" not in kept and {"Open", "file"} <= kept
    assert any(w.text == "QD" and why == "low confidence" for w, _, why in a.rejected)


def test_underlined_words_stay_apart():
    # A link's underline runs through the spaces; OCR boxes reach down to it. Each word must
    # still get its own ink and be redrawn (the underline stays in the background).
    img, lines = make_page([("Magirus tons Standard", ARIMO, 16, (0, 0, 200), 10, 35)])
    img = img.copy()
    (x0, _, _, _), (_, _, x1, _) = lines[0].words[0].box, lines[0].words[-1].box
    img[38:40, x0:x1] = (0, 0, 200)
    words = tuple(OcrWord(w.text, (w.box[0], w.box[1], w.box[2], 40), w.confidence)
                  for w in lines[0].words)
    a = build_layer(img, [OcrLine(words)])
    assert not [r for _, _, r in a.rejected if r == "no ink"]
    assert [w.text for ln in a.layer.lines for w in ln.words] == ["Magirus", "tons", "Standard"]


def test_the_line_above_is_not_part_of_the_word():
    """An OCR box reaching up into the previous line's descenders (loose boxes, tight leading):
    that ink is not the word's, and the word is still redrawn."""
    img, lines = make_page([("gyp jpg qypy gjpq", MONO, 22, (200, 200, 200), 10, 28),
                            ("logging.py:63", MONO, 22, (200, 200, 200), 10, 62)],
                           size=(260, 80), bg=(30, 30, 30))
    (w,) = lines[1].words
    loose = OcrLine((OcrWord(w.text, (w.box[0], w.box[1] - 18, w.box[2], w.box[3]), 0.99),))
    assert loose.words[0].box[1] < lines[0].words[0].box[3] - 4  # reaches into the descenders
    a = build_layer(img, [loose])
    assert a.rejected == [] and a.layer.n_words == 1


def _cm_sans_page(text, em=12):
    """A line in Computer Modern Sans (matplotlib's cmss10: a face the layer does not have)."""
    import matplotlib
    from PIL import ImageFont

    path = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "cmss10.ttf"
    font = ImageFont.truetype(str(path), em)
    img = Image.new("RGB", (700, 50), "white")
    draw = ImageDraw.Draw(img)
    words, cx = [], 10
    for t in text.split():
        draw.text((cx, 30), t, font=font, fill=(0, 0, 0), anchor="ls")
        l, top, r, b = font.getbbox(t, anchor="ls")
        words.append(OcrWord(t, (cx + l, 30 + top, cx + r, 30 + b), 0.99))
        cx = int(round(cx + font.getlength(t + " ")))
    return np.asarray(img), [OcrLine(tuple(words))]


def test_an_alternative_that_is_not_text_does_not_reject_a_word():
    # In our faces a 'b' fits this face's 's' of "this" better, but "thib" is no reading of
    # text; planted misreadings are still rejected (farty: an 'o' fits better, and "forty" is
    # text; yeors: an 's' fits better, and "yesrs" is not far less likely than "yeors").
    img, lines = _cm_sans_page("the whale has this community provided before years animal forty")
    strict = build_layer(img, lines, LayoutConfig(alt_prior_bits=None, alt_lexicon=None))
    assert "this" in [w.text for w, _, why in strict.rejected if why.startswith("misread")]
    a = build_layer(img, lines, LayoutConfig(alt_lexicon=None))
    assert "this" in a.layer.text.split()
    assert a.layer.n_words > strict.layer.n_words
    planted = build_layer(img, relabel(lines, {"years": "yeors", "forty": "farty"}))
    assert {"yeors", "farty"} <= {w.text for w, _, _ in planted.rejected}


def test_a_known_word_is_not_rejected_for_an_alternative_that_is_no_word():
    # In this face at em 12. The lexicon alone (prior off): "this" is a word and "thib" is not,
    # so the 'b' that fits this face's 's' better does not reject it (nor "community", "before").
    # Planted misreadings stay rejected: non-words (farty) get no help; "whole" for "whale",
    # because the 'a' that fits better makes a word; "yours" for "years", because two of its
    # letters would need it.
    img, lines = _cm_sans_page("the whale has this community provided before years animal forty")
    strict = build_layer(img, lines, LayoutConfig(alt_prior_bits=None, alt_lexicon=None))
    flagged = {w.text for w, _, why in strict.rejected if why.startswith("misread")}
    assert {"this", "community", "before"} <= flagged
    for cfg in (LayoutConfig(alt_prior_bits=None), LayoutConfig()):
        lex = build_layer(img, lines, cfg)
        assert flagged <= set(lex.layer.text.split())
        planted = build_layer(img, relabel(lines, {"forty": "farty", "whale": "whole",
                                                   "years": "yours"}), cfg)
        assert {"farty", "whole", "yours"} <= {w.text for w, _, _ in planted.rejected}


@pytest.mark.parametrize("fid,em", [(ARIMO, 11), (DEJAVU, 11), (DEJAVU, 16)])
def test_the_lexicon_does_not_pass_a_code_or_name_misread_as_a_word(fid, em):
    # "Zero" for "Xero": the 'X' fits far better than the 'Z' (more than alt_lexicon); "852"
    # for "B52": the 'B' that fits better is the '8''s twin in codes. (Line drop off: it would
    # reject "Zero" before the misreading check is asked.)
    img, lines = make_page([("Hello world quickly 1950 B52 Xero", fid, em, (0, 0, 0), 10, 35)])
    a = build_layer(img, relabel(lines, {"B52": "852", "Xero": "Zero"}), LayoutConfig(line_drop=1.0))
    assert {"852", "Zero"} <= {w.text for w, _, why in a.rejected if why.startswith("misread")}
    assert {"Hello", "world", "quickly", "1950"} <= set(a.layer.text.split())


def test_prior_bits_tells_text_from_misreadings():
    from layout.textcoder import prior_bits

    gap = LayoutConfig().alt_prior_bits
    for word, misread in [("the", "tBe"), ("provided", "prowided"), ("this", "thib")]:
        assert prior_bits(misread) - prior_bits(word) >= gap
    assert prior_bits("hcuse") > prior_bits("house")
    assert prior_bits("the") == prior_bits("the")  # nothing adapts between calls


def test_a_word_no_face_covers_does_not_take_its_neighbours_with_it():
    # An icon read as a CJK character (or CJK text among Latin words) in one run of one colour:
    # only that word stays in the background.
    img, lines = make_page([("Open the settings page now", DEJAVU, 18, (0, 0, 0), 10, 40)])
    a = build_layer(img, relabel(lines, {"settings": "設定"}))
    assert [(w.text, why) for w, _, why in a.rejected] == [("設定", "no font covers the text")]
    assert a.layer.text.split() == ["Open", "the", "page", "now"]
