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


def reference_outputs(reg: ModelRegistry) -> dict[str, np.ndarray]:
    """Key ``model/runtime-precision/sample/output-index`` → sampled values; ``…/sum`` → full sum."""
    out: dict[str, np.ndarray] = {}
    for name in reg.names():
        for f in reg.files(name):
            if f.runtime not in ("onnx", "tflite"):
                continue
            reg.verify(f)
            sess = load_file(f, threads=1)
            for s in SAMPLES:
                res = sess.run(model_input(reg, f, sample(s)))
                for i, spec in enumerate(sess.outputs):
                    values, total = digest(res[spec.name])
                    key = f"{name}/{f.key}/{s}/{i}"
                    out[key] = values
                    out[key + "/sum"] = np.array([total, res[spec.name].size], np.float64)
            sess.close()
    return out


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
