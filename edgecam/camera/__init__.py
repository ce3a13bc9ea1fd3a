"""Cameras behind one interface, and the capture loop that owns them."""

from __future__ import annotations

from edgecam.camera.base import Camera, Frame
from edgecam.config import CameraConfig


def make_camera(cfg: CameraConfig, pace: bool = True) -> Camera:
    """Build (not open) the backend the config names. Hardware backends import lazily."""
    if cfg.kind == "replay":
        from edgecam.camera.replay import ReplayCamera

        return ReplayCamera(cfg.source, fps=cfg.fps, loop=cfg.loop, pace=pace)
    if cfg.kind == "opencv":
        from edgecam.camera.opencv_cam import OpenCVCamera

        return OpenCVCamera(cfg.source, cfg.width, cfg.height)
    from edgecam.camera.picam import Picamera2Camera

    return Picamera2Camera(cfg.preview_size, cfg.still_size)


__all__ = ["Camera", "Frame", "make_camera"]
