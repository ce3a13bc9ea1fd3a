from __future__ import annotations

import numpy as np
import pytest

from edgecam.errors import InputImageError
from edgecam.vision.imageio import to_rgb8


def test_rgb8_passes_through_unchanged() -> None:
    img = np.random.default_rng(0).integers(0, 256, (80, 90, 3), dtype=np.uint8)
    out = to_rgb8(img)
    assert out.dtype == np.uint8 and out.shape == (80, 90, 3)
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("shape", [(70, 64), (70, 64, 1)])
def test_grayscale_becomes_three_equal_channels(shape: tuple[int, ...]) -> None:
    img = np.full(shape, 77, np.uint8)
    out = to_rgb8(img)
    assert out.shape == (70, 64, 3)
    assert (out == 77).all()


def test_rgba_drops_alpha() -> None:
    img = np.zeros((64, 64, 4), np.uint8)
    img[..., 0], img[..., 3] = 200, 10
    out = to_rgb8(img)
    assert out.shape == (64, 64, 3) and (out[..., 0] == 200).all() and (out[..., 1:] == 0).all()


def test_16_bit_is_scaled_to_8_bit() -> None:
    img = np.full((64, 64, 3), 65535, np.uint16)
    img[0, 0] = 0
    img[0, 1] = 257 * 100
    out = to_rgb8(img)
    assert out.dtype == np.uint8
    assert out[5, 5, 0] == 255 and out[0, 0, 0] == 0 and out[0, 1, 0] == 100


def test_float_in_unit_range_is_scaled_and_clipped() -> None:
    img = np.full((64, 64, 3), 0.5, np.float32)
    img[0, 0] = 2.0
    out = to_rgb8(img)
    assert out[1, 1, 0] == 128 and out[0, 0, 0] == 255


@pytest.mark.parametrize("shape", [(63, 500, 3), (500, 10)])
def test_too_small_is_refused_with_the_size(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputImageError, match="too small"):
        to_rgb8(np.zeros(shape, np.uint8))


def test_more_than_50_megapixels_is_refused() -> None:
    with pytest.raises(InputImageError, match="MP"):
        to_rgb8(np.zeros((5001, 10001), np.uint8))


@pytest.mark.parametrize("bad", [np.zeros((64, 64, 2), np.uint8), np.zeros((64, 64, 3), np.int64)])
def test_unsupported_layouts_and_types_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(InputImageError):
        to_rgb8(bad)


def test_non_array_is_refused() -> None:
    with pytest.raises(InputImageError, match="numpy"):
        to_rgb8([[1, 2, 3]])  # type: ignore[arg-type]
