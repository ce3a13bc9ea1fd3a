from __future__ import annotations

import numpy as np
import pytest

from edgecam.config import ModelChoice
from edgecam.vision.faces import ANCHORS, FULL_RANGE, SHORT_RANGE, FaceDetector, letterbox, tiles, weighted_nms
from edgecam.vision.registry import ModelRegistry
from edgecam.vision.runtime import open_session
from edgecam.vision.stack import VisionStack

from .conftest import load_sample

# hand-checked face boxes (x0, y0, x1, y1) in the sample photos
EXPECTED = {"astronaut": (175, 75, 275, 180), "grace_hopper": (165, 140, 370, 350)}


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_anchor_layout() -> None:
    assert ANCHORS.shape == (896, 2)
    assert np.allclose(ANCHORS[0], [0.5 / 16, 0.5 / 16]) and np.allclose(ANCHORS[1], ANCHORS[0])
    assert np.allclose(ANCHORS[512], [0.5 / 8, 0.5 / 8]) and np.allclose(ANCHORS[512:518], ANCHORS[512])


def test_full_range_anchor_layout() -> None:
    assert FULL_RANGE.anchors.shape == (2304, 2) and FULL_RANGE.input_size == 192
    assert np.allclose(FULL_RANGE.anchors[0], [0.5 / 48, 0.5 / 48])
    assert np.allclose(FULL_RANGE.anchors[1], [1.5 / 48, 0.5 / 48])
    assert np.allclose(FULL_RANGE.anchors[48], [0.5 / 48, 1.5 / 48])


# (manifest name, tiles): the short-range model with tiles, the full-range model in one pass
MODELS = [("face_detection", 2), ("face_detection_full_range", 1)]


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
@pytest.mark.parametrize("model", MODELS, ids=[m for m, _ in MODELS])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_face_over_the_face(registry: ModelRegistry, runtime: str, model: tuple[str, int], name: str) -> None:
    det = FaceDetector(open_session(registry, ModelChoice(name=model[0], runtime=runtime)), None, model[1])
    assert det.spec is (SHORT_RANGE if model[0] == "face_detection" else FULL_RANGE)
    faces = det.detect(load_sample(name))
    assert len(faces) == 1
    f = faces[0]
    assert f.score >= det.threshold
    assert iou(f.box, EXPECTED[name]) > 0.6, f.box
    assert len(f.keypoints) == 6
    x0, y0, x1, y1 = f.box
    eyes_y = (f.keypoints[0][1] + f.keypoints[1][1]) / 2
    assert all(x0 - 5 <= x <= x1 + 5 for x, _ in f.keypoints[:4])
    assert eyes_y < f.keypoints[3][1], "eyes above the mouth"


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket", "page"])
def test_no_face_where_there_is_none(stack: VisionStack, name: str) -> None:
    assert stack.detect_faces(load_sample(name)) == []


def test_boxes_map_back_through_letterbox_and_padding(stack: VisionStack) -> None:
    """The same face found on a photo padded on the right and bottom keeps its pixel coordinates."""
    img = load_sample("grace_hopper")
    big = np.zeros((img.shape[0] + 200, img.shape[1] + 400, 3), np.uint8)
    big[: img.shape[0], : img.shape[1]] = img
    a, b = stack.detect_faces(img), stack.detect_faces(big)
    assert len(a) == len(b) == 1
    assert iou(a[0].box, b[0].box) > 0.8


def test_small_faces_need_tiles(registry: ModelRegistry) -> None:
    """A face at 1/6 of the frame height is missed by the whole-image pass and found with tiles."""
    face = load_sample("astronaut")[40:240, 120:330]
    canvas = np.full((1200, 1200, 3), 90, np.uint8)
    canvas[500:700, 500:710] = face
    sess = open_session(registry, ModelChoice(name="face_detection"))
    assert len(FaceDetector(sess, 0.75, 1).detect(canvas)) == 0
    found = FaceDetector(sess, 0.75, 3).detect(canvas)
    assert len(found) == 1 and iou(found[0].box, (558, 541, 652, 635)) > 0.6


def test_full_range_finds_small_faces_in_one_pass(registry: ModelRegistry) -> None:
    """The same small face (1/6 of the frame height) is found by the full-range model without tiles."""
    face = load_sample("astronaut")[40:240, 120:330]
    canvas = np.full((1200, 1200, 3), 90, np.uint8)
    canvas[500:700, 500:710] = face
    found = FaceDetector(open_session(registry, ModelChoice(name="face_detection_full_range")), None, 1).detect(canvas)
    assert len(found) == 1 and iou(found[0].box, (558, 541, 652, 635)) > 0.6


def test_tiles_cover_the_image() -> None:
    for w, h in [(640, 480), (530, 800), (1920, 1080)]:
        cover = np.zeros((h, w), bool)
        for x, y, s in tiles(w, h, 2):
            assert x >= 0 and y >= 0 and x + s <= w and y + s <= h
            cover[y:y + s, x:x + s] = True
        assert cover.all()


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces() -> None:
    dets = np.zeros((3, 16), np.float32)
    dets[0, :4] = [0, 0, 10, 10]
    dets[1, :4] = [1, 1, 11, 11]
    dets[2, :4] = [50, 50, 60, 60]
    out = weighted_nms(dets, np.array([0.9, 0.9, 0.8], np.float32))
    assert len(out) == 2
    np.testing.assert_allclose(out[0][0][:4], [0.5, 0.5, 10.5, 10.5])
    assert out[0][1] == pytest.approx(0.9)


def test_letterbox_keeps_aspect() -> None:
    canvas, s, px, py = letterbox(np.full((100, 200, 3), 255, np.uint8))
    assert canvas.shape == (128, 128, 3) and s == pytest.approx(0.64) and px == 0 and py == 32
    assert canvas[:32].max() == 0 and canvas[32:96].min() == 255
