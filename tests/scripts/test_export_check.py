"""``scripts/export_models.py --check``: the committed models match their manifest, tampering is caught.

Why: the kiosk verifies sha256 at load time, but a stale manifest should fail in CI first. The check is
stdlib-only and cheap (no downloads, no conversion), so it runs on every test pass.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "export_models.py"
EXPORTED = REPO / "exported_models"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_models", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _tiny_export(tmp_path: Path) -> Path:
    out = tmp_path / "models"
    out.mkdir(parents=True)
    data = b"not really a model"
    (out / "m.onnx").write_bytes(data)
    (out / "labels.txt").write_text("a\nb\n")
    entry = {"file": "m.onnx", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    labels = (out / "labels.txt").read_bytes()
    manifest = {
        "manifest_version": 1,
        "aux_files": {"labels.txt": {"sha256": hashlib.sha256(labels).hexdigest(), "bytes": len(labels)}},
        "models": {"m": {"task": "classifier", "files": {"onnx-fp32": entry}}},
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_committed_models_match_manifest() -> None:
    assert (EXPORTED / "manifest.json").exists(), "exported_models/ is committed; its manifest is missing"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check: OK" in proc.stdout


def test_committed_manifest_shape() -> None:
    assert (EXPORTED / "manifest.json").exists(), "exported_models/ is committed; its manifest is missing"
    manifest = json.loads((EXPORTED / "manifest.json").read_text())
    assert manifest["manifest_version"] == 1
    expected = {
        "face_detection",
        "face_detection_full_range",
        "selfie_segmentation",
        "selfie_segmentation_landscape",
        "efficientnet_lite0",
        "text_detector",
        "u2netp",
    }
    assert expected <= set(manifest["models"])
    for name in sorted(expected):  # other scripts may merge their own entries (e.g. scene_head)
        m = manifest["models"][name]
        for key in (
            "task",
            "licence",
            "source",
            "files",
            "inputs",
            "outputs",
            "preprocess",
            "labels",
            "notes",
        ):
            assert key in m, (name, key)
        assert m["licence"] == "Apache-2.0"
        for f in m["files"].values():
            assert "modnet" not in f["file"]
    labels = (EXPORTED / "imagenet_labels.txt").read_text().splitlines()
    assert len(labels) == 1000


def test_check_passes_then_catches_tampering(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = _load()
    out = _tiny_export(tmp_path)
    assert mod.check(out) == 0
    (out / "m.onnx").write_bytes(b"swapped")
    assert mod.check(out) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_check_catches_missing_file_and_modnet(tmp_path: Path) -> None:
    mod = _load()
    out = _tiny_export(tmp_path)
    (out / "labels.txt").unlink()
    assert mod.check(out) == 1
    out2 = _tiny_export(tmp_path / "b")
    shutil.copy(out2 / "m.onnx", out2 / "modnet.onnx")
    assert mod.check(out2) == 1


def test_unlisted_files_are_ignored(tmp_path: Path) -> None:
    mod = _load()
    out = _tiny_export(tmp_path)
    (out / "scene_head.json").write_text("{}")
    assert mod.check(out) == 0
