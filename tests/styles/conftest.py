"""Shared fixtures: the bundled sample photos (real images, not synthetic noise)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "edgecam" / "samples"


def load_sample(name: str) -> np.ndarray:
    bgr = cv2.imread(str(SAMPLES / name), cv2.IMREAD_COLOR)
    assert bgr is not None, name
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return load_sample("astronaut.jpg")


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    return load_sample("coffee.jpg")


@pytest.fixture(scope="session")
def samples() -> dict[str, np.ndarray]:
    return {p.stem: load_sample(p.name) for p in sorted(SAMPLES.glob("*.jpg"))}
