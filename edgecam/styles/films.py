"""Instant-film formats with their true physical dimensions.

Why millimetres and not pixels: the styled photo is printed (or shown next to a real print), so
its proportions must be those of the real film at any print resolution. Pixel sizes are derived
from ``output.dpi`` at one place (:meth:`FilmFormat.layout`), rounding every edge once, so the
card's pixel aspect ratio stays within one pixel of the physical one.

The borders are those of the real film: narrow and equal at the sides, a little wider at the top,
and the wide "chin" at the bottom that carries the caption.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

MM_PER_INCH = 25.4


@dataclass(frozen=True)
class FilmFormat:
    """One film: card size, image-area size and the image area's top offset, all in mm."""

    name: str
    title: str
    card_mm: tuple[float, float]  # width, height
    image_mm: tuple[float, float]  # width, height
    top_mm: float  # top border; the bottom border is what remains
    corner_radius_mm: float = 0.8  # image-area corners are slightly rounded on real film

    @property
    def side_mm(self) -> float:
        return (self.card_mm[0] - self.image_mm[0]) / 2.0

    @property
    def bottom_mm(self) -> float:
        return self.card_mm[1] - self.image_mm[1] - self.top_mm

    def layout(self, dpi: int) -> FilmLayout:
        """Pixel geometry of this film at ``dpi``."""
        return _layout(self, dpi)


@dataclass(frozen=True)
class FilmLayout:
    """Pixel geometry of a film at one print resolution."""

    film: FilmFormat
    dpi: int
    card_size: tuple[int, int]  # (w, h) px
    area_size: tuple[int, int]  # (w, h) px
    area_origin: tuple[int, int]  # (x, y) px of the image area's top-left corner on the card
    corner_radius: int  # px

    @property
    def bottom_border(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the bottom border, where the caption goes."""
        y0 = self.area_origin[1] + self.area_size[1]
        return (0, y0, self.card_size[0], self.card_size[1])


def mm_to_px(mm: float, dpi: int) -> int:
    return int(round(mm * dpi / MM_PER_INCH))


@lru_cache(maxsize=64)
def _layout(film: FilmFormat, dpi: int) -> FilmLayout:
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    cw, ch = mm_to_px(film.card_mm[0], dpi), mm_to_px(film.card_mm[1], dpi)
    aw, ah = mm_to_px(film.image_mm[0], dpi), mm_to_px(film.image_mm[1], dpi)
    # Centre horizontally in whole pixels so rounding never makes the side borders differ by > 1 px.
    x0 = (cw - aw) // 2
    y0 = min(mm_to_px(film.top_mm, dpi), ch - ah)
    radius = max(1, mm_to_px(film.corner_radius_mm, dpi))
    return FilmLayout(film, dpi, (cw, ch), (aw, ah), (x0, y0), radius)


# Dimensions from the manufacturers' film specifications (Fujifilm Instax, Polaroid 600).
FILMS: dict[str, FilmFormat] = {
    "instax_mini": FilmFormat("instax_mini", "Instax Mini", (54.0, 86.0), (46.0, 62.0), top_mm=7.0),
    "instax_square": FilmFormat("instax_square", "Instax Square", (72.0, 86.0), (62.0, 62.0), top_mm=7.0),
    "instax_wide": FilmFormat("instax_wide", "Instax Wide", (108.0, 86.0), (99.0, 62.0), top_mm=7.0),
    "polaroid_600": FilmFormat(
        "polaroid_600", "Polaroid 600", (88.0, 107.0), (79.0, 79.0), top_mm=6.0, corner_radius_mm=0.5
    ),
}


def get_film(name: str) -> FilmFormat:
    try:
        return FILMS[name]
    except KeyError:
        raise KeyError(f"unknown film {name!r}; known films: {', '.join(sorted(FILMS))}") from None
