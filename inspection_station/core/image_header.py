"""Image width x height from the file header alone, before anything is decoded.

A 1 MB PNG may declare 20000 x 20000 pixels (1.2 GB once decoded): the size is checked
here first. PNG, JPEG, BMP, TIFF and WebP, the formats `images.IMAGE_SUFFIXES` names.
"""

from __future__ import annotations

import struct

HEADER_BYTES = 1 << 16  # enough to reach a JPEG's SOF marker behind typical EXIF blocks


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) declared by the header in `head` (the file's first bytes); None = unknown."""
    for sniff, reader in _READERS:
        if head.startswith(sniff):
            try:
                return reader(head)
            except (struct.error, IndexError, ValueError):
                return None
    return None


def _png(b: bytes) -> tuple[int, int] | None:
    if b[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", b[16:24])


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(b: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(b):
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            i += 2
            continue
        (length,) = struct.unpack(">H", b[i + 2:i + 4])
        if marker in _SOF:
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def _bmp(b: bytes) -> tuple[int, int] | None:
    (header_size,) = struct.unpack("<I", b[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        w, h = struct.unpack("<HH", b[18:22])
    else:
        w, h = struct.unpack("<ii", b[18:26])
    return abs(w), abs(h)  # negative height = top-down rows


def _tiff(b: bytes) -> tuple[int, int] | None:
    end = "<" if b[:2] == b"II" else ">"
    (offset,) = struct.unpack(end + "I", b[4:8])
    (count,) = struct.unpack(end + "H", b[offset:offset + 2])
    size: dict[int, int] = {}
    for n in range(count):
        entry = b[offset + 2 + 12 * n: offset + 14 + 12 * n]
        tag, kind = struct.unpack(end + "HH", entry[:4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            fmt = "H" if kind == 3 else "I"
            size[tag] = struct.unpack(end + fmt, entry[8:8 + struct.calcsize(fmt)])[0]
    if 256 in size and 257 in size:
        return size[256], size[257]
    return None


def _webp(b: bytes) -> tuple[int, int] | None:
    if b[8:12] != b"WEBP":
        return None
    chunk = b[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1
    return None


_READERS = (
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8", _jpeg),
    (b"BM", _bmp),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"RIFF", _webp),
)
