from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgecam.errors import ModelError
from edgecam.vision.scene import SceneHead
from edgecam.vision.stack import VisionStack
from edgecam.vision.types import SCENE_LABELS

from .conftest import load_sample


@pytest.mark.parametrize(
    ("name", "expected"),
    [("astronaut", {"portrait"}), ("grace_hopper", {"portrait"}), ("coffee", {"food", "product"}),
     ("chelsea", {"pet"}), ("page", {"document"})],
)
def test_bundled_samples_get_sensible_labels(stack: VisionStack, name: str, expected: set[str]) -> None:
    rgb = load_sample(name)
    faces = stack.detect_faces(rgb)
    res = stack.classify_scene(rgb, faces)
    assert res.label in expected, (res.label, res.reasons)
    assert set(res.scores) == set(SCENE_LABELS)
    assert sum(res.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert res.label == max(res.scores, key=res.scores.__getitem__)
    assert res.reasons and res.faces == faces
    json.dumps(res.to_dict())


def test_reasons_are_readable_evidence(stack: VisionStack) -> None:
    rgb = load_sample("astronaut")
    res = stack.classify_scene(rgb, stack.detect_faces(rgb))
    assert res.reasons[0].startswith("1 face, ") and "% face area" in res.reasons[0]
    assert any(r.startswith("ImageNet: ") for r in res.reasons)
    dark = (rgb * 0.12).astype(np.uint8)
    res = stack.classify_scene(dark, [])
    assert res.reasons[0] == "no faces"
    assert any(r.startswith("dark: mean luma ") for r in res.reasons)
    assert 0 <= res.stats["luma_mean"] < 0.15


def test_head_file_records_a_stratified_held_out_split(stack: VisionStack) -> None:
    head = stack._scene.head  # noqa: SLF001
    split = head.meta["split"]
    assert split["train"] and split["test"] and not set(split["train"]) & set(split["test"])
    classes = {p.split("/")[0] for p in split["test"]}
    assert classes == set(SCENE_LABELS), "every class is represented in the held-out part"


def test_invalid_head_is_refused(tmp_path: Path, stack: VisionStack) -> None:
    bad = tmp_path / "head.json"
    bad.write_text("{}")
    with pytest.raises(ModelError, match="not a valid scene head"):
        SceneHead.load(bad)
    head = stack._scene.head  # noqa: SLF001
    d = json.loads(head.to_json())
    d["weights"] = d["weights"][:3]
    bad.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="do not match"):
        SceneHead.load(bad)


def test_text_detector_beside_the_classifier_gives_the_same_features(stack: VisionStack) -> None:
    """The scene stage runs the text detector on a second thread; the features must not change."""
    import threading

    from edgecam.vision.scene import SceneFeatures

    f = stack._scene.features  # type: ignore[union-attr]
    assert f._pool is not None, "the default stack runs the text detector in parallel"
    seq = SceneFeatures(f.classifier, f.cls_pre, f.imagenet_labels, f.text, f.text_pre,
                        f.analysis_long_edge, f.text_long_edge, parallel=False)
    for name in ("page", "astronaut"):
        rgb = load_sample(name)
        faces = stack.detect_faces(rgb)
        a, ev_a = f.compute(rgb, faces)
        b, ev_b = seq.compute(rgb, faces)
        assert np.array_equal(a, b) and ev_a["stats"] == ev_b["stats"]
    par = SceneFeatures(f.classifier, f.cls_pre, f.imagenet_labels, f.text, f.text_pre)
    par.compute(load_sample("page"), [])
    assert any(t.name.startswith("scene-text") for t in threading.enumerate())
    par.close()
    assert par._pool is None
