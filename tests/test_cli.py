"""The command line end to end, on files the tests make (README's commands are run too)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import picd
from picd import container as ct
from picd.cli import cli
from picd.errors import ExitCode


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_encode_decode_info_eval(screenshot_path, tmp_path):
    out = tmp_path / "shot.picd"
    r = run("encode", screenshot_path, "-o", out, "--bpp", "0.1")
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert len(data) * 8 / (480 * 200) <= 0.1
    c = ct.unpack(data)
    assert c.mode == ct.Mode.SCREEN and c.section(ct.Tag.TEXT) is not None

    png = tmp_path / "back.png"
    r = run("decode", out, "-o", png)
    assert r.exit_code == 0, r.output
    assert Image.open(png).size == (480, 200)

    r = run("info", out, "--json")
    info = json.loads(r.output)
    assert info["bytes"] == len(data) and info["words"] >= 6

    r = run("eval", screenshot_path, out, "--json")
    ev = json.loads(r.output)
    assert ev["word_f1"] >= 0.8, ev
    assert ev["psnr"] > 20


def test_text_is_redrawn_not_blurred(screenshot_path):
    data = picd.encode(screenshot_path, bpp=0.05)
    dec = np.asarray(picd.decode(data)).astype(int)
    orig = np.asarray(Image.open(screenshot_path).convert("RGB")).astype(int)
    band = slice(40, 140)
    # the redrawn text keeps its dark strokes (a blurred background would not reach them)
    assert dec[band].min() < 80
    assert np.abs(dec[band] - orig[band]).mean() < 12


def test_natural_mode_and_pillow_plugin(photo_path, tmp_path):
    out = tmp_path / "p.picd"
    assert run("encode", photo_path, "-o", out, "--mode", "natural").exit_code == 0
    c = ct.unpack(out.read_bytes())
    assert c.mode == ct.Mode.NATURAL and c.section(ct.Tag.TEXT) is None
    im = Image.open(out)
    assert im.format == "PICD" and im.size == (160, 120)
    assert np.asarray(im.convert("RGB")).std() > 5


def test_bpp_target_is_met_including_header(screenshot_path):
    for bpp in (0.02, 0.05, 0.2):
        data = picd.encode(screenshot_path, bpp=bpp)
        assert len(data) * 8 <= bpp * 480 * 200


@pytest.mark.parametrize(
    "make,code",
    [
        (lambda p: p.write_bytes(b"not an image"), ExitCode.BAD_INPUT),
        (lambda p: Image.new("RGB", (1, 1)).save(p, "PNG"), ExitCode.BAD_INPUT),
        (lambda p: p.write_bytes(b""), ExitCode.BAD_INPUT),
    ],
)
def test_bad_input_one_line_error_no_output(tmp_path, make, code):
    src = tmp_path / "in.png"
    make(src)
    out = tmp_path / "in.picd"
    r = run("encode", src, "-o", out)
    assert r.exit_code == code
    assert r.output.strip().startswith("picd: error:") and len(r.output.strip().splitlines()) == 1
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.png"]


def test_bad_picd_files(screenshot_path, tmp_path):
    good = picd.encode(screenshot_path, bpp=0.05)
    cases = {
        "trunc.picd": good[: len(good) // 2],
        "flip.picd": good[:10] + bytes([good[10] ^ 4]) + good[11:],
        "magic.picd": b"XYZ" + good[3:],
        "version.picd": good[:3] + b"\x07" + good[4:],
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        r = run("decode", p, "-o", tmp_path / "x.png")
        assert r.exit_code == ExitCode.BAD_STREAM, (name, r.output)
        assert "picd: error:" in r.output
        assert not (tmp_path / "x.png").exists()


def test_help_teaches():
    r = run("--help")
    assert "Exit codes" in r.output and "picd encode" in r.output
    r = run("encode", "--help")
    assert "--bpp" in r.output and "--verify-threshold" in r.output
