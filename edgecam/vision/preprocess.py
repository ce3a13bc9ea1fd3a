"""Apply a manifest ``preprocess`` spec: colour order, resize, ``pixel*scale+offset``, mean/std, layout.

Why from the manifest: the export script records exactly how each model was calibrated and
verified; reading the numbers from there (instead of copying constants) keeps the runtime and the
export in step when a model is re-exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgecam.imageops import shrink_for_model


def prepare(rgb: np.ndarray, spec: Mapping[str, Any], layout: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 image → float32 batch of one, per ``spec``; ``size`` (w, h) overrides spec['resize']."""
    img = rgb[:, :, ::-1] if str(spec.get("color", "RGB")).upper() == "BGR" else rgb
    target = size or (tuple(spec["resize"]) if spec.get("resize") else None)
    if target is not None and (img.shape[1], img.shape[0]) != tuple(target):
        img = shrink_for_model(img, (int(target[0]), int(target[1])))
    x = img.astype(np.float32) * np.float32(spec.get("scale", 1.0)) + np.float32(spec.get("offset", 0.0))
    if spec.get("mean") is not None:
        x -= np.asarray(spec["mean"], np.float32)
    if spec.get("std") is not None:
        x /= np.asarray(spec["std"], np.float32)
    if layout.upper() == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None], dtype=np.float32)
