from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgecam.errors import ModelError
from edgecam.vision.registry import ModelRegistry, default_models_dir, sha256_file

from .conftest import corrupt, manifest


def test_default_models_dir_honours_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGECAM_MODELS_DIR", str(tmp_path))
    assert default_models_dir() == tmp_path


def test_default_models_dir_is_the_checkout_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGECAM_MODELS_DIR", raising=False)
    d = default_models_dir()
    assert d.name == "exported_models" and (d / "manifest.json").exists()


def test_every_manifest_file_matches_its_sha256(registry: ModelRegistry) -> None:
    results = registry.verify_all()
    assert results, "manifest lists no files"
    failures = [err for _, err in results if err]
    assert not failures, failures
    for f, _ in results:
        assert sha256_file(f.path) == f.sha256


def test_auto_prefers_onnx_and_tflite_can_be_chosen(registry: ModelRegistry) -> None:
    assert registry.resolve("face_detection").runtime == "onnx"
    tfl = registry.resolve("face_detection", "tflite")
    assert tfl.runtime == "tflite" and tfl.path.suffix == ".tflite"
    assert registry.resolve("efficientnet_lite0", "auto", "int8").precision == "int8"


def test_auto_falls_back_to_tflite_when_no_onnx(linked_models: Path) -> None:
    data = manifest(linked_models)
    del data["models"]["face_detection"]["files"]["onnx-fp32"]
    (linked_models / "manifest.json").write_text(json.dumps(data))
    assert ModelRegistry(linked_models).resolve("face_detection").runtime == "tflite"


def test_unknown_model_name_is_a_model_error(registry: ModelRegistry) -> None:
    with pytest.raises(ModelError, match="not in .*manifest.json; known: "):
        registry.entry("no_such_model")


def test_missing_precision_lists_what_exists(registry: ModelRegistry) -> None:
    with pytest.raises(ModelError, match="no tflite/int8 file; available: onnx-fp32, tflite-fp32"):
        registry.resolve("face_detection", "tflite", "int8")


def test_checksum_mismatch_names_file_and_both_hashes(linked_models: Path) -> None:
    corrupt(linked_models, "face_detection_short_range.onnx")
    reg = ModelRegistry(linked_models)
    f = reg.resolve("face_detection", "onnx")
    with pytest.raises(ModelError) as e:
        reg.verify(f)
    msg = str(e.value)
    assert "face_detection_short_range.onnx" in msg and f.sha256 in msg and sha256_file(f.path) in msg


def test_missing_manifest_and_missing_file(tmp_path: Path, linked_models: Path) -> None:
    with pytest.raises(ModelError, match="no model manifest"):
        ModelRegistry(tmp_path)
    (linked_models / "u2netp.onnx").unlink()
    reg = ModelRegistry(linked_models)
    with pytest.raises(ModelError, match="model file missing"):
        reg.verify(reg.resolve("u2netp"))
