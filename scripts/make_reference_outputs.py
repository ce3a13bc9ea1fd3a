#!/usr/bin/env python3
"""Write tests/vision/reference_outputs.npz: every shipped model's outputs on bundled sample photos.

Usage: scripts/make_reference_outputs.py [--models-dir DIR] [--out FILE]

Why: a re-export, a runtime upgrade or a preprocessing change that shifts model outputs must show
up as a failing test, not as slightly worse photos. Inputs are built deterministically from
edgecam/samples with each model's manifest preprocessing; each output is stored as up to 4096
evenly spaced values plus its full sum (keeps the file small). Re-run this only when a change in
outputs is intended, and say why in the commit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgecam.vision.preprocess import prepare  # noqa: E402
from edgecam.vision.registry import ModelFile, ModelRegistry  # noqa: E402
from edgecam.vision.runtime import load_file  # noqa: E402

SAMPLES = ("astronaut", "coffee")
DYNAMIC_SIZE = (256, 192)  # (w, h) for models with dynamic spatial input (text detector)
MAX_VALUES = 4096


def sample(name: str) -> np.ndarray:
    bgr = cv2.imread(str(ROOT / "edgecam" / "samples" / f"{name}.jpg"), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def model_input(reg: ModelRegistry, f: ModelFile, rgb: np.ndarray) -> np.ndarray:
    spec = reg.preprocess(f.model)
    size = None if spec.get("resize") else DYNAMIC_SIZE
    return prepare(rgb, spec, reg.layout(f), size=size)


def digest(a: np.ndarray) -> tuple[np.ndarray, float]:
    flat = a.astype(np.float64).ravel()
    idx = np.linspace(0, flat.size - 1, min(flat.size, MAX_VALUES)).astype(np.int64)
    return flat[idx].astype(np.float32), float(flat.sum())


def model_inputs(reg: ModelRegistry) -> dict[str, np.ndarray]:
    """Key ``model/runtime-precision/sample`` → the input ``reference_outputs`` feeds that model file."""
    return {f"{name}/{f.key}/{s}": model_input(reg, f, sample(s))
            for name in reg.names() for f in reg.files(name) if f.runtime in ("onnx", "tflite") for s in SAMPLES}


def reference_outputs(reg: ModelRegistry, inputs: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Key ``model/runtime-precision/sample/output-index`` → sampled values; ``…/sum`` → full sum.

    ``inputs`` (as from ``model_inputs``, e.g. prepared on another machine) replaces the preprocessing
    here, so that only the models and their runtime are compared.
    """
    out: dict[str, np.ndarray] = {}
    for name in reg.names():
        for f in reg.files(name):
            if f.runtime not in ("onnx", "tflite"):
                continue
            reg.verify(f)
            sess = load_file(f, threads=1)
            for s in SAMPLES:
                key = f"{name}/{f.key}/{s}"
                res = sess.run(inputs[key] if inputs is not None else model_input(reg, f, sample(s)))
                for i, spec in enumerate(sess.outputs):
                    values, total = digest(res[spec.name])
                    out[f"{key}/{i}"] = values
                    out[f"{key}/{i}/sum"] = np.array([total, res[spec.name].size], np.float64)
            sess.close()
    return out


def tolerance(key: str, ref: np.ndarray) -> float:
    """Largest allowed max-abs difference for one sampled output (``key`` as in ``reference_outputs``)."""
    scale = max(1.0, float(np.abs(ref.astype(np.float64)).max()))
    # fp32 kernels agree within this between x86 and aarch64 (scripts/arm64_proof.sh). ONNX Runtime
    # picks int8 kernels by CPU features: one emulated aarch64 run differed by 0.144 (4.8e-2 of the
    # scale) on identical inputs, another by 7e-7, so int8 gets room for a board's own kernels
    return 1e-1 * scale if "int8" in key else 1e-4 * scale


def compare(refs: Mapping[str, np.ndarray], current: Mapping[str, np.ndarray]) -> tuple[list[str], dict[str, float]]:
    """Check ``current`` against ``refs`` (both as from ``reference_outputs``) output by output.

    Returns the problems (a difference over ``tolerance``, or a changed output size) and the max abs
    difference per output key. Keys missing from ``current`` are skipped: compare the key sets apart.
    """
    problems: list[str] = []
    diffs: dict[str, float] = {}
    for key in refs:
        if key.endswith("/sum") or key not in current:
            continue
        ref, got = refs[key].astype(np.float64), current[key].astype(np.float64)
        atol = tolerance(key, ref)
        err = float(np.abs(ref - got).max())
        diffs[key] = err
        if err > atol:
            problems.append(f"{key}: max abs diff {err:.3g} > {atol:.3g}")
        if refs[key + "/sum"][1] != current[key + "/sum"][1]:
            problems.append(f"{key}: output size changed")
    return problems, diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "vision" / "reference_outputs.npz")
    args = ap.parse_args(argv)
    reg = ModelRegistry(args.models_dir)
    refs = reference_outputs(reg)
    np.savez_compressed(args.out, **refs)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(refs) // 2} outputs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
