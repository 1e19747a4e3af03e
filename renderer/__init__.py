"""Renderers: decoded background + text layer -> image."""

from __future__ import annotations

from renderer.base import Renderer
from renderer.paste import PasteRenderer

RENDERERS: tuple[str, ...] = ("paste",)


def get_renderer(name: str) -> Renderer:
    if name == "paste":
        return PasteRenderer()
    raise ValueError(f"unknown renderer {name!r} (available: {', '.join(RENDERERS)})")


__all__ = ["RENDERERS", "Renderer", "PasteRenderer", "get_renderer"]
