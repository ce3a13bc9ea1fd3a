"""Every shipped model, on both runtimes where present, still produces the recorded outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edgecam.vision.registry import ModelRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_reference_outputs import compare, reference_outputs  # type: ignore[import-not-found]  # noqa: E402

REFS = Path(__file__).with_name("reference_outputs.npz")


@pytest.fixture(scope="module")
def current(registry: ModelRegistry) -> dict[str, np.ndarray]:
    return reference_outputs(registry)


def test_same_set_of_outputs(current: dict[str, np.ndarray]) -> None:
    refs = np.load(REFS)
    assert sorted(refs.files) == sorted(current), "model set changed: re-run scripts/make_reference_outputs.py"


def test_outputs_match_reference(current: dict[str, np.ndarray]) -> None:
    problems, _ = compare(np.load(REFS), current)
    assert not problems, "\n".join(problems)
