"""Normalise whatever a camera or a file hands us into the one format the models expect.

Why a single normaliser: cameras deliver 8-bit RGB, RGBA previews, grayscale IR sensors and 16-bit
stills; every vision stage assumes contiguous HxWx3 uint8 RGB. Doing the conversion and the size
limits in one place keeps each stage simple and gives the operator one clear error message.
"""

from __future__ import annotations

import numpy as np

from edgecam.errors import InputImageError

MIN_SIDE = 64
MAX_PIXELS = 50_000_000


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Return a contiguous HxWx3 uint8 RGB copy-or-view of ``image``.

    Accepts HxW (gray), HxWx1, HxWx3 (RGB), HxWx4 (RGBA, alpha dropped), in uint8, uint16 (scaled by
    1/257), bool, or float (assumed 0..1 and clipped). Raises InputImageError for anything else and for
    images smaller than 64 px on a side or larger than 50 megapixels.
    """
    if not isinstance(image, np.ndarray):
        raise InputImageError(f"expected a numpy array, got {type(image).__name__}")
    a = image
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise InputImageError(f"expected HxW, HxWx1, HxWx3 or HxWx4 image, got shape {image.shape}")
    h, w = a.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputImageError(f"image {w}x{h} is too small: each side must be at least {MIN_SIDE} px")
    if h * w > MAX_PIXELS:
        raise InputImageError(f"image {w}x{h} has {h * w / 1e6:.1f} MP; at most {MAX_PIXELS / 1e6:.0f} MP allowed")
    if a.dtype == np.uint8:
        pass
    elif a.dtype == np.uint16:
        a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise InputImageError("float image contains NaN or infinite values")
        a = np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
    else:
        raise InputImageError(f"unsupported pixel type {a.dtype}; use uint8, uint16, bool or float in 0..1")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)
