"""Replay camera: a folder of photos or a video file, paced at a given frame rate.

Why: the embedded default, the tests and the benchmarks need a camera that exists everywhere and
delivers the same frames every time. It is a real backend, not a mock: it goes through the same
capture loop, watchdog and shot pipeline as a hardware camera.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edgecam.camera.base import Frame
from edgecam.errors import CameraError, InputImageError
from edgecam.vision.imageio import to_rgb8

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
BUNDLED_SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def resolve_source(source: str) -> Path:
    return BUNDLED_SAMPLES if source == "samples" else Path(source).expanduser()


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def decode_image_file(path: Path) -> tuple[np.ndarray, bytes]:
    """RGB uint8 and the raw bytes. Gray, RGBA and 16-bit files are normalised by ``to_rgb8``;
    anything undecodable raises InputImageError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputImageError(f"{path}: cannot read: {e.strerror or e}") from e
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None:
        raise InputImageError(f"{path}: not a decodable image (corrupt or unsupported format)")
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    try:
        return to_rgb8(arr), data
    except InputImageError as e:
        raise InputImageError(f"{path}: {e}") from None


def load_photo(path: Path, index: int = 0) -> Frame:
    """One photo file as a Frame (the original JPEG bytes are kept for the archive copy)."""
    rgb, data = decode_image_file(path)
    return Frame(rgb, index, time.time(), str(path), encoded=data if _is_jpeg(data) else None)


class ReplayCamera:
    """Frames from image files (one per tick) or from a video file."""

    def __init__(self, source: str, fps: float = 5.0, loop: bool = True, pace: bool = True,
                 gate: threading.Semaphore | None = None) -> None:
        self.path = resolve_source(source)
        self.name = f"replay:{source}"
        self.fps = fps
        self.loop = loop
        self.pace = pace
        self._files: list[Path] = []
        self._video: cv2.VideoCapture | None = None
        self._pos = 0
        self._index = 0
        self._next_t = 0.0
        # With a gate, each frame waits for one release(): a simulated shutter that shoots every
        # photo exactly once, however long a shot takes (the demo and reproducible benchmarks).
        self.gate = gate
        self._interrupted = threading.Event()

    def open(self) -> None:
        if self.path.is_dir():
            self._files = list_images(self.path)
            if not self._files:
                raise CameraError(f"{self.path}: no images to replay (looked for {sorted(IMAGE_SUFFIXES)})")
        elif self.path.is_file():
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise CameraError(f"{self.path}: cannot open as a video file")
            self._video = cap
        else:
            raise CameraError(f"{self.path}: replay source does not exist (camera.source)")
        self._pos = 0
        self._next_t = time.monotonic()

    @property
    def finite(self) -> bool:
        """A source that ends: the capture loop then stops instead of treating it as a stall."""
        return not self.loop

    def _wait_tick(self) -> None:
        if not self.pace:
            return
        now = time.monotonic()
        if self._next_t > now:
            time.sleep(self._next_t - now)
        self._next_t = max(self._next_t + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)

    def interrupt(self) -> None:
        """Unblock a read waiting on the gate (the capture loop calls this when it stops)."""
        self._interrupted.set()

    def read(self) -> Frame | None:
        if self.gate is not None:
            while not self.gate.acquire(timeout=0.05):
                if self._interrupted.is_set():
                    return None
        self._wait_tick()
        if self._video is not None:
            ok, bgr = self._video.read()
            if not ok and self.loop:
                self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = self._video.read()
            if not ok:
                return None
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            frame = Frame(rgb, self._index, time.time(), self.name)
        else:
            if self._pos >= len(self._files):
                if not self.loop:
                    return None
                self._pos = 0
            path = self._files[self._pos]
            self._pos += 1
            try:
                rgb, data = decode_image_file(path)
            except InputImageError as e:
                raise CameraError(f"replay: {e}") from e
            frame = Frame(rgb, self._index, time.time(), str(path), encoded=data if _is_jpeg(data) else None)
        self._index += 1
        return frame

    def still(self) -> Frame | None:
        return None

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None


def _is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"
