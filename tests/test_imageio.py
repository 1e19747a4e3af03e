import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from picd.errors import BadInputError
from picd.imageio import MAX_PIXELS, load_image, load_input, write_atomic


def _png_bytes(im):
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


def _huge_png_header(w, h):
    """A tiny PNG whose header claims w x h (its data is bogus: it must be refused unread)."""
    data = bytearray(_png_bytes(Image.new("RGB", (8, 8))))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_modes_are_converted(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[5:10, 5:25] = (200, 40, 10)
    base = Image.fromarray(rgb)
    for im in (base.convert("L"), base.convert("P"), base.convert("RGBA"), base.convert("CMYK")):
        out = load_image(im)
        assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    g16 = Image.fromarray((np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100))
    assert load_image(g16).max() > 200
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent -> white
    assert (load_image(Image.fromarray(rgba, "RGBA")) == 255).all()


def test_exif_rotation_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    p = tmp_path / "r.jpg"
    im.save(p, exif=exif)
    assert load_image(p).shape == (40, 20, 3)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "not an image"),
        (b"hello, this is text", "not an image"),
        (None, "too small"),
        ("huge", "too large"),
    ],
)
def test_bad_inputs_named(tmp_path, content, match):
    p = tmp_path / "x.png"
    if content is None:
        Image.new("RGB", (1, 1)).save(p)
    elif content == "huge":
        p.write_bytes(_huge_png_header(20000, 20000))
    else:
        p.write_bytes(content)
    with pytest.raises(BadInputError, match=match):
        load_image(p)


def test_missing_file_and_broken_pdf(tmp_path):
    with pytest.raises(BadInputError, match="no such file"):
        load_image(tmp_path / "nope.png")
    p = tmp_path / "broken.pdf"
    p.write_bytes(b"%PDF-1.4\n garbage garbage")
    with pytest.raises(BadInputError):
        load_input(p)


def test_max_pixels_is_generous_but_bounded():
    assert 8_000_000 < MAX_PIXELS < 20000 * 20000


def test_write_atomic_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    write_atomic(target, b"abc")
    assert target.read_bytes() == b"abc"

    with pytest.raises(Exception):
        write_atomic(tmp_path / "missing-dir" / "x.bin", b"abc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
