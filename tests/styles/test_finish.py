from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from edgecam.styles.finish import FONT_PATH, draw_caption, format_caption, grain, load_font, vignette


def test_grain_is_reproducible_per_seed_and_differs_between_seeds(astronaut: np.ndarray) -> None:
    a = grain(astronaut, 0.5, seed=42)
    b = grain(astronaut, 0.5, seed=42)
    c = grain(astronaut, 0.5, seed=43)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert grain(astronaut, 0.0, seed=1) is astronaut


def test_grain_is_strongest_in_midtones() -> None:
    img = np.zeros((200, 300, 3), np.uint8)
    img[:, :100] = 0
    img[:, 100:200] = 128
    img[:, 200:] = 255
    out = grain(img, 0.6, seed=7).astype(int) - img
    assert out[:, 100:200].std() > 2 * out[:, :100].std()
    assert out[:, 100:200].std() > 2 * out[:, 200:].std()


def test_vignette_darkens_corners_not_centre(astronaut: np.ndarray) -> None:
    grey = np.full((400, 300, 3), 200, np.uint8)
    out = vignette(grey, 1.0)
    assert out[200, 150, 0] >= 199
    assert out[0, 0, 0] < 100
    assert vignette(astronaut, 0.0) is astronaut


def test_caption_template_fields_and_errors() -> None:
    d = datetime(2026, 11, 22, 18, 30)
    assert format_caption("{date:%d %b %Y} · {scene}", date=d, scene="night") == "22 Nov 2026 · night"
    with pytest.raises(ValueError, match="allowed: date, scene, style, device"):
        format_caption("{weather}")
    with pytest.raises(ValueError, match="caption template"):
        format_caption("{date:%d")


def test_caption_is_drawn_centred_in_the_box() -> None:
    card = np.full((300, 400, 3), 250, np.uint8)
    draw_caption(card, (0, 200, 400, 300), "Hello kiosk", (20, 20, 20), (250, 250, 250))
    ink = np.argwhere(card[..., 0] < 128)
    assert len(ink) > 50 and ink[:, 0].min() >= 200
    cx = (ink[:, 1].min() + ink[:, 1].max()) / 2
    assert abs(cx - 200) < 10
    assert np.all(card[:200] == 250)


def test_bundled_font_is_used() -> None:
    assert FONT_PATH.is_file() and (FONT_PATH.parent / "LICENSE_DEJAVU.txt").is_file()
    assert "DejaVu" in " ".join(load_font(20).getname())  # type: ignore[union-attr]
