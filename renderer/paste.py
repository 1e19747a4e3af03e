"""The paste renderer: glyphs drawn anti-aliased over the decoded background."""

from __future__ import annotations

import numpy as np

from layout.model import TextLayer
from layout.raster import draw_layer
from renderer.base import Renderer


class PasteRenderer(Renderer):
    """Draws each word with its coded font, size and colour over the background (no learning)."""

    name = "paste"

    def render(self, background: np.ndarray, layer: TextLayer, mode: int = 1) -> np.ndarray:
        return draw_layer(background, layer)
