"""Pillow plugin: ``Image.open("x.picd")`` decodes with the default (paste) renderer.

Registered when `picd` is imported.
"""

from __future__ import annotations

from PIL import Image, ImageFile

from picd.container import MAGIC, is_picd


def _accept(prefix: bytes) -> bool:
    return is_picd(prefix)


class PicdImageFile(ImageFile.ImageFile):
    format = "PICD"
    format_description = "picd ultra-low-bitrate image"

    def _open(self) -> None:
        from picd import container

        assert self.fp is not None
        data = self.fp.read()
        c = container.unpack(data)
        self._size = (c.width, c.height)
        self._mode = "RGB"
        self._picd_data: bytes | None = data
        self.tile = []

    def load(self):  # type: ignore[override]
        if getattr(self, "_picd_data", None) is not None:
            from picd.api import decode

            img = decode(self._picd_data)
            self.im = img.im
            self._picd_data = None
        return Image.Image.load(self)


Image.register_open(PicdImageFile.format, PicdImageFile, _accept)
Image.register_extension(PicdImageFile.format, ".picd")
Image.register_mime(PicdImageFile.format, "image/x-picd")

__all__ = ["PicdImageFile", "MAGIC"]
