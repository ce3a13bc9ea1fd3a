"""The hardware backends as far as this machine has hardware: OpenCV on a video file (the same code
path as /dev/videoN), clear errors for a missing device, and picamera2's install hint off a Pi."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecam.camera import make_camera
from edgecam.camera.capture import CaptureLoop
from edgecam.camera.opencv_cam import OpenCVCamera
from edgecam.config import CameraConfig
from edgecam.errors import CameraError


def video(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "cam.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(n):
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[:, :, 2] = 200  # red in BGR
        w.write(frame)
    w.release()
    return path


def test_opencv_camera_delivers_rgb_frames_and_ends(tmp_path: Path) -> None:
    cam = make_camera(CameraConfig(kind="opencv", source=str(video(tmp_path))))
    assert isinstance(cam, OpenCVCamera)
    cam.open()
    frames = []
    while (f := cam.read()) is not None:
        frames.append(f)
    cam.close()
    cam.close()  # idempotent
    assert len(frames) == 5 and frames[0].size == (320, 240)
    assert frames[0].image[..., 0].mean() > 150 and frames[0].image[..., 2].mean() < 50  # RGB order


def test_missing_device_is_a_clear_error() -> None:
    with pytest.raises(CameraError, match="/dev/video"):
        OpenCVCamera("57").open()


def test_capture_loop_reopens_a_camera_that_stops_delivering(tmp_path: Path) -> None:
    path = video(tmp_path, n=3)
    loop = CaptureLoop(lambda: OpenCVCamera(str(path)), stall_timeout_s=0.3)
    loop.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while loop.reopen_count < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loop.reopen_count >= 1 and loop.frames >= 3
    finally:
        loop.stop()


def test_picamera2_off_a_pi_says_how_to_install() -> None:
    cam = make_camera(CameraConfig(kind="picamera2"))
    with pytest.raises(CameraError, match="python3-picamera2"):
        cam.open()
