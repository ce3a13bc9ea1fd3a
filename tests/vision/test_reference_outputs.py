"""Every shipped model, on both runtimes where present, still produces the recorded outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edgecam.vision.registry import ModelRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_reference_outputs import reference_outputs  # type: ignore[import-not-found]  # noqa: E402

REFS = Path(__file__).with_name("reference_outputs.npz")


@pytest.fixture(scope="module")
def current(registry: ModelRegistry) -> dict[str, np.ndarray]:
    return reference_outputs(registry)


def test_same_set_of_outputs(current: dict[str, np.ndarray]) -> None:
    refs = np.load(REFS)
    assert sorted(refs.files) == sorted(current), "model set changed: re-run scripts/make_reference_outputs.py"


def test_outputs_match_reference(current: dict[str, np.ndarray]) -> None:
    refs = np.load(REFS)
    problems = []
    for key in refs.files:
        if key.endswith("/sum") or key not in current:
            continue
        ref, got = refs[key].astype(np.float64), current[key].astype(np.float64)
        scale = max(1.0, float(np.abs(ref).max()))
        # fp32 kernels agree to ~1e-5 across runs; int8 may round differently on another CPU
        atol = 2e-2 * scale if "int8" in key else 1e-4 * scale
        err = float(np.abs(ref - got).max())
        if err > atol:
            problems.append(f"{key}: max abs diff {err:.3g} > {atol:.3g}")
        s_ref, s_got = refs[key + "/sum"], current[key + "/sum"]
        assert s_ref[1] == s_got[1], f"{key}: output size changed"
    assert not problems, "\n".join(problems)
