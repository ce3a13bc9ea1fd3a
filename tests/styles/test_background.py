from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecam.styles.background import apply_background, cover_resize
from edgecam.styles.spec import Background


def disc_alpha(h: int, w: int) -> np.ndarray:
    a = np.zeros((h, w), np.float32)
    cv2.circle(a, (w // 2, h // 2), min(h, w) // 4, 1.0, -1)
    return a


def test_colour_mode_yields_colour_where_alpha_0_and_subject_where_alpha_1(astronaut: np.ndarray) -> None:
    h, w = astronaut.shape[:2]
    alpha = disc_alpha(h, w)
    out, reasons = apply_background(astronaut, alpha, Background(mode="colour", colour="#102030"))
    assert reasons == ["background colour #102030"]
    assert np.all(out[alpha == 0] == (0x10, 0x20, 0x30))
    assert np.abs(out[alpha == 1].astype(int) - astronaut[alpha == 1]).max() <= 1
    # half alpha is half way
    half = np.full((h, w), 0.5, np.float32)
    mid, _ = apply_background(astronaut, half, Background(mode="colour", colour="#000000"))
    assert np.abs(mid.astype(int) - astronaut / 2).max() <= 1


def test_keep_and_missing_alpha_leave_the_image(astronaut: np.ndarray) -> None:
    out, reasons = apply_background(astronaut, None, Background(mode="blur"))
    assert out is astronaut and "no subject matte" in reasons[0]
    out, reasons = apply_background(astronaut, disc_alpha(512, 512), Background(mode="keep"))
    assert out is astronaut and reasons == []


def test_blur_has_no_halo_from_a_bright_subject() -> None:
    # White subject disc on a black background: a naive blur bleeds white into the background.
    h = w = 600
    alpha = disc_alpha(h, w)
    img = np.where(alpha[..., None] > 0.5, 255, 0).astype(np.uint8).repeat(3, axis=2)
    out, reasons = apply_background(img, alpha, Background(mode="blur", blur_sigma=15))
    assert reasons[0].startswith("background blur")
    ring = (cv2.dilate((alpha > 0).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0) & (alpha == 0)
    naive = cv2.GaussianBlur(img, (0, 0), 18)
    assert naive[ring].mean() > 60  # what we avoid
    assert out[ring].mean() < 10


def test_blur_actually_blurs_the_background(astronaut: np.ndarray) -> None:
    h, w = astronaut.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    out, _ = apply_background(astronaut, alpha, Background(mode="blur"))
    lap = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var()  # noqa: E731
    assert lap(out) < lap(astronaut) * 0.1


def test_image_mode_cover_resizes_the_replacement(
    tmp_path: Path, astronaut: np.ndarray, coffee: np.ndarray
) -> None:
    p = tmp_path / "bg.png"
    cv2.imwrite(str(p), cv2.cvtColor(coffee, cv2.COLOR_RGB2BGR))
    h, w = 300, 200
    area = cv2.resize(astronaut, (w, h))
    out, reasons = apply_background(area, np.zeros((h, w), np.float32), Background(mode="image", image=p))
    assert reasons == ["background image bg.png"]
    assert np.abs(out.astype(int) - cover_resize(coffee, (w, h))).max() <= 1
    assert cover_resize(coffee, (w, h)).shape == (h, w, 3)


def test_alpha_shape_mismatch_is_an_error(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="alpha shape"):
        apply_background(astronaut, np.zeros((10, 10), np.float32), Background(mode="colour"))
