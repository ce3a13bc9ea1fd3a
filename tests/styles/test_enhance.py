from __future__ import annotations

import numpy as np

from edgecam.styles.enhance import DARK_MEAN, FLAT_RANGE, auto_contrast, enhance, image_stats, low_light
from edgecam.styles.spec import Enhance


def test_dark_photo_gets_lifted_in_auto_mode(astronaut: np.ndarray) -> None:
    dark = (astronaut.astype(np.float32) * 0.25).astype(np.uint8)
    assert image_stats(dark)["mean_luma"] < DARK_MEAN
    out, reasons = low_light(dark, "auto")
    assert len(reasons) == 1 and reasons[0].startswith("low_light (auto: mean luma")
    assert image_stats(out)["mean_luma"] > image_stats(dark)["mean_luma"] + 0.1


def test_well_exposed_photo_is_left_alone_in_auto_mode(astronaut: np.ndarray) -> None:
    out, reasons = enhance(astronaut, Enhance())
    assert out is astronaut and reasons == []


def test_flat_photo_gets_stretched(coffee: np.ndarray) -> None:
    flat = (coffee.astype(np.float32) * 0.4 + 90).astype(np.uint8)
    st = image_stats(flat)
    assert st["p99"] - st["p1"] < FLAT_RANGE
    out, reasons = auto_contrast(flat, "auto")
    assert reasons and "auto_contrast" in reasons[0]
    st2 = image_stats(out)
    assert st2["p99"] - st2["p1"] > st["p99"] - st["p1"] + 0.2


def test_off_never_changes_and_on_always_reports(coffee: np.ndarray) -> None:
    dark = (coffee // 5).astype(np.uint8)
    out, reasons = enhance(dark, Enhance(auto_contrast="off", low_light="off"))
    assert out is dark and reasons == []
    _, reasons = low_light(coffee, "on")
    assert reasons and reasons[0].startswith("low_light (on")


def test_contrast_after_a_lift_keeps_the_lifted_shadows(astronaut: np.ndarray) -> None:
    dark = (astronaut.astype(np.float32) * 0.25).astype(np.uint8)
    lifted, _ = low_light(dark, "on")
    both, reasons = enhance(dark, Enhance(low_light="on", auto_contrast="on"))
    assert [r.split(" ")[0] for r in reasons] == ["low_light", "auto_contrast"]
    assert image_stats(both)["mean_luma"] >= image_stats(lifted)["mean_luma"] - 0.01
