"""OpenCV camera: V4L2 devices, video files, and GStreamer pipelines (Jetson CSI cameras).

Why OpenCV for all three: it is already a dependency, it speaks V4L2 on a Pi/USB webcam and,
built with GStreamer (JetPack's OpenCV is), it opens an ``nvarguscamerasrc … ! appsink``
pipeline string directly.
"""

from __future__ import annotations

import time

import cv2

from edgecam.camera.base import Frame
from edgecam.errors import CameraError


class OpenCVCamera:
    def __init__(self, source: str, width: int | None = None, height: int | None = None) -> None:
        self.source = source
        self.width = width
        self.height = height
        self.name = f"opencv:{source}"
        self._cap: cv2.VideoCapture | None = None
        self._index = 0

    def _open_capture(self) -> cv2.VideoCapture:
        src = self.source
        if src.isdigit():
            return cv2.VideoCapture(int(src), cv2.CAP_V4L2)
        if "!" in src:  # a GStreamer pipeline string
            return cv2.VideoCapture(src, cv2.CAP_GSTREAMER)
        return cv2.VideoCapture(src)

    def open(self) -> None:
        cap = self._open_capture()
        if not cap.isOpened():
            hint = (
                "is OpenCV built with GStreamer? (cv2.getBuildInformation())"
                if "!" in self.source
                else "check the device exists (ls /dev/video*) and that the service user is in group 'video'"
            )
            raise CameraError(f"camera.source {self.source!r}: cannot open; {hint}")
        if self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise CameraError(f"{self.name}: read before open")
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self._index, time.time(), self.name)
        self._index += 1
        return frame

    def still(self) -> Frame | None:
        return None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
