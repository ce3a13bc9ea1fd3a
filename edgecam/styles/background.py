"""Background treatment behind a matted subject: keep, blur, solid colour or a replacement image.

Why normalised (alpha-weighted) blur: a plain Gaussian blur of the whole frame smears the subject
into the background, which shows as a bright or dark halo around hair and shoulders after
compositing. Blurring ``image × (1 − alpha)`` and dividing by the blurred ``(1 − alpha)`` averages
only background pixels, so the blurred background near the subject is made of background.

The blur runs at reduced resolution (down by ~sigma/4, blur, up): a σ≈13 px Gaussian at print
size would cost ~10× more and look the same, since the result is smooth by construction.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from edgecam.errors import InputImageError
from edgecam.styles.spec import Background

REFERENCE_SHORT_EDGE = 500.0  # blur_sigma is in pixels at this short edge; scaled for other sizes


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


@lru_cache(maxsize=8)
def load_replacement(path: str) -> np.ndarray:
    """Read a replacement background once (RGB uint8); kiosks reuse the same few files."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputImageError(f"{path}: cannot read the background image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@lru_cache(maxsize=8)
def solid(w: int, h: int, colour: tuple[int, int, int]) -> np.ndarray:
    """A cached plain-colour image (read-only)."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = colour
    img.setflags(write=False)
    return img


def cover_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover ``size`` (w, h) and centre-crop: no letterbox bars, no distortion."""
    w, h = size
    ih, iw = img.shape[:2]
    s = max(w / iw, h / ih)
    nw, nh = max(w, round(iw * s)), max(h, round(ih * s))
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    r = cv2.resize(img, (nw, nh), interpolation=interp)
    x0, y0 = (nw - w) // 2, (nh - h) // 2
    return np.ascontiguousarray(r[y0 : y0 + h, x0 : x0 + w])


def blurred_background(rgb: np.ndarray, alpha: np.ndarray, sigma_px: float) -> np.ndarray:
    """Background-only blur (normalised convolution with weight 1 − alpha), RGB uint8.

    The premultiplication is done after the area downscale (average of products ≈ product of
    averages over an f×f block, f ≈ σ/4): the error lives at a scale the blur erases anyway, and
    it avoids three full-resolution float passes.
    """
    h, w = rgb.shape[:2]
    f = max(1, int(sigma_px // 4))
    small = (max(1, w // f), max(1, h // f))
    # A small floor weight makes the result fall back to a plain blur deep inside the subject,
    # where it is invisible anyway (alpha ≈ 1), instead of dividing by zero.
    wgt_s = cv2.resize(1.0 - alpha, small, interpolation=cv2.INTER_AREA) + 1e-3
    # Linear (not area) downscale of the colour image: ~10x cheaper, and its aliasing is averaged
    # away by the σ/f blur that follows.
    rgb_s = cv2.resize(rgb, small, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    s_sigma = sigma_px / f
    prem_s = cv2.GaussianBlur(rgb_s * wgt_s[..., None], (0, 0), s_sigma)
    norm_s = cv2.GaussianBlur(wgt_s, (0, 0), s_sigma)
    bg_s = np.clip(prem_s / norm_s[..., None] + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(bg_s, (w, h), interpolation=cv2.INTER_LINEAR)


def composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``fg·alpha + bg·(1 − alpha)`` computed in float (by OpenCV, one threaded pass), uint8 out."""
    return cv2.blendLinear(fg, bg, alpha, 1.0 - alpha)


def apply_background(
    rgb: np.ndarray, alpha: np.ndarray | None, spec: Background, base_dir: Path | None = None
) -> tuple[np.ndarray, list[str]]:
    """Treat the background of ``rgb`` (RGB uint8) given the subject's soft ``alpha`` (HxW 0..1)."""
    if spec.mode == "keep":
        return rgb, []
    if alpha is None:
        return rgb, [f"background {spec.mode} skipped: no subject matte"]
    h, w = rgb.shape[:2]
    if alpha.shape != (h, w):
        raise ValueError(f"alpha shape {alpha.shape} does not match the image {(h, w)}")
    alpha = np.clip(alpha.astype(np.float32, copy=False), 0.0, 1.0)
    if spec.mode == "blur":
        sigma_px = spec.blur_sigma * min(h, w) / REFERENCE_SHORT_EDGE
        bg = blurred_background(rgb, alpha, sigma_px)
        return composite(rgb, bg, alpha), [f"background blur (sigma {sigma_px:.1f} px)"]
    if spec.mode == "colour":
        bg = solid(w, h, hex_to_rgb(spec.colour))
        return composite(rgb, bg, alpha), [f"background colour {spec.colour}"]
    # image
    if spec.image is None:
        return rgb, ["background image skipped: no background.image set"]
    path = spec.image if spec.image.is_absolute() or base_dir is None else base_dir / spec.image
    bg_img = cover_resize(load_replacement(str(path)), (w, h))
    return composite(rgb, bg_img, alpha), [f"background image {path.name}"]
