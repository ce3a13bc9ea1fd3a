"""Fast guided filter (He & Sun 2015) with OpenCV box filters.

Why: the segmentation mask comes out at 256×256 and must be upsampled 4–8× to print size; plain
bilinear upsampling gives soft, blocky edges that ignore the photo. A guided filter makes the
alpha follow the photo's edges. The "fast" variant solves the local linear model on a downscaled
guide and only upsamples the coefficients, so the cost at full resolution is one multiply-add
per pixel. ``cv2.ximgproc`` is not in the headless wheel, hence this small implementation.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgecam.vision.preprocess import shrink


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter_gray(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (a, b) of q = a·I + b for a single-channel float32 guide I and source p."""
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, radius), _box(b, radius)


def guided_filter_color(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (a HxWx3, b HxW) for a colour guide: edges between equally bright colours count too."""
    mean_i = _box(guide, radius)  # HxWx3
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src[:, :, None], radius) - mean_i * mean_p[:, :, None]
    # 3x3 covariance of the guide per pixel
    idx = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    prods = np.stack([guide[:, :, i] * guide[:, :, j] for i, j in idx], axis=-1)
    var = _box(prods, radius) - np.stack([mean_i[:, :, i] * mean_i[:, :, j] for i, j in idx], axis=-1)
    rr, rg, rb, gg, gb, bb = (var[:, :, k] for k in range(6))
    rr, gg, bb = rr + eps, gg + eps, bb + eps
    # closed-form inverse of the symmetric 3x3 matrix
    i_rr = gg * bb - gb * gb
    i_rg = gb * rb - rg * bb
    i_rb = rg * gb - gg * rb
    i_gg = rr * bb - rb * rb
    i_gb = rb * rg - rr * gb
    i_bb = rr * gg - rg * rg
    det = rr * i_rr + rg * i_rg + rb * i_rb
    c0, c1, c2 = cov_ip[:, :, 0], cov_ip[:, :, 1], cov_ip[:, :, 2]
    a = np.stack(
        [(i_rr * c0 + i_rg * c1 + i_rb * c2), (i_rg * c0 + i_gg * c1 + i_gb * c2), (i_rb * c0 + i_gb * c1 + i_bb * c2)],
        axis=-1,
    ) / det[:, :, None]
    b = mean_p - (a * mean_i).sum(axis=-1)
    return _box(a, radius), _box(b, radius)


def fast_guided_upsample(
    guide_rgb: np.ndarray,
    alpha_low: np.ndarray,
    out_size: tuple[int, int],
    radius: int = 8,
    eps: float = 1e-4,
    work_long_edge: int = 320,
    color: bool = True,
) -> np.ndarray:
    """Upsample a low-resolution alpha to ``out_size`` (w, h), refined to follow the guide's edges.

    ``radius`` is in output pixels. The filter is solved at ``work_long_edge`` (radius scaled down to
    match), and only the linear
    coefficients are resized to the output size, as in the fast guided filter.
    """
    w, h = out_size
    s = min(1.0, work_long_edge / max(w, h))
    ww, wh = max(8, round(w * s)), max(8, round(h * s))
    g_small = shrink(guide_rgb, (ww, wh)).astype(np.float32) / 255.0
    p_small = cv2.resize(alpha_low.astype(np.float32), (ww, wh), interpolation=cv2.INTER_LINEAR)
    r = max(1, round(radius * s))
    if color:
        g_full = shrink(guide_rgb, (w, h)).astype(np.float32) * (1.0 / 255.0)
        a, b = guided_filter_color(g_small, p_small, r, eps)
        a_up = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
        q = (a_up * g_full).sum(axis=-1) + cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        gray_small = cv2.cvtColor(g_small, cv2.COLOR_RGB2GRAY)
        a, b = guided_filter_gray(gray_small, p_small, r, eps)
        # full-resolution work stays in uint8 until one multiply: q = (a/255)·gray + b
        gray = shrink(cv2.cvtColor(guide_rgb, cv2.COLOR_RGB2GRAY), (w, h))
        a_up = cv2.resize(a * (1.0 / 255.0), (w, h), interpolation=cv2.INTER_LINEAR)
        q = cv2.multiply(gray, a_up, dtype=cv2.CV_32F)
        q += cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(q, 0.0, 1.0, out=q)
