from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgecam.config import ModelChoice
from edgecam.errors import ModelError
from edgecam.vision.faces import preprocess as face_preprocess
from edgecam.vision.registry import ModelRegistry
from edgecam.vision.runtime import open_path, open_session

from .conftest import corrupt, load_sample


def tiny_model(path: Path) -> Path:
    """y = x + 1 on float32 [1, 4, N] (N dynamic): only to test the wrapper itself."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, "n"])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    graph = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "tiny", [x], [y], [one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, str(path))
    return path


def test_wrapper_runs_and_reports_specs(tmp_path: Path) -> None:
    s = open_path(tiny_model(tmp_path / "tiny.onnx"), threads=2)
    assert s.inputs[0].name == "x" and s.inputs[0].shape == (1, 4, None)
    assert s._sess.get_session_options().intra_op_num_threads == 2  # noqa: SLF001
    out = s.run(np.zeros((1, 4, 7), np.float32))
    np.testing.assert_array_equal(out["y"], np.ones((1, 4, 7), np.float32))
    assert s.run({"x": np.ones((1, 4, 1), np.float32)})["y"][0, 0, 0] == 2.0


def test_wrong_shape_or_dtype_says_expected_and_got(tmp_path: Path) -> None:
    s = open_path(tiny_model(tmp_path / "tiny.onnx"))
    with pytest.raises(ModelError, match=r"expects shape \[1,4,\?\], got \[1, 3, 7\]"):
        s.run(np.zeros((1, 3, 7), np.float32))
    with pytest.raises(ModelError, match="expects dtype float32, got float64"):
        s.run(np.zeros((1, 4, 7), np.float64))
    with pytest.raises(ModelError, match="missing input 'x'"):
        s.run({"z": np.zeros((1, 4, 7), np.float32)})


def test_unloadable_file_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        open_path(bad)
    with pytest.raises(ModelError, match="LiteRT cannot load"):
        open_path(bad, runtime="tflite")


def test_threads_from_choice_or_default(registry: ModelRegistry) -> None:
    s = open_session(registry, ModelChoice(name="face_detection", runtime="onnx"), default_threads=3)
    assert s.threads == 3
    s = open_session(registry, ModelChoice(name="face_detection", runtime="tflite", threads=2), default_threads=3)
    assert s.threads == 2 and s.runtime == "tflite"


@pytest.mark.parametrize(
    ("model", "size", "scale", "offset", "atol"),
    [("face_detection", 128, 1 / 127.5, -1.0, 2e-3), ("selfie_segmentation", 256, 1 / 255, 0.0, 1e-3)],
)
def test_onnx_and_litert_agree_on_real_photos(
    registry: ModelRegistry, model: str, size: int, scale: float, offset: float, atol: float
) -> None:
    onnx_s = open_session(registry, ModelChoice(name=model, runtime="onnx"))
    tfl_s = open_session(registry, ModelChoice(name=model, runtime="tflite"))
    for name in ("astronaut", "grace_hopper"):
        rgb = load_sample(name)
        if model == "face_detection":
            x = face_preprocess(rgb)[0]
        else:
            import cv2

            x = (cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) * scale + offset)[None]
        a, b = onnx_s.run(x), tfl_s.run(x)
        assert len(a) == len(b)
        for va in a.values():
            vb = next(v for v in b.values() if v.shape == va.shape)
            assert np.abs(va - vb).max() < atol, (model, name, np.abs(va - vb).max())


def test_corrupt_model_is_refused_by_checksum(linked_models: Path) -> None:
    corrupt(linked_models, "selfie_segmentation.tflite")
    reg = ModelRegistry(linked_models)
    with pytest.raises(ModelError, match="selfie_segmentation.tflite: checksum mismatch"):
        open_session(reg, ModelChoice(name="selfie_segmentation", runtime="tflite"))
