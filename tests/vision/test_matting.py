from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgecam.vision.guided import fast_guided_upsample
from edgecam.vision.matting import studio_composite
from edgecam.vision.stack import VisionStack

from .conftest import load_sample


def test_portrait_alpha_covers_the_person(stack: VisionStack) -> None:
    rgb = load_sample("astronaut")
    faces = stack.detect_faces(rgb)
    alpha = stack.matte(rgb, faces)
    assert alpha is not None and alpha.dtype == np.float32 and alpha.shape == rgb.shape[:2]
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    x0, y0, x1, y1 = (int(v) for v in faces[0].box)
    assert alpha[y0:y1, x0:x1].mean() > 0.8, "the face is foreground"
    assert alpha[:, -40:].mean() < 0.2, "the right edge (flag, sky) is background"
    assert 0.2 < (alpha > 0.5).mean() < 0.8


def test_no_face_no_matte_even_if_the_segmenter_fires(stack: VisionStack) -> None:
    for name in ("chelsea", "coffee"):
        rgb = load_sample(name)
        assert stack.matte(rgb, stack.detect_faces(rgb)) is None


def test_alpha_at_requested_print_size(stack: VisionStack) -> None:
    rgb = load_sample("grace_hopper")
    faces = stack.detect_faces(rgb)
    full = stack.matte(rgb, faces)
    small = stack.matte(rgb, faces, size=(300, 351))
    assert small is not None and full is not None and small.shape == (351, 300)
    resized = cv2.resize(full, (300, 351), interpolation=cv2.INTER_AREA)
    assert np.mean(np.abs(resized - small)) < 0.05


def test_guided_upsampling_snaps_to_image_edges() -> None:
    """A coarse mask misplaced by 12 px moves onto the square's real edge in the guide photo."""
    guide = np.zeros((400, 400, 3), np.uint8)
    guide[100:300, 100:300] = 255
    truth = guide[:, :, 0] > 0
    shifted = np.roll(truth, 12, axis=1).astype(np.float32)
    low = cv2.GaussianBlur(cv2.resize(shifted, (32, 32), interpolation=cv2.INTER_AREA), (0, 0), 1.0)
    plain = cv2.resize(low, (400, 400), interpolation=cv2.INTER_LINEAR)
    plain_err = ((plain > 0.5) != truth).mean()
    for color in (False, True):
        refined = fast_guided_upsample(guide, low, (400, 400), radius=24, eps=1e-3, color=color)
        assert refined.shape == (400, 400) and refined.dtype == np.float32
        assert ((refined > 0.5) != truth).mean() < 0.4 * plain_err


def test_product_cutout_finds_the_cup(stack: VisionStack) -> None:
    rgb = load_sample("coffee")
    alpha = stack.product_cutout(rgb)
    assert alpha.shape == rgb.shape[:2] and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    h, w = alpha.shape
    assert alpha[h // 3: 2 * h // 3, w // 3: 2 * w // 3].mean() > alpha[: h // 8, : w // 8].mean() + 0.3


def test_studio_composite_background_shadow_and_subject() -> None:
    rgb = np.full((200, 300, 3), 10, np.uint8)
    alpha = np.zeros((200, 300), np.float32)
    alpha[50:150, 100:200] = 1.0
    out = studio_composite(rgb, alpha, (240, 230, 220))
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert tuple(out[5, 5]) == (240, 230, 220), "far background is the plain colour"
    assert (out[100, 150] == 10).all(), "subject is untouched"
    below_right = out[154, 203].astype(int)
    assert (below_right < np.array([240, 230, 220])).all(), "a soft shadow falls below/right"


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 3), np.uint8)])
def test_matting_refuses_tiny_input(stack: VisionStack, bad: np.ndarray) -> None:
    from edgecam.errors import InputImageError

    with pytest.raises(InputImageError):
        stack.matte(bad, [])


def test_guided_output_step_matches_float_math() -> None:
    """The full-size step (up(b) held as scaled int16) equals clip(up(a)·I + up(b)) in float."""
    from edgecam.vision.guided import _apply

    rng = np.random.default_rng(3)
    a = cv2.GaussianBlur(rng.normal(0, 0.2, (40, 30)).astype(np.float32), (0, 0), 2)
    b = cv2.GaussianBlur(rng.normal(0, 20, (40, 30)).astype(np.float32), (0, 0), 2)  # wide range of b
    guide = rng.integers(0, 256, (400, 300), dtype=np.uint8)
    want = np.clip(cv2.resize(a, (300, 400)) * guide + cv2.resize(b, (300, 400)), 0, 1)
    got = _apply(a, b, guide, (300, 400))
    assert got.dtype == np.float32 and got.shape == (400, 300)
    assert np.abs(got - want).max() < 2e-3


def test_colour_guided_coefficients_solve_the_local_3x3_system() -> None:
    """a = (Σ + eps·I)⁻¹ cov(I, p) per pixel, b = mean(p) − a·mean(I), each box-averaged once more."""
    from edgecam.vision import guided

    rng = np.random.default_rng(4)
    g = rng.random((24, 20, 3)).astype(np.float32)
    p = rng.random((24, 20)).astype(np.float32)
    r, eps = 2, 1e-3
    box = guided._box
    a_s, b_s = guided.guided_filter_color(g, p, r, eps)
    mi, mp = box(g, r), box(p, r)
    cov = np.stack([box(g[:, :, i] * p, r) - mi[:, :, i] * mp for i in range(3)], -1)
    sig = np.stack([np.stack([box(g[:, :, i] * g[:, :, j], r) - mi[:, :, i] * mi[:, :, j]
                              for j in range(3)], -1) for i in range(3)], -2) + eps * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(sig, cov[..., None])[..., 0]
    b = mp - (a * mi).sum(-1)
    assert np.allclose(a_s, box(a.astype(np.float32), r), atol=2e-3)
    assert np.allclose(b_s, box(b.astype(np.float32), r), atol=2e-3)


def test_high_quality_matte_is_the_two_model_ensemble(stack: VisionStack) -> None:
    """The cloud matte (selfie + U²-Netp) differs from the fast one, stays in range, and keeps the gate."""
    rgb = load_sample("astronaut")
    faces = stack.detect_faces(rgb)
    fast = stack.matte(rgb, faces)
    high = stack.matte(rgb, faces, quality="high")
    assert fast is not None and high is not None and high.shape == fast.shape and high.dtype == np.float32
    assert high.min() >= 0.0 and high.max() <= 1.0
    x0, y0, x1, y1 = (int(v) for v in faces[0].box)
    assert high[y0:y1, x0:x1].mean() > 0.8, "the face is foreground"
    assert 0.2 < (high > 0.5).mean() < 0.8
    assert np.abs(high - fast).mean() > 0.005, "a second model really took part"
    small = stack.matte(rgb, faces, size=(200, 180), quality="high")
    assert small is not None and small.shape == (180, 200)
    cat = load_sample("chelsea")
    assert stack.matte(cat, stack.detect_faces(cat), quality="high") is None
    with pytest.raises(ValueError, match="fast"):
        stack.matte(rgb, faces, quality="best")
