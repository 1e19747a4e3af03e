"""The `.picd` bitstream: a tiny header, tagged sections and a checksum.

The full specification is ``docs/bitstream.md``; keep the two in step. Summary::

    magic     3 bytes   b"PCD"
    version   1 byte    FORMAT_VERSION
    width     varint    pixels (LEB128, unsigned)
    height    varint
    mode      1 byte    Mode
    section*  tag:varint  codec:varint  length:varint  payload:bytes[length]
    crc32     4 bytes   big-endian CRC-32 of every byte before it

Section tags and codec ids are append-only numbers: an id is never reused or renumbered, so an
old file always names the exact coder (and model weights) it needs.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from picd.errors import BadStreamError

MAGIC = b"PCD"
FORMAT_VERSION = 1
MAX_SIDE = 1 << 20


class Mode(IntEnum):
    """What the image is; decoders may use it as the domain of the renderer."""

    NATURAL = 0
    SCREEN = 1
    DOCUMENT = 2


class Tag(IntEnum):
    """Section tags (append-only)."""

    TEXT = 1
    BACKGROUND = 2
    INK = 3


@dataclass(frozen=True)
class Section:
    tag: int
    codec: int
    payload: bytes


@dataclass(frozen=True)
class Container:
    width: int
    height: int
    mode: Mode
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def section(self, tag: int) -> Section | None:
        for s in self.sections:
            if s.tag == tag:
                return s
        return None


def write_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise BadStreamError("truncated .picd file (varint runs past the end)")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise BadStreamError("corrupted .picd file (varint too long)")


def pack(container: Container) -> bytes:
    """Serialise a container to bytes."""
    if not (1 <= container.width <= MAX_SIDE and 1 <= container.height <= MAX_SIDE):
        raise ValueError(f"image size {container.width}x{container.height} out of range")
    out = bytearray(MAGIC)
    out.append(FORMAT_VERSION)
    out += write_varint(container.width)
    out += write_varint(container.height)
    out.append(int(container.mode))
    for s in container.sections:
        out += write_varint(s.tag)
        out += write_varint(s.codec)
        out += write_varint(len(s.payload))
        out += s.payload
    out += struct.pack(">I", zlib.crc32(out))
    return bytes(out)


def is_picd(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


def unpack(data: bytes) -> Container:
    """Parse and verify a `.picd` file; raises `BadStreamError` naming the problem."""
    if not is_picd(data):
        raise BadStreamError("not a .picd file (wrong magic bytes)")
    if len(data) < len(MAGIC) + 1 + 4:
        raise BadStreamError("truncated .picd file")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise BadStreamError(
            f"unsupported .picd format version {version} (this picd reads version {FORMAT_VERSION})"
        )
    end = len(data) - 4
    (crc,) = struct.unpack(">I", data[end:])
    if zlib.crc32(data[:end]) != crc:
        raise BadStreamError("corrupted or truncated .picd file (checksum mismatch)")
    pos = len(MAGIC) + 1
    width, pos = read_varint(data, pos, end)
    height, pos = read_varint(data, pos, end)
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise BadStreamError(f"corrupted .picd file (image size {width}x{height})")
    if pos >= end:
        raise BadStreamError("truncated .picd file (no mode byte)")
    try:
        mode = Mode(data[pos])
    except ValueError:
        raise BadStreamError(f"corrupted .picd file (unknown mode {data[pos]})") from None
    pos += 1
    sections = []
    while pos < end:
        tag, pos = read_varint(data, pos, end)
        codec, pos = read_varint(data, pos, end)
        length, pos = read_varint(data, pos, end)
        if pos + length > end:
            raise BadStreamError("truncated .picd file (section runs past the end)")
        sections.append(Section(tag, codec, bytes(data[pos : pos + length])))
        pos += length
    return Container(width, height, mode, tuple(sections))


def overhead(n_sections: int, width: int, height: int) -> int:
    """Bytes of the header, checksum and section framing, for rate control (payload lengths
    are assumed under 128 bytes here; callers add the extra length bytes themselves)."""
    return len(MAGIC) + 1 + len(write_varint(width)) + len(write_varint(height)) + 1 + 4 + 3 * n_sections
