"""pytest fixtures for the output tests (helpers live in cupskit.py so test modules can import them)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cupskit import CupsServer  # noqa: E402


@pytest.fixture(scope="module")
def cups() -> Iterator[CupsServer]:
    """A private cupsd on a loopback port for one test module (its folder is removed afterwards)."""
    server = CupsServer().start()
    try:
        yield server
    finally:
        server.stop()
