"""Decode-side renderers: background + text layer -> final image.

A renderer gets the decoded background at full size and the decoded text layer and returns the
final RGB image. `PasteRenderer` is the trivial one (draw glyphs over the background) that keeps
the whole pipeline testable on CPU in milliseconds, and it is the ablation baseline for the
diffusion renderer that later sits behind the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from layout.model import TextLayer


class Renderer(ABC):
    name: str = "base"

    @abstractmethod
    def render(self, background: np.ndarray, layer: TextLayer, mode: int = 1) -> np.ndarray:
        """Final image (H, W, 3) uint8 from the background and the text layer.

        ``mode`` is the container's `picd.container.Mode` (the domain: natural, screen, document).
        """
