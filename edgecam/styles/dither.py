"""1-bit dithering for ESC/POS thermal receipt printers (384 or 576 dots per line).

Why dither here and not in the printer driver: python-escpos and most printers threshold at
50 %, which turns a photo into black blobs; error diffusion keeps mid-tones as dot density.
Floyd–Steinberg uses Pillow's C implementation; Atkinson (the classic Macintosh look: diffuses
only 6/8 of the error, so highlights and shadows stay clean and the print looks crisper on
thermal paper, which tends to bleed) is done in pure Python on row lists, ~0.3 s for a
384×600 receipt, negligible next to the print itself.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from PIL import Image

Method = Literal["floyd_steinberg", "atkinson", "threshold"]
PRINTER_WIDTHS = (384, 576)  # 58 mm and 80 mm paper at 203 dpi


def prepare_grey(rgb: np.ndarray, width: int = 384, gamma: float = 0.85) -> np.ndarray:
    """Grey, resized to the printer width (area filter), lightened: thermal dots spread and darken."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    height = max(1, round(h * width / w))
    interp = cv2.INTER_AREA if width < w else cv2.INTER_LINEAR
    grey = cv2.resize(grey, (width, height), interpolation=interp)
    if gamma != 1.0:
        lut = np.clip(np.rint(np.power(np.arange(256) / 255.0, gamma) * 255.0), 0, 255).astype(np.uint8)
        grey = cv2.LUT(grey, lut)
    return grey


def _atkinson(grey: np.ndarray) -> np.ndarray:
    h, w = grey.shape
    rows = [[float(v) for v in row] for row in grey.tolist()] + [[0.0] * w, [0.0] * w]
    out = np.zeros((h, w), np.uint8)
    for y in range(h):
        r0, r1, r2 = rows[y], rows[y + 1], rows[y + 2]
        bits = out[y]
        line = [0] * w
        for x in range(w):
            old = r0[x]
            new = 255.0 if old >= 128.0 else 0.0
            line[x] = 255 if new else 0
            e = (old - new) / 8.0
            if x + 1 < w:
                r0[x + 1] += e
                r1[x + 1] += e
            if x + 2 < w:
                r0[x + 2] += e
            if x > 0:
                r1[x - 1] += e
            r1[x] += e
            r2[x] += e
        bits[:] = line
    return out


def dither(
    rgb: np.ndarray, width: int = 384, method: Method = "floyd_steinberg", gamma: float = 0.85
) -> Image.Image:
    """A mode "1" Pillow image ``width`` dots wide (white = paper), ready for python-escpos."""
    grey = prepare_grey(rgb, width, gamma)
    if method == "floyd_steinberg":
        return Image.fromarray(grey, "L").convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    if method == "threshold":
        return Image.fromarray(grey, "L").convert("1", dither=Image.Dither.NONE)
    if method == "atkinson":
        return Image.fromarray(_atkinson(grey), "L").convert("1", dither=Image.Dither.NONE)
    raise ValueError(f"unknown dither method {method!r}; allowed: floyd_steinberg, atkinson, threshold")
