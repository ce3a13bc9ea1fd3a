"""Shared fixtures: the bundled sample photos and a config that writes into a temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgecam.config import Config, load_config

SAMPLES = Path(__file__).resolve().parent.parent / "edgecam" / "samples"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """The embedded default config, writing into tmp_path, replaying fast."""
    c = load_config(environ={})
    c.output.dir = tmp_path / "photos"
    c.outbox.path = tmp_path / "photos" / "outbox.sqlite"
    c.camera.fps = 50
    c.output.min_free_mb = 0
    return c
