"""EXIF for the saved photos, inserted into an already-encoded JPEG.

Why not re-encode through Pillow: the JPEG is encoded once by OpenCV (fast, libjpeg-turbo); the
EXIF block (date, camera, software, orientation) is built with Pillow and spliced in as an APP1
segment right after SOI, which costs microseconds instead of a second encode.
"""

from __future__ import annotations

from datetime import datetime

from PIL import Image

import edgecam

# EXIF tag ids
_MAKE, _MODEL, _SOFTWARE, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0131, 0x0112, 0x0132
_EXIF_IFD, _DATETIME_ORIGINAL, _USER_COMMENT = 0x8769, 0x9003, 0x9286


def exif_bytes(when: datetime, make: str, model: str, orientation: int = 1, comment: str | None = None) -> bytes:
    exif = Image.Exif()
    stamp = when.strftime("%Y:%m:%d %H:%M:%S")
    exif[_MAKE] = make
    exif[_MODEL] = model
    exif[_SOFTWARE] = f"edgecam {edgecam.__version__}"
    exif[_ORIENTATION] = orientation
    exif[_DATETIME] = stamp
    ifd = exif.get_ifd(_EXIF_IFD)
    ifd[_DATETIME_ORIGINAL] = stamp
    if comment:
        ifd[_USER_COMMENT] = b"ASCII\0\0\0" + comment.encode("ascii", "replace")
    return exif.tobytes()


def insert_exif(jpeg: bytes, exif: bytes) -> bytes:
    """Return the JPEG with an APP1 Exif segment after SOI (any existing APP1 Exif is dropped)."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    payload = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
    if len(payload) + 2 > 0xFFFF:
        raise ValueError("EXIF block too large")
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    pos = 2
    # Skip an existing APP0 (JFIF) to keep it first, drop an existing Exif APP1.
    out = bytearray(b"\xff\xd8")
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and jpeg[pos + 1] in (0xE0, 0xE1):
        seg_len = int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        seg = jpeg[pos:pos + 2 + seg_len]
        if not (jpeg[pos + 1] == 0xE1 and seg[4:10] == b"Exif\x00\x00"):
            out += seg
        pos += 2 + seg_len
    out += segment
    out += jpeg[pos:]
    return bytes(out)
