"""The camera interface every backend implements, and the frame it delivers.

Why a small protocol: the capture loop, the watchdog and the shot pipeline are the same for a Pi
camera module, a USB webcam, a Jetson CSI sensor and a folder of photos; only ``open``/``read``
/``still``/``close`` differ. Backends return RGB uint8 arrays so nothing downstream cares about
BGR vs RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One RGB uint8 frame. ``encoded`` holds the source JPEG bytes when the frame came from a
    JPEG file, so the original can be archived without a lossy re-encode."""

    image: np.ndarray
    index: int
    ts: float
    source: str = ""
    encoded: bytes | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


class Camera(Protocol):
    """A source of frames. ``read`` may block for up to one frame interval."""

    name: str

    def open(self) -> None:
        """Acquire the device; raise CameraError with a fix-it hint when it cannot be opened."""

    def read(self) -> Frame | None:
        """The next preview frame, or None at the end of a finite source."""

    def still(self) -> Frame | None:
        """A full-resolution still for the shot (backends without a separate still mode return None
        and the pipeline uses the latest preview frame, which is then already full resolution)."""

    def close(self) -> None:
        """Release the device; must be safe to call twice."""


def orient(image: np.ndarray, rotate: int, mirror: bool) -> np.ndarray:
    """Apply the configured mounting rotation and mirroring (a kiosk camera is often sideways)."""
    import cv2

    if rotate == 90:
        image = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    elif rotate == 180:
        image = cv2.rotate(image, cv2.ROTATE_180)
    elif rotate == 270:
        image = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if mirror:
        image = cv2.flip(image, 1)
    return image
