from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgecam.config import ModelChoice, ModelsConfig, VisionConfig
from edgecam.errors import InputImageError, ModelError
from edgecam.vision.stack import VisionStack
from edgecam.vision.types import Vision

from .conftest import corrupt, load_sample


def test_stack_implements_the_vision_protocol(stack: VisionStack) -> None:
    v: Vision = stack
    used = v.models_used()
    for name in ("face_detection_full_range", "selfie_segmentation", "efficientnet_lite0", "text_detector",
                 "u2netp", "scene_head"):
        assert name in used and len(used[name]["sha256"]) == 64 and used[name]["file"]
    assert used["efficientnet_lite0"]["precision"] == "int8"


def test_unknown_model_name_fails_at_start(models_dir: Path) -> None:
    cfg = ModelsConfig(dir=models_dir, face_detection=ModelChoice(name="face_detection_v9"))
    with pytest.raises(ModelError, match="'face_detection_v9' is not in"):
        VisionStack(cfg, VisionConfig()).start()


def test_corrupt_file_fails_at_start(linked_models: Path) -> None:
    corrupt(linked_models, "u2netp.onnx")
    with pytest.raises(ModelError, match="u2netp.onnx: checksum mismatch"):
        VisionStack(ModelsConfig(dir=linked_models), VisionConfig()).start()


def test_head_trained_for_another_classifier_fails_at_start(models_dir: Path) -> None:
    head = json.loads((models_dir / "scene_head.json").read_text())
    other = "int8" if head["classifier"]["precision"] == "fp32" else "fp32"
    cfg = ModelsConfig(dir=models_dir, classifier=ModelChoice(name="efficientnet_lite0", precision=other))
    with pytest.raises(ModelError, match="retrain"):
        VisionStack(cfg, VisionConfig()).start()


def test_not_started_is_a_clear_error(models_dir: Path) -> None:
    s = VisionStack(ModelsConfig(dir=models_dir))
    with pytest.raises(ModelError, match="not started"):
        s.detect_faces(load_sample("astronaut"))


def test_litert_stack_without_text_detector(models_dir: Path) -> None:
    cfg = ModelsConfig(
        dir=models_dir,
        face_detection=ModelChoice(name="face_detection", runtime="tflite"),
        segmentation=ModelChoice(name="selfie_segmentation", runtime="tflite"),
    )
    with VisionStack(cfg, VisionConfig(text_detection=False)) as s:
        assert "text_detector" not in s.models_used()
        assert s.models_used()["face_detection"]["runtime"] == "tflite"
        rgb = load_sample("astronaut")
        faces = s.detect_faces(rgb)
        assert len(faces) == 1 and s.matte(rgb, faces) is not None


def test_other_pixel_formats_are_normalised(stack: VisionStack) -> None:
    rgb = load_sample("grace_hopper")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    wide = rgb.astype(np.uint16) * 257
    gray = rgb.mean(axis=2).astype(np.uint8)
    for img in (rgba, wide, gray):
        assert len(stack.detect_faces(img)) == 1


def test_out_of_range_sizes_are_refused(stack: VisionStack) -> None:
    with pytest.raises(InputImageError, match="too small"):
        stack.classify_scene(np.zeros((32, 400, 3), np.uint8), [])
    with pytest.raises(InputImageError, match="50 MP"):
        stack.detect_faces(np.zeros((8000, 7000), np.uint8))
