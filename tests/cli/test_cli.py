"""The CLI through its real entry point, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from edgecam.config import load_config

REPO = Path(__file__).resolve().parents[2]


def edgecam(*args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 240):
    env = {**os.environ, "EDGECAM_OUTPUT__MIN_FREE_MB": "0"}
    return subprocess.run([sys.executable, "-m", "edgecam", *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin, timeout=timeout, env=env)


def test_demo_writes_one_styled_photo_per_sample(tmp_path: Path, samples: Path) -> None:
    r = edgecam("demo", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    n = len(list(samples.glob("*.jpg")))
    styled = [p for p in (tmp_path / "out").rglob("*.jpg") if "_" not in p.stem.split("-")[-1]]
    assert len(styled) == n, r.stdout
    assert f"{n} instant photos" in r.stdout and "scene=" in r.stdout and "total=" in r.stdout


def test_shoot_input_json_and_bad_inputs(tmp_path: Path, samples: Path) -> None:
    r = edgecam("shoot", "--input", str(samples / "chelsea.jpg"), "--out", str(tmp_path), "--json",
                "--style", "noir")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["style"] == "noir" and Path(s["styled"]).exists()

    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes((samples / "chelsea.jpg").read_bytes()[:500])
    r = edgecam("shoot", "--input", str(bad), "--out", str(tmp_path / "o2"))
    assert r.returncode == 4 and "corrupt.jpg" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = edgecam("shoot", "--input", str(samples / "chelsea.jpg"), "--out", str(tmp_path / "o3"), "--style", "zzz")
    assert r.returncode == 6 and "unknown style 'zzz'" in r.stderr
    assert not list((tmp_path / "o3").rglob("*.jpg"))


def test_process_batch_continues_past_bad_files(tmp_path: Path, samples: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("coffee.jpg", "page.jpg"):
        (src / name).write_bytes((samples / name).read_bytes())
    cv2.imwrite(str(src / "tiny.png"), np.zeros((10, 10, 3), np.uint8))
    r = edgecam("process", str(src), "--out", str(tmp_path / "out"))
    assert r.returncode == 4
    assert "2 of 3 photos processed" in r.stdout and "tiny.png" in r.stderr


def test_missing_model_file_fails_with_its_name(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    src = REPO / "exported_models"
    for p in src.iterdir():
        (models / p.name).write_bytes(p.read_bytes())
    # corrupt the file the default config's face detector actually loads
    choice = load_config(environ={}).models.face_detection
    entry = json.loads((src / "manifest.json").read_text())["models"][choice.name]
    name = entry["files"]["onnx-fp32"]["file"]
    victim = models / name
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    r = edgecam("--set", f"models.dir={models}", "shoot", "--input", str(REPO / "edgecam/samples/coffee.jpg"),
                "--out", str(tmp_path / "o"))
    assert r.returncode == 3 and name in r.stderr and "sha256" in r.stderr.lower(), r.stderr
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").rglob("*.jpg"))


def test_run_daemon_with_stdin_shutter(tmp_path: Path) -> None:
    r = edgecam("--set", f"output.dir={tmp_path}", "run", stdin="\nstatus\nquit\n")
    assert r.returncode == 0, r.stderr
    assert "scene=" in r.stdout and '"command": "status"' in r.stdout


def test_doctor_reports_ok_on_default(tmp_path: Path) -> None:
    r = edgecam("--set", f"output.dir={tmp_path}", "doctor")
    assert "OK   models" in r.stdout and "OK   camera" in r.stdout, r.stdout + r.stderr


def test_doctor_names_what_fails_and_exits_non_zero(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = edgecam("--set", f"output.dir={blocker / 'photos'}", "--set", "camera.source=/nonexistent",
                "--set", "mqtt.enabled=true", "--set", "mqtt.port=1", "doctor")
    assert r.returncode == 1
    out = r.stdout
    assert "FAIL camera" in out and "/nonexistent" in out
    assert "FAIL output" in out and "FAIL broker" in out and "127.0.0.1:1" in out
    assert "OK   models" in out
