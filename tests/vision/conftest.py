"""Vision fixtures: the shipped models (real sessions, no mocks) and the bundled sample photos."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecam.config import ModelsConfig, VisionConfig
from edgecam.vision.registry import MANIFEST, ModelRegistry, default_models_dir
from edgecam.vision.stack import VisionStack

SAMPLES = Path(__file__).resolve().parents[2] / "edgecam" / "samples"


def load_sample(name: str) -> np.ndarray:
    bgr = cv2.imread(str(SAMPLES / f"{name}.jpg"), cv2.IMREAD_COLOR)
    assert bgr is not None, name
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.fixture(scope="session")
def models_dir() -> Path:
    d = default_models_dir()
    if not (d / MANIFEST).exists():
        pytest.fail(f"no exported models at {d}: run scripts/export_models.py")
    return d


@pytest.fixture(scope="session")
def registry(models_dir: Path) -> ModelRegistry:
    return ModelRegistry(models_dir)


@pytest.fixture(scope="session")
def stack(models_dir: Path) -> Iterator[VisionStack]:
    s = VisionStack(ModelsConfig(dir=models_dir), VisionConfig()).start()
    yield s
    s.close()


@pytest.fixture
def linked_models(models_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the models folder: manifest copied, model files symlinked (cheap)."""
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(models_dir / MANIFEST, d / MANIFEST)
    for p in models_dir.iterdir():
        if p.name != MANIFEST:
            os.symlink(p, d / p.name)
    return d


def corrupt(models: Path, filename: str) -> None:
    """Replace a symlinked model file by a real copy with one byte flipped."""
    src = (models / filename).resolve()
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / filename).unlink()
    (models / filename).write_bytes(bytes(data))


def manifest(models: Path) -> dict:
    return json.loads((models / MANIFEST).read_text())
