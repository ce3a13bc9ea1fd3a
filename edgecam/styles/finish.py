"""Finishing touches: vignette, film grain and the caption in the bottom border.

Why these choices:

* The vignette mask depends only on size and strength, so it is computed once and cached as a
  uint8 3-channel multiplier; applying it is one saturating :func:`cv2.multiply`.
* Grain is seeded by a value the caller passes in (the shot id), so re-rendering a photo gives
  the same bytes, and tests can check reproducibility. It is generated at half resolution and
  upsampled (real grain clumps; it also halves the random-number cost), and weighted by luma
  (strongest in the mid-tones, as on film; none in clipped blacks and whites).
* The caption is rendered with Pillow into a small strip only (never the whole card), cached
  per text/size/colour; a kiosk prints the same date caption all evening.
"""

from __future__ import annotations

import string
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ASSETS = Path(__file__).resolve().parent / "assets"
FONT_PATH = ASSETS / "DejaVuSans.ttf"
CAPTION_FIELDS = ("date", "scene", "style", "device")


# -- vignette -------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _vignette_mask(w: int, h: int, strength_milli: int) -> np.ndarray:
    s = strength_milli / 1000.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Elliptical distance: 0 at the centre, 1 at the corners, so the look is the same on any aspect.
    dx = (xx - (w - 1) / 2) / ((w - 1) / 2 + 1e-6)
    dy = (yy - (h - 1) / 2) / ((h - 1) / 2 + 1e-6)
    d = np.sqrt(dx * dx + dy * dy) / np.sqrt(2.0)
    t = np.clip((d - 0.35) / 0.65, 0.0, 1.0)
    fall = t * t * (3 - 2 * t)  # smoothstep: no visible ring where the darkening starts
    m = 1.0 - 0.65 * s * fall
    return cv2.merge([np.rint(m * 255).astype(np.uint8)] * 3)


def vignette(rgb: np.ndarray, strength: float) -> np.ndarray:
    """Darken towards the corners; ``strength`` 1 leaves the corners at 35 % brightness."""
    if strength <= 0:
        return rgb
    h, w = rgb.shape[:2]
    return cv2.multiply(rgb, _vignette_mask(w, h, int(round(strength * 1000))), scale=1.0 / 255.0)


# -- grain ----------------------------------------------------------------------------------------
_GRAIN_WEIGHT = (lambda y: 0.25 + 0.75 * 4.0 * y * (1.0 - y))(np.arange(256, dtype=np.float32) / 255.0)
_GRAIN_PAD = 256  # offsets per axis: 66 049 distinct grain fields per image size


@lru_cache(maxsize=4)
def _grain_texture(h: int, w: int) -> np.ndarray:
    """Unit-variance clumpy noise, (h + pad) × (w + pad), generated once per image size.

    Drawing fresh normals at print size costs more than the rest of the finishing together; a
    cached texture viewed at a seed-chosen offset is as random to the eye and exactly
    reproducible for a given seed.
    """
    th, tw = h + _GRAIN_PAD, w + _GRAIN_PAD
    rng = np.random.default_rng(0x6E41)
    half = rng.standard_normal(((th + 1) // 2, (tw + 1) // 2), dtype=np.float32)
    tex = cv2.resize(half, (tw, th), interpolation=cv2.INTER_LINEAR)  # grain clumps over ~2 px
    tex /= float(tex.std()) + 1e-6
    tex.setflags(write=False)
    return tex


def grain(rgb: np.ndarray, amount: float, seed: int) -> np.ndarray:
    """Monochrome film grain, standard deviation ``amount``·14 levels in the mid-tones.

    The same ``seed`` gives the same grain (reproducible renders); different seeds pick a
    different offset into the cached texture.
    """
    if amount <= 0:
        return rgb
    h, w = rgb.shape[:2]
    tex = _grain_texture(h, w)
    pick = np.random.default_rng(seed & 0xFFFFFFFFFFFFFFFF).integers(0, _GRAIN_PAD + 1, size=2)
    view = tex[int(pick[0]) : int(pick[0]) + h, int(pick[1]) : int(pick[1]) + w]  # a strided view, no copy
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    weight = cv2.LUT(grey, (_GRAIN_WEIGHT * (amount * 14.0)).reshape(256, 1))
    n = cv2.multiply(view, weight)
    return cv2.add(rgb, cv2.merge([n, n, n]), dtype=cv2.CV_8U)


# -- caption --------------------------------------------------------------------------------------
class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(f"unknown caption field {{{key}}}; allowed: {', '.join(CAPTION_FIELDS)}")


def format_caption(
    template: str, *, date: datetime | None = None, scene: str = "", style: str = "", device: str = ""
) -> str:
    """Fill a caption template such as ``"{date:%d %b %Y} · {scene}"``.

    Raises ValueError (with the allowed fields) on a bad template; ``StyleBook.from_config`` calls
    this at start-up so a typo stops the daemon instead of spoiling every print.
    """
    fields = _Fields(date=date or datetime.now(), scene=scene, style=style, device=device)
    try:
        return string.Formatter().vformat(template, (), fields)
    except (KeyError, IndexError, ValueError, AttributeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) else str(e)
        raise ValueError(f"caption template {template!r}: {msg}") from None


@lru_cache(maxsize=8)
def load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The bundled DejaVu Sans, or Pillow's built-in font if the asset is missing."""
    try:
        return ImageFont.truetype(str(FONT_PATH), size)
    except OSError:
        return ImageFont.load_default(size)


@lru_cache(maxsize=32)
def _caption_strip(
    text: str, w: int, h: int, colour: tuple[int, int, int], background: tuple[int, int, int]
) -> np.ndarray:
    size = max(8, int(h * 0.26))
    font = load_font(size)
    img = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(img)
    # Shrink long captions to fit 90 % of the width instead of clipping them.
    while size > 8 and draw.textlength(text, font=font) > 0.9 * w:
        size -= 1
        font = load_font(size)
    draw.text((w / 2, h * 0.5), text, fill=colour, font=font, anchor="mm")
    return np.asarray(img)


def draw_caption(
    card: np.ndarray,
    box: tuple[int, int, int, int],
    text: str,
    colour: tuple[int, int, int],
    background: tuple[int, int, int],
) -> None:
    """Draw ``text`` centred in ``box`` (x0, y0, x1, y1) of ``card`` (in place); sized from the box height."""
    if not text.strip():
        return
    x0, y0, x1, y1 = box
    card[y0:y1, x0:x1] = _caption_strip(text, x1 - x0, y1 - y0, colour, background)
