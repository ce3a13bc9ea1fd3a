"""`edgecam models list | verify | bench` on the real exported models and on a corrupted copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from edgecam.cli import main
from edgecam.vision.registry import default_models_dir


@pytest.fixture
def conf(tmp_path: Path) -> tuple[Path, Path]:
    """A config whose models.dir is a copy of the shipped folder (files symlinked)."""
    models = tmp_path / "models"
    models.mkdir()
    src = default_models_dir()
    for p in src.iterdir():
        if p.name == "manifest.json":
            shutil.copy(p, models / p.name)
        else:
            os.symlink(p, models / p.name)
    c = tmp_path / "edgecam.yaml"
    c.write_text(f"models:\n  dir: {models}\n")
    return c, models


def test_list_shows_every_model_with_runtimes_and_licence(conf, capsys) -> None:
    c, _ = conf
    assert main(["--config", str(c), "models", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("face_detection", "selfie_segmentation", "efficientnet_lite0", "text_detector", "u2netp"):
        assert name in out
    assert "onnx-fp32,tflite-fp32" in out and "onnx-fp32,onnx-int8" in out and "Apache-2.0" in out


def test_verify_ok_then_mismatch_exits_3_naming_the_file(conf, capsys) -> None:
    c, models = conf
    assert main(["--config", str(c), "models", "verify"]) == 0
    assert "all files match" in capsys.readouterr().out
    target = models / "face_detection_short_range.tflite"
    data = bytearray(target.resolve().read_bytes())
    data[100] ^= 0x01
    target.unlink()
    target.write_bytes(bytes(data))
    assert main(["--config", str(c), "models", "verify"]) == 3
    out = capsys.readouterr().out
    assert "MISMATCH  face_detection_short_range.tflite" in out and "checksum mismatch" in out


def test_bench_reports_p50_p95_per_model_and_runtime(conf, capsys) -> None:
    c, _ = conf
    assert main(["--config", str(c), "models", "bench", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "p50 ms" in out and "p95 ms" in out
    assert "onnx-int8" in out and "tflite-fp32" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("face_detection ")]
    assert len(rows) == 2
