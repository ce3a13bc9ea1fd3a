from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecam.camera.capture import CaptureLoop
from edgecam.camera.replay import ReplayCamera, load_photo
from edgecam.errors import CameraError, InputImageError


def test_replay_folder_delivers_each_photo_then_ends(samples: Path) -> None:
    cam = ReplayCamera(str(samples), fps=100, loop=False)
    cam.open()
    frames = []
    while (f := cam.read()) is not None:
        frames.append(f)
    n = len(list(samples.glob("*.jpg")))
    assert len(frames) == n and all(f.image.dtype == np.uint8 and f.image.shape[2] == 3 for f in frames)
    assert frames[0].encoded is not None and frames[0].encoded[:2] == b"\xff\xd8"


def test_replay_video_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(6):
        w.write(np.full((120, 160, 3), i * 40, np.uint8))
    w.release()
    cam = ReplayCamera(str(path), fps=100, loop=False)
    cam.open()
    got = []
    while (f := cam.read()) is not None:
        got.append(f)
    assert len(got) == 6 and got[0].size == (160, 120)


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="does not exist"):
        ReplayCamera(str(tmp_path / "nope")).open()
    with pytest.raises(CameraError, match="no images"):
        ReplayCamera(str(tmp_path)).open()


def test_load_photo_handles_gray_rgba_16bit_and_refuses_corrupt_and_tiny(tmp_path: Path) -> None:
    gray16 = (np.arange(200 * 300, dtype=np.uint32).reshape(200, 300) % 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), gray16)
    cv2.imwrite(str(tmp_path / "rgba.png"), np.zeros((100, 100, 4), np.uint8))
    assert load_photo(tmp_path / "g16.png").image.shape == (200, 300, 3)
    assert load_photo(tmp_path / "rgba.png").image.shape == (100, 100, 3)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(InputImageError, match="bad.jpg"):
        load_photo(tmp_path / "bad.jpg")
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(InputImageError, match="too small"):
        load_photo(tmp_path / "tiny.png")


class FlakyCamera:
    """A real camera backend whose frames stop after a while, like a hung CSI driver."""

    opened = 0

    def __init__(self, stall_after: int) -> None:
        self.name = "flaky"
        self.stall_after = stall_after
        self.n = 0

    def open(self) -> None:
        FlakyCamera.opened += 1
        self.n = 0

    def read(self):
        from edgecam.camera.base import Frame

        time.sleep(0.005)
        self.n += 1
        if self.n > self.stall_after and FlakyCamera.opened == 1:
            return None
        return Frame(np.zeros((64, 64, 3), np.uint8), self.n, time.time(), self.name)

    def still(self):
        return None

    def close(self) -> None:
        pass


def test_capture_loop_ring_buffer_and_stall_watchdog_reopens() -> None:
    FlakyCamera.opened = 0
    loop = CaptureLoop(lambda: FlakyCamera(stall_after=5), buffer=3, stall_timeout_s=0.2)
    loop.start()
    try:
        deadline = time.monotonic() + 5
        while loop.reopen_count == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert loop.reopen_count >= 1
        f = loop.wait_for(-1, timeout=2)
        assert f is not None
        nxt = loop.wait_for(f.index, timeout=2)
        assert nxt is not None and nxt.index > f.index
        assert len(loop._ring) <= 3
    finally:
        loop.stop()
    assert not loop.running


def test_capture_loop_finite_source_finishes(samples: Path) -> None:
    loop = CaptureLoop(lambda: ReplayCamera(str(samples), fps=200, loop=False), buffer=2)
    loop.start()
    last = -1
    seen = 0
    while (f := loop.wait_for(last, timeout=5)) is not None:
        last = f.index
        seen += 1
    loop.stop()
    assert loop.finished and seen >= 1 and last == len(list(samples.glob("*.jpg"))) - 1


def test_capture_loop_applies_the_mounting_rotation(samples: Path) -> None:
    loop = CaptureLoop(lambda: ReplayCamera(str(samples), fps=200, loop=False),
                       rotate=90, mirror=True)
    loop.start()
    try:
        f = loop.wait_for(-1, timeout=5)
    finally:
        loop.stop()
    assert f is not None and f.encoded is None
    src = load_photo(Path(f.source))
    assert f.image.shape == (src.image.shape[1], src.image.shape[0], 3)
    assert np.array_equal(f.image, cv2.flip(cv2.rotate(src.image, cv2.ROTATE_90_CLOCKWISE), 1))
