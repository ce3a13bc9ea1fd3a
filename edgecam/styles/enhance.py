"""Automatic exposure help: contrast stretch and low-light lift.

Why "auto" decided from image statistics: a kiosk shoots whatever light the venue has. A flat,
hazy frame needs a stretch; a dark bar needs a lift; a well exposed frame must be left alone,
because stretching it only clips highlights. Every function returns the reasons it acted (or
did not), and the reasons end up in the photo's sidecar so an operator can see why a photo
looks the way it does.

Both corrections are global tone curves applied with :func:`cv2.LUT` (microseconds per pixel
row), and the statistics come from a ≤ 160 px thumbnail, so "auto" costs well under a
millisecond when it decides to do nothing.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edgecam.styles.spec import Enhance

# "auto" thresholds on 0..1 luma. Documented here so the sidecar reasons can quote them.
FLAT_RANGE = 0.70  # 1st..99th percentile span below this → stretch
DARK_MEAN = 0.27  # mean luma below this → low-light lift
LOW_LIGHT_TARGET = 0.42  # the gamma lift aims the mean luma here
MAX_STRETCH_GAIN = 2.2  # never amplify noise more than this


def image_stats(rgb: np.ndarray) -> dict[str, float]:
    """Mean luma, contrast (std) and the 1st/99th luma percentiles, all in 0..1."""
    h, w = rgb.shape[:2]
    scale = min(1.0, 160.0 / max(h, w))
    # Nearest-neighbour subsampling: percentiles and moments of ~19 k sampled pixels are as good
    # as of all of them, and an area resize at a non-integer factor costs ~60x more.
    small = (
        rgb
        if scale >= 1.0
        else cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_NEAREST
        )
    )
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel()
    cdf = np.cumsum(hist) / max(1.0, float(hist.sum()))
    p1 = float(np.searchsorted(cdf, 0.01)) / 255.0
    p99 = float(np.searchsorted(cdf, 0.99)) / 255.0
    mean, std = cv2.meanStdDev(grey)
    return {
        "mean_luma": float(mean[0, 0]) / 255.0,
        "contrast": float(std[0, 0]) / 255.0,
        "p1": p1,
        "p99": p99,
    }


_LEVELS = np.arange(256, dtype=np.float64) / 255.0
_IDENTITY = np.arange(256, dtype=np.uint8)


def _contrast_curve(
    st: dict[str, float], mode: str, keep_blacks: bool = False
) -> tuple[np.ndarray | None, list[str]]:
    """The percentile-stretch LUT for these statistics, or None when "auto" decides against it.

    ``keep_blacks`` stretches only the white point: after a low-light lift, pulling the black
    point back down would undo the lift the guest needed.
    """
    if mode == "off":
        return None, []
    span = st["p99"] - st["p1"]
    if mode == "auto" and span >= FLAT_RANGE:
        return None, []
    lo, hi = st["p1"], st["p99"]
    if hi - lo < 1.0 / MAX_STRETCH_GAIN:  # widen symmetrically to cap the gain
        mid = (hi + lo) / 2.0
        lo, hi = mid - 0.5 / MAX_STRETCH_GAIN, mid + 0.5 / MAX_STRETCH_GAIN
    lo, hi = max(0.0, lo), min(1.0, hi)
    if keep_blacks:
        lo = 0.0
    if hi - lo >= 0.999:
        return None, ([f"auto_contrast ({mode}: range already full)"] if mode == "on" else [])
    lut = np.clip(np.rint((_LEVELS - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)
    why = "on" if mode == "on" else f"auto: luma 1-99% span {span:.2f} < {FLAT_RANGE}"
    return lut, [f"auto_contrast ({why}; stretched {lo:.2f}..{hi:.2f})"]


def _low_light_curve(st: dict[str, float], mode: str) -> tuple[np.ndarray | None, list[str]]:
    """The gamma-lift LUT for these statistics, or None when "auto" decides against it."""
    if mode == "off":
        return None, []
    mean = st["mean_luma"]
    if mode == "auto" and mean >= DARK_MEAN:
        return None, []
    gamma = 0.6 if mean <= 0.0 else math.log(LOW_LIGHT_TARGET) / math.log(max(1e-3, min(mean, 0.999)))
    gamma = min(1.0, max(0.4, gamma))
    lut = np.clip(np.rint(np.power(_LEVELS, gamma) * 255.0), 0, 255).astype(np.uint8)
    why = "on" if mode == "on" else f"auto: mean luma {mean:.2f} < {DARK_MEAN}"
    return lut, [f"low_light ({why}; gamma {gamma:.2f}, chroma denoise)"]


def _mapped_stats(st: dict[str, float], lut: np.ndarray) -> dict[str, float]:
    """Percentiles after a monotone tone curve, without another pass over the image."""
    out = dict(st)
    for k in ("p1", "p99", "mean_luma"):
        out[k] = float(lut[int(round(st[k] * 255))]) / 255.0
    return out


def chroma_denoise(rgb: np.ndarray) -> np.ndarray:
    """Blur colour (not luma) at half resolution: lifted shadows show colour blotches, and edges
    live in luma, so this removes most visible noise for the cost of two colour conversions."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    h, w = ycc.shape[:2]
    half = cv2.resize(ycc, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_LINEAR)
    smooth = cv2.resize(cv2.GaussianBlur(half, (5, 5), 0), (w, h), interpolation=cv2.INTER_LINEAR)
    cv2.mixChannels([ycc], [smooth], [0, 0])  # keep the full-resolution luma
    return cv2.cvtColor(smooth, cv2.COLOR_YCrCb2RGB)


def auto_contrast(rgb: np.ndarray, mode: str = "auto") -> tuple[np.ndarray, list[str]]:
    """Percentile stretch of luma (same curve on R, G, B so hues do not shift)."""
    if mode == "off":
        return rgb, []
    lut, reasons = _contrast_curve(image_stats(rgb), mode)
    return (rgb if lut is None else cv2.LUT(rgb, lut)), reasons


def low_light(rgb: np.ndarray, mode: str = "auto") -> tuple[np.ndarray, list[str]]:
    """Gamma lift towards a mid-grey mean, then a cheap chroma denoise (dark frames are noisy)."""
    if mode == "off":
        return rgb, []
    lut, reasons = _low_light_curve(image_stats(rgb), mode)
    return (rgb if lut is None else chroma_denoise(cv2.LUT(rgb, lut))), reasons


def enhance(rgb: np.ndarray, spec: Enhance) -> tuple[np.ndarray, list[str]]:
    """Low-light lift, then contrast stretch judged on the lifted tones; one LUT pass for both."""
    if spec.low_light == "off" and spec.auto_contrast == "off":
        return rgb, []
    st = image_stats(rgb)
    lift, reasons = _low_light_curve(st, spec.low_light)
    if lift is not None:
        st = _mapped_stats(st, lift)
    stretch, more = _contrast_curve(st, spec.auto_contrast, keep_blacks=lift is not None)
    if lift is None and stretch is None:
        return rgb, reasons + more
    curve = (lift if lift is not None else _IDENTITY)
    if stretch is not None:
        curve = stretch[curve]
    out = cv2.LUT(rgb, curve)
    if lift is not None:
        out = chroma_denoise(out)
    return out, reasons + more
