from __future__ import annotations

import numpy as np
import pytest

from edgecam.config import StylesConfig
from edgecam.styles.book import StyleBook
from edgecam.styles.films import FILMS
from edgecam.styles.render import Renderer
from edgecam.styles.spec import Background, Enhance, Grade, StyleSpec
from edgecam.vision.types import Face


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(StyleBook.from_config(StylesConfig()), dpi=300)


@pytest.mark.parametrize("film", sorted(FILMS))
def test_every_film_renders_at_the_physical_card_ratio(renderer: Renderer, samples: dict, film: str) -> None:
    spec = StyleSpec(film=film)
    for name, rgb in samples.items():
        area, _ = renderer.crop_to_area(rgb, spec)
        assert area.shape[:2][::-1] == renderer.area_size(spec), name
        card, info = renderer.render(area, None, spec, "caption", seed=1)
        h, w = card.shape[:2]
        cw_mm, ch_mm = FILMS[film].card_mm
        assert abs(w - h * cw_mm / ch_mm) <= 1.0
        assert info["card_size"] == [w, h]


def test_every_builtin_style_renders_every_sample(renderer: Renderer, samples: dict) -> None:
    for style in renderer.book.names():
        for name, rgb in samples.items():
            area, _ = renderer.crop_to_area(rgb, style)
            alpha = np.zeros(area.shape[:2], np.float32)
            alpha[area.shape[0] // 4 : -area.shape[0] // 4, area.shape[1] // 4 : -area.shape[1] // 4] = 1.0
            card, info = renderer.render(area, alpha, style, "22 Nov 2026", seed=3)
            assert card.dtype == np.uint8 and card.ndim == 3, (style, name)
            assert info["style"] == style and set(info["timings_ms"]) >= {"grade", "background", "caption"}


def test_render_is_reproducible_and_records_what_was_applied(
    renderer: Renderer, astronaut: np.ndarray
) -> None:
    area, _ = renderer.crop_to_area(astronaut, "noir")
    a, info = renderer.render(area, None, "noir", "hello", seed=9)
    b, _ = renderer.render(area, None, "noir", "hello", seed=9)
    c, _ = renderer.render(area, None, "noir", "hello", seed=10)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert "lut:mono_classic@1" in info["applied"] and "grain:0.5" in info["applied"]
    assert "caption" in info["applied"]


def test_border_colour_and_rounded_corners(renderer: Renderer, astronaut: np.ndarray) -> None:
    spec = StyleSpec(border_colour="#ff0000", caption={"enabled": False})
    area = np.zeros((*renderer.area_size(spec)[::-1], 3), np.uint8)
    card, _ = renderer.render(area, None, spec, "ignored", seed=0)
    lay = renderer.layout(spec)
    x0, y0 = lay.area_origin
    aw, ah = lay.area_size
    assert tuple(card[2, 2]) == (255, 0, 0)
    assert tuple(card[y0 + ah // 2, x0 + aw // 2]) == (0, 0, 0)
    assert tuple(card[y0, x0]) == (255, 0, 0)  # the very corner is rounded off
    assert tuple(card[y0, x0 + aw // 2]) == (0, 0, 0)
    bottom = card[y0 + ah :]
    assert np.all(bottom == (255, 0, 0))  # caption disabled: nothing drawn


def test_background_mode_colour_through_the_renderer(renderer: Renderer, astronaut: np.ndarray) -> None:
    spec = StyleSpec(
        background=Background(mode="colour", colour="#00ff00"),
        enhance=Enhance(auto_contrast="off", low_light="off"),
    )
    area, _ = renderer.crop_to_area(astronaut, spec)
    alpha = np.zeros(area.shape[:2], np.float32)
    card, info = renderer.render(area, alpha, spec, "", seed=0)
    x0, y0 = renderer.layout(spec).area_origin
    assert tuple(card[y0 + 50, x0 + 50]) == (0, 255, 0)
    assert "background:colour" in info["applied"]


def face_image() -> tuple[np.ndarray, Face]:
    img = np.full((400, 1200, 3), 90, np.uint8)
    box = (1000.0, 60.0, 1100.0, 180.0)
    img[60:180, 1000:1100] = (250, 200, 180)
    return img, Face(box=box, score=0.9)


def test_face_aware_crop_keeps_the_face_inside(renderer: Renderer) -> None:
    img, face = face_image()
    area, tr = renderer.crop_to_area(img, "classic")
    assert (area[..., 0] > 200).sum() == 0  # a centred crop misses the face ...
    area, tr = renderer.crop_to_area(img, "classic", faces=[face])
    moved = tr.face(face)
    x0, y0, x1, y1 = moved.box
    h, w = area.shape[:2]
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h  # ... a face-aware crop keeps it
    cx, cy = int((x0 + x1) / 2), int((y0 + y1) / 2)
    assert tuple(area[cy, cx]) == (250, 200, 180)  # the transform maps onto the face pixels


def test_face_goes_to_the_upper_third_when_there_is_room(renderer: Renderer) -> None:
    img = np.full((1600, 600, 3), 90, np.uint8)  # tall frame, cropped to the wide film
    face = Face(box=(250.0, 700.0, 350.0, 820.0), score=0.9)
    area, tr = renderer.crop_to_area(img, "wide_landscape", faces=[face])
    fy = (tr.face(face).box[1] + tr.face(face).box[3]) / 2
    assert abs(fy / area.shape[0] - 1 / 3) < 0.05


def test_renderer_tolerates_an_uncropped_input(renderer: Renderer, coffee: np.ndarray) -> None:
    alpha = np.ones(coffee.shape[:2], np.float32)
    card, info = renderer.render(coffee, alpha, StyleSpec(grade=Grade(saturation=0.5)), "", seed=0)
    assert info["area_size"] == list(renderer.area_size("classic"))
    assert card.shape[:2] == (1016, 638)


def test_warm_up_renders_every_style(renderer: Renderer) -> None:
    spent = renderer.warm_up()
    assert set(spent) == set(renderer.book.names()) and all(v > 0 for v in spent.values())
