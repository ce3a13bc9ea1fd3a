"""Portrait matting (MediaPipe selfie segmentation + guided refinement) and product cut-outs (U²-Netp).

Why these choices (measured, see BENCHMARKS.md / design notes §2):
- the selfie model sees the whole frame squashed to 256×256; that beats an aspect-preserving
  letterbox because the person keeps more input pixels;
- it fires on cats and coffee cups, so portrait matting runs only when a face was found;
- the 256×256 mask is upsampled with a fast guided filter so edges follow the photo at print size;
  a second pass on the person crop and a colour guide were measured and gave nothing (BENCHMARKS.md).
U²-Netp is ~100× slower, so it is used only for the explicit product mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edgecam.imageops import shrink_for_model
from edgecam.vision.guided import fast_guided_upsample
from edgecam.vision.runtime import Session
from edgecam.vision.types import Face

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _nhwc(session: Session) -> tuple[bool, int, int]:
    """(channels_last, height, width) of a single-image model input."""
    shape = session.inputs[0].shape
    if shape[-1] == 3:
        return True, int(shape[1] or 256), int(shape[2] or 256)
    return False, int(shape[2] or 320), int(shape[3] or 320)


class PortraitMatter:
    """Soft person alpha from a selfie-segmentation session."""

    def __init__(
        self,
        session: Session,
        refine: str = "guided",
        radius: int = 4,
        eps: float = 1e-3,
        flip_average: bool = False,
        work_long_edge: int = 320,
    ) -> None:
        self.session = session
        self.refine = refine
        self.radius, self.eps = radius, eps
        self.flip_average = flip_average
        self.work_long_edge = work_long_edge
        self._nhwc, self._h, self._w = _nhwc(session)

    def _run(self, small: np.ndarray) -> np.ndarray:
        x = small.astype(np.float32)
        x *= np.float32(1.0 / 255.0)
        x = x[None] if self._nhwc else x.transpose(2, 0, 1)[None]
        out = next(iter(self.session.run(x).values()))
        return out.reshape(self._h, self._w).astype(np.float32)

    def probability(self, rgb: np.ndarray, flip: bool | None = None) -> np.ndarray:
        """Person probability at the model's resolution (the image squashed to e.g. 256×256).

        ``flip`` (default: the ``flip_average`` setting) also runs the mirror image and averages.
        """
        small = shrink_for_model(rgb, (self._w, self._h))
        prob = self._run(small)
        if self.flip_average if flip is None else flip:
            prob = 0.5 * (prob + self._run(np.ascontiguousarray(small[:, ::-1]))[:, ::-1])
        return prob

    def matte(self, rgb: np.ndarray, faces: Sequence[Face], size: tuple[int, int] | None = None) -> np.ndarray:
        """Alpha (float32 0..1) at ``size`` (w, h; default the image's size). The face gate is the caller's."""
        h, w = rgb.shape[:2]
        out_w, out_h = size or (w, h)
        prob = self.probability(rgb)
        if self.refine == "none":
            up = cv2.resize(prob, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
            return np.clip(up, 0.0, 1.0, out=up)
        return fast_guided_upsample(
            rgb, prob, (out_w, out_h), self.radius, self.eps, work_long_edge=self.work_long_edge, color=False
        )


class ProductCutter:
    """Salient-object alpha from U²-Netp (320×320, ImageNet mean/std, min-max normalised output)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._nhwc, self._h, self._w = _nhwc(session)

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        """Saliency at the model's resolution (the image squashed to 320×320), min-max scaled to 0..1."""
        small = shrink_for_model(rgb, (self._w, self._h)).astype(np.float32) / 255.0
        x = (small - IMAGENET_MEAN) / IMAGENET_STD
        x = x[None] if self._nhwc else x.transpose(2, 0, 1)[None]
        outs = self.session.run(np.ascontiguousarray(x, np.float32))
        d = outs[self.session.outputs[0].name].reshape(self._h, self._w).astype(np.float32)
        lo, hi = float(d.min()), float(d.max())
        return (d - lo) / (hi - lo) if hi - lo > 1e-6 else np.zeros_like(d)

    def cutout(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        return np.clip(cv2.resize(self.probability(rgb), (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


class EnsembleMatter:
    """The heavy portrait matte for the cloud ``matte_refine`` job: selfie model (with its mirror) + U²-Netp.

    Why this combination (scripts/eval_matting.py on person-dev, chosen on hashed half 0, checked
    on half 1): the selfie model is good at the body's extent, U²-Netp at its outline; their
    plain average beats either alone (all 55 photos: IoU 0.851 / boundary F 0.692 against 0.830 /
    0.657 for the on-device matte). It costs ~0.7 s a photo, which a worker can afford and a
    shot cannot. A guided filter on top lowered boundary F on half 0, so the average is upsampled
    bilinearly. Gated on a face like the fast matte (VisionStack.matte): U²-Netp cuts out whatever is
    salient, person or not.
    """

    def __init__(self, portrait: PortraitMatter, salient: ProductCutter) -> None:
        self.portrait = portrait
        self.salient = salient

    def matte(self, rgb: np.ndarray, faces: Sequence[Face], size: tuple[int, int] | None = None) -> np.ndarray:
        """Alpha (float32 0..1) at ``size`` (w, h; default the image's size). The face gate is the caller's."""
        h, w = rgb.shape[:2]
        out_w, out_h = size or (w, h)
        selfie = self.portrait.probability(rgb, flip=True)
        salient = self.salient.probability(rgb)
        alpha = cv2.resize(selfie, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        alpha += cv2.resize(salient, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        alpha *= np.float32(0.5)
        return np.clip(alpha, 0.0, 1.0, out=alpha)


def studio_composite(
    rgb: np.ndarray,
    alpha: np.ndarray,
    bg_colour: tuple[int, int, int] = (245, 245, 245),
    shadow_offset: tuple[float, float] = (0.015, 0.025),
    shadow_blur: float = 0.03,
    shadow_strength: float = 0.35,
) -> np.ndarray:
    """The cut-out on a plain background with a soft drop shadow (offsets/blur as fractions of the long edge).

    Why a shadow: a hard cut-out on a flat colour looks pasted; a blurred, offset copy of the
    alpha darkening the background grounds the object like a studio sweep.
    """
    h, w = rgb.shape[:2]
    if alpha.shape != (h, w):
        alpha = cv2.resize(alpha.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    a = np.clip(alpha.astype(np.float32), 0, 1)
    long_edge = max(h, w)
    dx, dy = shadow_offset[0] * long_edge, shadow_offset[1] * long_edge
    shifted = cv2.warpAffine(a, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderValue=0)
    k = max(3, int(shadow_blur * long_edge) | 1)
    shadow = cv2.GaussianBlur(shifted, (k, k), 0) * shadow_strength
    bg = np.empty((h, w, 3), np.float32)
    bg[:] = np.asarray(bg_colour, np.float32)
    bg *= (1.0 - shadow)[:, :, None]
    out = rgb.astype(np.float32) * a[:, :, None] + bg * (1.0 - a)[:, :, None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
