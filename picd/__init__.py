"""picd: ultra-low-bitrate screen, document and photo compression.

>>> import picd
>>> data = picd.encode("screenshot.png", bpp=0.02)   # bytes of a .picd file
>>> image = picd.decode(data)                          # PIL.Image

Importing picd also registers a Pillow plugin, so ``PIL.Image.open("x.picd")`` works.
"""

from __future__ import annotations

from typing import Any

from picd import pillow_plugin as _pillow_plugin  # noqa: F401  (registers the format)

__all__ = ["encode", "decode"]


def __getattr__(name: str) -> Any:  # keep `import picd` light: the pipeline loads on first use
    if name in ("encode", "decode", "encode_detailed", "decode_detailed"):
        from picd import api

        return getattr(api, name)
    raise AttributeError(name)
