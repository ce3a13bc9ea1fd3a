from __future__ import annotations

import pytest

from edgecam.styles.films import FILMS, get_film


@pytest.mark.parametrize("name", sorted(FILMS))
@pytest.mark.parametrize("dpi", [150, 300, 600])
def test_card_pixel_aspect_matches_physical_card(name: str, dpi: int) -> None:
    film = FILMS[name]
    lay = film.layout(dpi)
    cw, ch = lay.card_size
    # within one pixel of the physical ratio
    assert abs(cw - ch * film.card_mm[0] / film.card_mm[1]) <= 1.0
    aw, ah = lay.area_size
    assert abs(aw - ah * film.image_mm[0] / film.image_mm[1]) <= 1.0


@pytest.mark.parametrize("name", sorted(FILMS))
def test_image_area_inside_card_with_wide_bottom_border(name: str) -> None:
    lay = FILMS[name].layout(300)
    (cw, ch), (aw, ah), (x0, y0) = lay.card_size, lay.area_size, lay.area_origin
    assert x0 > 0 and y0 > 0 and x0 + aw < cw and y0 + ah < ch
    left, right = x0, cw - x0 - aw
    assert abs(left - right) <= 1
    bottom = ch - y0 - ah
    assert bottom > 2 * y0  # the "chin" of instant film
    assert lay.bottom_border == (0, y0 + ah, cw, ch)


def test_known_physical_sizes() -> None:
    mini = get_film("instax_mini")
    assert mini.card_mm == (54.0, 86.0) and mini.image_mm == (46.0, 62.0)
    assert mini.layout(300).card_size == (638, 1016)
    assert get_film("polaroid_600").image_mm == (79.0, 79.0)
    with pytest.raises(KeyError, match="instax_wide"):
        get_film("instax_maxi")
