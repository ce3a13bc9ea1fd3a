"""Raspberry Pi camera module through picamera2 (imported lazily: it exists only on a Pi).

Why two streams: recognition runs on the small ``lores`` preview stream every frame, while a shot
grabs the full-resolution ``main`` stream once, so the preview never carries 12 MP frames.
Install on Raspberry Pi OS with ``sudo apt install python3-picamera2`` and create the venv with
``--system-site-packages`` (libcamera's bindings are not on PyPI), or ``pip install edgecam[pi]``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import cv2
import numpy as np

from edgecam.camera.base import Frame
from edgecam.errors import CameraError


class Picamera2Camera:
    def __init__(self, preview_size: tuple[int, int] = (640, 480), still_size: tuple[int, int] | None = None,
                 camera_num: int = 0) -> None:
        self.preview_size = preview_size
        self.still_size = still_size
        self.camera_num = camera_num
        self.name = f"picamera2:{camera_num}"
        self._cam: Any = None
        self._lock = threading.Lock()
        self._index = 0

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as e:
            raise CameraError(
                "camera.kind picamera2 needs picamera2: on Raspberry Pi OS run 'sudo apt install python3-picamera2' "
                "and create the venv with --system-site-packages"
            ) from e
        try:
            cam = Picamera2(self.camera_num)
            main_size = self.still_size or cam.sensor_resolution
            config = cam.create_still_configuration(
                main={"size": tuple(main_size), "format": "RGB888"},
                lores={"size": tuple(self.preview_size), "format": "YUV420"},
                buffer_count=2,
            )
            cam.configure(config)
            cam.start()
        except Exception as e:  # libcamera raises a variety of RuntimeErrors
            raise CameraError(f"picamera2: cannot start camera {self.camera_num}: {e}") from e
        self._cam = cam

    def read(self) -> Frame | None:
        with self._lock:
            if self._cam is None:
                raise CameraError(f"{self.name}: read before open")
            yuv = self._cam.capture_array("lores")
        rgb = cv2.cvtColor(np.ascontiguousarray(yuv), cv2.COLOR_YUV420p2RGB)
        frame = Frame(rgb, self._index, time.time(), self.name)
        self._index += 1
        return frame

    def still(self) -> Frame | None:
        with self._lock:
            if self._cam is None:
                return None
            # "RGB888" in libcamera is BGR byte order in memory.
            bgr = self._cam.capture_array("main")
        return Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self._index, time.time(), self.name)

    def close(self) -> None:
        with self._lock:
            if self._cam is not None:
                try:
                    self._cam.stop()
                    self._cam.close()
                finally:
                    self._cam = None
