from __future__ import annotations

import numpy as np
import pytest

from edgecam.styles.dither import dither


@pytest.mark.parametrize("method", ["floyd_steinberg", "atkinson", "threshold"])
@pytest.mark.parametrize("width", [384, 576])
def test_dither_gives_one_bit_at_printer_width(astronaut: np.ndarray, method: str, width: int) -> None:
    img = dither(astronaut, width, method)  # type: ignore[arg-type]
    assert img.mode == "1" and img.size == (width, width)  # square sample stays square
    assert set(np.unique(np.asarray(img))) <= {False, True}


@pytest.mark.parametrize("method", ["floyd_steinberg", "atkinson"])
def test_error_diffusion_keeps_mid_grey_as_dot_density(method: str) -> None:
    grey = np.full((120, 200, 3), 128, np.uint8)
    bits = np.asarray(dither(grey, 200, method, gamma=1.0))  # type: ignore[arg-type]
    assert abs(bits.mean() - 0.5) < 0.1  # half the dots white, not a solid black or white field
    flat = np.asarray(dither(grey, 200, "threshold", gamma=1.0))
    assert flat.mean() in (0.0, 1.0)


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="allowed: floyd_steinberg"):
        dither(np.zeros((10, 10, 3), np.uint8), 384, "ordered")  # type: ignore[arg-type]
