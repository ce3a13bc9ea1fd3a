"""Placing the image area on the film card: border colour and rounded image-area corners.

Why only the four corner patches are blended: the rounding touches a few hundred pixels, so
the card is a fill plus one copy, and the anti-aliased quarter-circle masks are cached per radius.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edgecam.styles.films import FilmLayout


@lru_cache(maxsize=16)
def corner_mask(radius: int) -> np.ndarray:
    """(r, r) float32 coverage of the top-left corner: 1 inside the rounded area, 0 outside."""
    r = radius
    yy, xx = np.mgrid[0:r, 0:r].astype(np.float32) + 0.5
    d = np.sqrt((r - xx) ** 2 + (r - yy) ** 2)
    return np.clip(r - d + 0.5, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=8)
def _blank(w: int, h: int, colour: tuple[int, int, int]) -> np.ndarray:
    # numpy's broadcast fill of an RGB tuple is ~30x slower than a memcpy of a cached blank card.
    card = np.empty((h, w, 3), np.uint8)
    card[:] = colour
    card.setflags(write=False)
    return card


def place_on_card(area: np.ndarray, layout: FilmLayout, border_rgb: tuple[int, int, int]) -> np.ndarray:
    """The full card (RGB uint8): border colour, the image area at its offset, rounded corners."""
    cw, ch = layout.card_size
    aw, ah = layout.area_size
    if area.shape[:2] != (ah, aw):
        raise ValueError(f"image area is {area.shape[1]}x{area.shape[0]}, the film needs {aw}x{ah}")
    card = _blank(cw, ch, border_rgb).copy()
    x0, y0 = layout.area_origin
    card[y0 : y0 + ah, x0 : x0 + aw] = area
    r = min(layout.corner_radius, aw // 2, ah // 2)
    if r > 0:
        m = corner_mask(r)[..., None]
        border = np.asarray(border_rgb, np.float32)
        for flip_y, flip_x in ((False, False), (False, True), (True, False), (True, True)):
            mm = m[::-1] if flip_y else m
            mm = mm[:, ::-1] if flip_x else mm
            ys = slice(y0 + ah - r, y0 + ah) if flip_y else slice(y0, y0 + r)
            xs = slice(x0 + aw - r, x0 + aw) if flip_x else slice(x0, x0 + r)
            patch = card[ys, xs].astype(np.float32)
            card[ys, xs] = np.clip(patch * mm + border * (1.0 - mm) + 0.5, 0, 255).astype(np.uint8)
    return card
