from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def make_screenshot(lines=("Settings and privacy", "Battery saver is on", "Open the file menu"),
                    size=(480, 200), bg=(246, 247, 249), fg=(20, 24, 32), font="DejaVuSans.ttf", px=18):
    """A small synthetic UI screenshot: a coloured bar and a few lines of text."""
    im = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, size[0], 28), fill=(40, 110, 200))
    f = ImageFont.truetype(str(FONT_DIR / font), px)
    for i, t in enumerate(lines):
        d.text((24, 44 + i * 36), t, font=f, fill=fg)
    return im


@pytest.fixture
def screenshot_path(tmp_path):
    p = tmp_path / "shot.png"
    make_screenshot().save(p)
    return p


@pytest.fixture
def photo_path(tmp_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:120, 0:160]
    img = np.stack([128 + 60 * np.sin(x / 9.0), 128 + 60 * np.cos(y / 7.0), (x + y) % 255], axis=2)
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    p = tmp_path / "photo.png"
    Image.fromarray(img).save(p)
    return p
