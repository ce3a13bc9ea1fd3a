"""The capture loop: its own thread, a small ring buffer, and a frame-liveness watchdog.

Why: a shot must never wait for the camera (it takes the newest buffered frame) and the camera
must never wait for inference (the loop only fills the buffer). Cameras hang in the field
(picamera2 "frontend has timed out" after ~30 h, USB cameras after a power glitch), so when no
frame arrives for ``stall_timeout_s`` the loop closes and reopens the camera with backoff, and
reports it; systemd's watchdog is the last resort if even that loop stops ticking.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from edgecam.camera.base import Camera, Frame, orient
from edgecam.errors import CameraError, EdgecamError
from edgecam.events import EventBus

log = logging.getLogger(__name__)


class CaptureLoop:
    """Owns one camera; ``latest()`` and ``wait_for`` are safe from any thread."""

    def __init__(
        self,
        factory: Callable[[], Camera],
        *,
        buffer: int = 4,
        stall_timeout_s: float = 5.0,
        rotate: int = 0,
        mirror: bool = False,
        events: EventBus | None = None,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._factory = factory
        self._ring: deque[Frame] = deque(maxlen=buffer)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._camera: Camera | None = None
        self._cam_lock = threading.Lock()
        self.stall_timeout_s = stall_timeout_s
        self.rotate = rotate
        self.mirror = mirror
        self.events = events
        self.max_backoff_s = max_backoff_s
        self.finished = False  # a finite source (replay without loop) reached its end
        self.reopen_count = 0
        self.last_frame_at = 0.0
        self.last_error: str | None = None
        self.frames = 0

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the camera once synchronously, so a wrong config fails at start-up, then loop."""
        self._camera = self._factory()
        self._camera.open()
        self.last_frame_at = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        interrupt = getattr(self._camera, "interrupt", None)
        if interrupt is not None:
            interrupt()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._cam_lock:
            if self._camera is not None:
                self._camera.close()
                self._camera = None
        with self._cond:
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def camera_name(self) -> str:
        cam = self._camera
        return cam.name if cam is not None else "closed"

    # frames ----------------------------------------------------------------------------------
    def latest(self) -> Frame | None:
        with self._cond:
            return self._ring[-1] if self._ring else None

    def wait_for(self, after_index: int = -1, timeout: float = 5.0) -> Frame | None:
        """Block until a frame newer than ``after_index`` is buffered (or the source ended)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._ring and self._ring[-1].index > after_index:
                    return self._ring[-1]
                if self.finished or self._stop.is_set():
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def still(self) -> Frame | None:
        """A full-resolution still if the backend has one, else the newest preview frame."""
        with self._cam_lock:
            cam = self._camera
            frame = cam.still() if cam is not None else None
        return self._oriented(frame) if frame is not None else self.latest()

    def _oriented(self, frame: Frame) -> Frame:
        """Apply the mounting rotation/mirror; the source JPEG bytes no longer match a turned frame."""
        if not (self.rotate or self.mirror):
            return frame
        return Frame(orient(frame.image, self.rotate, self.mirror), frame.index, frame.ts, frame.source, None)

    def healthy(self) -> bool:
        """For the systemd watchdog: the loop is alive and frames are fresh (or the source ended)."""
        if not self.running:
            return self.finished
        return self.finished or (time.monotonic() - self.last_frame_at) < 2 * self.stall_timeout_s

    # loop ------------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with self._cam_lock:
                    cam = self._camera
                if cam is None:
                    raise CameraError("camera closed")
                frame = cam.read()
            except EdgecamError as e:
                frame = None
                self.last_error = str(e)
            except Exception as e:  # driver errors must not kill the loop
                frame = None
                self.last_error = f"{type(e).__name__}: {e}"
            if frame is not None:
                frame = self._oriented(frame)
                with self._cond:
                    self._ring.append(frame)
                    self._cond.notify_all()
                self.last_frame_at = time.monotonic()
                self.frames += 1
                backoff = 0.5
                continue
            if self.last_error is None and getattr(cam, "finite", False):
                with self._cond:
                    self.finished = True
                    self._cond.notify_all()
                return
            if time.monotonic() - self.last_frame_at >= self.stall_timeout_s or self.last_error:
                self._reopen(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            else:
                self._stop.wait(0.05)

    def _reopen(self, backoff: float) -> None:
        err = self.last_error or f"no frame for {self.stall_timeout_s:.1f} s"
        log.warning("camera %s stalled (%s); reopening in %.1f s", self.camera_name, err, backoff)
        if self.events is not None:
            self.events.publish("error", source="camera", message=f"camera stalled: {err}; reopening")
        if self._stop.wait(backoff):
            return
        with self._cam_lock:
            try:
                if self._camera is not None:
                    self._camera.close()
                cam = self._factory()
                cam.open()
                self._camera = cam
                self.reopen_count += 1
                self.last_error = None
                self.last_frame_at = time.monotonic()
                log.info("camera %s reopened", cam.name)
            except Exception as e:
                self.last_error = f"reopen failed: {e}"
