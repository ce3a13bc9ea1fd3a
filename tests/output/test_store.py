from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import edgecam.output.store as store_mod
from edgecam.errors import StorageError
from edgecam.output.atomic import TMP_PREFIX, atomic_write
from edgecam.output.store import PhotoStore, encode_jpeg


def jpeg(h: int = 120, w: int = 90) -> bytes:
    rng = np.random.default_rng(0)
    return encode_jpeg(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), 90)


def test_atomic_write_failure_mid_file_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "photo.jpg"

    def writer(f):  # a disk that fills up half-way through the file
        f.write(b"x" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(StorageError, match="No space left"):
        atomic_write(target, writer)
    assert list(tmp_path.iterdir()) == []


def test_save_shot_writes_exif_sidecar_and_index(tmp_path: Path) -> None:
    s = PhotoStore(tmp_path, device="booth-1", camera_model="replay")
    s.open()
    when = datetime(2026, 11, 22, 10, 30, 0).astimezone()
    saved = s.save_shot("id1", when, jpeg(), jpeg(), {"scene": {"label": "pet"}, "style": {"name": "noir"},
                                                        "timings_ms": {"total": 12.5}})
    exif = Image.open(saved.styled).getexif()
    assert exif[0x010F] == "booth-1" and exif[0x0110] == "replay" and exif[0x0132] == "2026:11:22 10:30:00"
    assert exif[0x0131].startswith("edgecam") and exif[0x0112] == 1
    side = json.loads(saved.sidecar.read_text())
    assert side["files"]["styled"] == "id1.jpg"
    row = s.get("id1")
    assert row and row["scene"] == "pet" and row["style"] == "noir" and row["total_ms"] == 12.5
    assert cv2.imread(row["original"]) is not None


def test_failed_save_rolls_back_files_and_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = PhotoStore(tmp_path)
    s.open()
    real = store_mod.atomic_write
    calls = {"n": 0}

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] == 2:  # the original's write fails half-way (disk full)
            def partial(f):
                f.write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(path, partial)
        return real(path, data)

    monkeypatch.setattr(store_mod, "atomic_write", flaky)
    with pytest.raises(StorageError):
        s.save_shot("id2", datetime.now().astimezone(), jpeg(), jpeg(), {})
    assert s.get("id2") is None
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("gallery.sqlite")]
    assert files == []


def test_unwritable_output_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="not writable"):
        PhotoStore(blocker / "photos").open()


def test_min_free_space_refuses_shot(tmp_path: Path) -> None:
    s = PhotoStore(tmp_path, min_free_mb=10**9)
    s.open()
    with pytest.raises(StorageError, match="free"):
        s.save_shot("x", datetime.now().astimezone(), jpeg(), None, {})


def test_attach_result_exactly_once(tmp_path: Path) -> None:
    s = PhotoStore(tmp_path)
    s.open()
    s.save_shot("id3", datetime.now().astimezone(), jpeg(), None, {})
    assert s.attach_result("id3", "job-1", "product_cutout", {"cutout.png": b"png"}, {"ms": 3})
    assert not s.attach_result("id3", "job-1", "product_cutout", {"cutout.png": b"png"}, {"ms": 3})
    row = s.get("id3")
    assert row and len(row["upgraded"]) == 1 and row["upgraded"][0]["job_id"] == "job-1"
    with pytest.raises(StorageError, match="unknown shot"):
        s.attach_result("nope", "job-2", "archive", {}, {})


WRITER = r"""
import sys, datetime, numpy as np
from edgecam.output.store import PhotoStore, encode_jpeg
s = PhotoStore(sys.argv[1]); s.open()
rng = np.random.default_rng(1)
big = encode_jpeg(rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8), 95)
i = 0
while True:
    sid = f"{sys.argv[2]}-{i}"
    s.save_shot(sid, datetime.datetime.now().astimezone(), big, big, {"scene": {"label": "x"}})
    print("ACK", sid, flush=True)
    i += 1
"""


def test_gallery_consistent_after_kill_9(tmp_path: Path) -> None:
    acked: list[str] = []
    for round_ in range(4):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"r{round_}"], stdout=subprocess.PIPE,
                             text=True)
        assert p.stdout is not None
        deadline = time.monotonic() + 60
        while len([a for a in acked if a.startswith(f"r{round_}-")]) < 3 + round_ and time.monotonic() < deadline:
            line = p.stdout.readline()
            if line.startswith("ACK"):
                acked.append(line.split()[1])
        time.sleep(0.013 * (round_ + 1))  # land the kill at different moments of a write
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        for line in p.stdout:
            if line.startswith("ACK"):
                acked.append(line.split()[1])
    s = PhotoStore(tmp_path)
    s.open()  # removes temp files left by the kills
    assert not list(tmp_path.rglob(TMP_PREFIX + "*"))
    rows = {r["id"]: r for r in s.recent(10000)}
    for sid in acked:  # every acknowledged shot is indexed...
        assert sid in rows
    for r in rows.values():  # ...and every indexed shot is complete on disk
        for key in ("styled", "original"):
            img = cv2.imread(r[key])
            assert img is not None and img.shape == (900, 1200, 3)
        json.loads(Path(r["sidecar"]).read_text())


def test_low_memory_encode_matches_and_restores_the_frame(tmp_path: Path) -> None:
    from edgecam.output.store import encode_jpeg_low_memory

    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[:, :, 0] = 255  # a red frame with a green gradient: a channel mix-up would show as blue
    rgb[:, :, 1] = np.linspace(0, 200, 400, dtype=np.uint8)[None, :]
    before = rgb.copy()
    data = encode_jpeg_low_memory(rgb, 95, tmp_path)
    assert np.array_equal(rgb, before)  # swapped back after encoding
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert decoded[:, :, 0].mean() > 240 and decoded[:, :, 2].mean() < 20
    assert np.abs(decoded.astype(int) - before).mean() < 4
    assert list(tmp_path.iterdir()) == []  # no temp file left
    ro = before.copy()
    ro.flags.writeable = False
    assert encode_jpeg_low_memory(ro, 95, tmp_path)[:2] == b"\xff\xd8"  # read-only frames go through a copy
