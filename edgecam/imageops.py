"""Fast downscaling, in the two flavours the product needs.

Why two: OpenCV's INTER_AREA is the right filter for shrinking photos (no aliasing), but its
generic path costs ~30 ms on a 12 MP frame on a 2-core board. ``shrink`` (photos: the analysis
image and the print-size area) splits the reduction into OpenCV's ~3x faster integer-factor area
path plus a small area step. ``shrink_for_model`` (model inputs of 128–320 px) goes bilinear to 2x
the target and area-averages the last 2x, which is cheaper still and as good for a network input;
the exported models' reference outputs and the scene head were produced with it, so a change
here means regenerating tests/vision/reference_outputs.npz and re-checking the scene head.
"""

from __future__ import annotations

import cv2
import numpy as np


def shrink(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``img`` to ``size`` (w, h); downscales use area filtering, upscales bilinear."""
    h, w = img.shape[:2]
    tw, th = size
    if (w, h) == (tw, th):
        return img
    k = min(w // tw, h // th)
    if k >= 2:
        img = cv2.resize(img[: (h // k) * k, : (w // k) * k], (w // k, h // k), interpolation=cv2.INTER_AREA)
        h, w = img.shape[:2]
        if (w, h) == (tw, th):
            return img
    interp = cv2.INTER_AREA if (w > tw or h > th) else cv2.INTER_LINEAR
    return cv2.resize(img, (tw, th), interpolation=interp)


def shrink_long_edge(img: np.ndarray, long_edge: int) -> tuple[np.ndarray, float, float]:
    """Shrink so the long edge is ``long_edge`` (never enlarge); returns (image, sx, sy) scale factors."""
    h, w = img.shape[:2]
    scale = long_edge / max(h, w)
    if scale >= 1.0:
        return img, 1.0, 1.0
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    return shrink(img, (tw, th)), tw / w, th / h


def shrink_for_model(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (w, h); large downscales go bilinear to 2× the target, then area-average.

    Why: OpenCV's INTER_AREA takes ~10 ms for 1080p → 256 here (non-integer factors take a slow
    path), while bilinear-to-2× + an exact 2× area step is ~1 ms and, for model inputs, as good: each
    output pixel still averages 4 bilinear samples, so fine detail does not alias into noise.

    Why INTER_LINEAR_EXACT for uint8: OpenCV's plain bilinear takes a different SIMD path on
    aarch64 (KleidiCV/carotene) and rounds 12–35 % of pixels one grey level differently, so the
    same photo gave the models different inputs on a Pi than on x86 (scripts/arm64_proof.sh found
    face-box offsets of several pixels and mask differences of 0.1). The bit-exact variant gives
    identical inputs on every CPU for ~+0.4 ms per 256² input; INTER_AREA already is exact.
    """
    w, h = int(size[0]), int(size[1])
    ih, iw = img.shape[:2]
    if (iw, ih) == (w, h):
        return img
    bilinear = cv2.INTER_LINEAR_EXACT if img.dtype == np.uint8 else cv2.INTER_LINEAR
    if iw <= 2 * w or ih <= 2 * h:
        # up to 2× down, bilinear already touches every source pixel
        return cv2.resize(img, (w, h), interpolation=bilinear)
    img = cv2.resize(img, (2 * w, 2 * h), interpolation=bilinear)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
