"""BlazeFace short-range face detection: anchors, decoding and MediaPipe-style weighted NMS.

Why our own decoder: the exported model only outputs raw regressors and logits for 896 fixed
anchors; MediaPipe's calculator graph (which normally decodes them) is not something a kiosk can
install. The constants below are those of MediaPipe's ``face_detection_short_range`` graph.
The image is letterboxed (aspect kept) to 128×128 so faces are not squashed, and boxes are mapped
back to the original pixel coordinates.
"""

from __future__ import annotations

import numpy as np

from edgecam.vision.preprocess import shrink
from edgecam.vision.runtime import Session, output_by_shape
from edgecam.vision.types import Face

INPUT_SIZE = 128
NUM_ANCHORS = 896
NUM_KEYPOINTS = 6
NMS_IOU = 0.3


def make_anchors() -> np.ndarray:
    """(896, 2) anchor centres in 0..1: stride 8 → 16×16 cells × 2, stride 16 → 8×8 cells × 6.

    MediaPipe's SSD options for this model (4 layers, strides 8,16,16,16, one aspect ratio plus an
    interpolated scale, fixed anchor size) reduce to this: layers with the same stride are merged,
    and every anchor has width = height = 1, so only the centres matter.
    """
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = INPUT_SIZE // stride
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        centres = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    anchors = np.concatenate(out).astype(np.float32)
    assert anchors.shape == (NUM_ANCHORS, 2)
    return anchors


ANCHORS = make_anchors()


def letterbox(rgb: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, float, int, int]:
    """Resize keeping aspect into a size×size black canvas; returns (canvas, scale, pad_x, pad_y)."""
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = shrink(rgb, (nw, nh))
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[py:py + nh, px:px + nw] = small
    return canvas, s, px, py


def preprocess(rgb: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """Letterboxed NHWC float32 input in [-1, 1] plus the mapping back to the image."""
    canvas, s, px, py = letterbox(rgb)
    x = (canvas.astype(np.float32) / 127.5 - 1.0)[None]
    return x, s, px, py


def decode(regressors: np.ndarray, logits: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw outputs → (boxes (N,4) x0,y0,x1,y1 and keypoints (N,6,2), in 0..1 of the input) and scores (N,)."""
    reg = regressors.reshape(NUM_ANCHORS, 16).astype(np.float32)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(NUM_ANCHORS), -80.0, 80.0)))
    keep = scores >= threshold
    reg, scores, anchors = reg[keep] / INPUT_SIZE, scores[keep], ANCHORS[keep]
    cx, cy = reg[:, 0] + anchors[:, 0], reg[:, 1] + anchors[:, 1]
    w, h = reg[:, 2], reg[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = reg[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
    dets = np.concatenate([boxes, kps.reshape(-1, 12)], axis=1)
    return dets, scores


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(dets: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's WEIGHTED suppression: overlapping candidates are averaged, weighted by score.

    Why not hard NMS: BlazeFace fires on several neighbouring anchors per face; averaging them gives
    steadier boxes and keypoints than keeping the single best one.
    """
    order = np.argsort(-scores, kind="stable")
    dets, scores = dets[order], scores[order]
    out = []
    while len(scores):
        overlap = _iou(dets[0], dets[:, :4]) > iou
        overlap[0] = True
        w = scores[overlap]
        merged = (dets[overlap] * w[:, None]).sum(axis=0) / w.sum()
        out.append((merged, float(scores[0])))
        dets, scores = dets[~overlap], scores[~overlap]
    return out


def tiles(w: int, h: int, per_short_side: int, overlap: float = 0.25) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side): ``per_short_side`` across the short side, overlapping, covering the image."""
    side = int(min(w, h) / (per_short_side - (per_short_side - 1) * overlap))
    step = max(1, int(side * (1 - overlap)))

    def starts(n: int) -> list[int]:
        out = list(range(0, max(1, n - side + 1), step))
        if out[-1] + side < n:
            out.append(n - side)
        return out

    return [(x, y, side) for y in starts(h) for x in starts(w)]


class FaceDetector:
    """Runs a face-detection session on RGB uint8 images of any size.

    Why tiles: the short-range model finds faces that fill roughly 10–75 % of its 128×128 input.
    A kiosk shot from 1–3 m (or a full-body photo) has faces of 5–10 % of the frame, which the
    whole-image pass misses. With ``tiles_per_short_side`` = N > 1 the image is also scanned with
    overlapping square crops, N across the short side, and all detections are merged by weighted NMS.
    """

    def __init__(self, session: Session, score_threshold: float = 0.75, tiles_per_short_side: int = 1) -> None:
        self.session = session
        self.threshold = score_threshold
        self.tiles_per_short_side = tiles_per_short_side

    def _raw(self, rgb: np.ndarray, x0: int, y0: int) -> tuple[np.ndarray, np.ndarray]:
        """Detections of one crop as (N,16) points in pixel coordinates of the full image, and scores."""
        x, s, px, py = preprocess(rgb)
        reg, logits = output_by_shape(self.session.run(x), (NUM_ANCHORS, 16), (NUM_ANCHORS, 1))
        dets, scores = decode(reg, logits, self.threshold)
        pts = dets.reshape(-1, 8, 2) * INPUT_SIZE
        pts[:, :, 0] = (pts[:, :, 0] - px) / s + x0
        pts[:, :, 1] = (pts[:, :, 1] - py) / s + y0
        return pts.reshape(-1, 16), scores

    def detect(self, rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        parts = [self._raw(rgb, 0, 0)]
        if self.tiles_per_short_side > 1:
            for tx, ty, side in tiles(w, h, self.tiles_per_short_side):
                parts.append(self._raw(rgb[ty:ty + side, tx:tx + side], tx, ty))
        dets = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        faces = []
        for d, score in weighted_nms(dets, scores):
            pts = d.reshape(-1, 2)
            x0, y0 = np.clip(pts[0], 0, (w, h))
            x1, y1 = np.clip(pts[1], 0, (w, h))
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            kps = tuple((float(a), float(b)) for a, b in pts[2:])
            faces.append(Face(box=(float(x0), float(y0), float(x1), float(y1)), score=score, keypoints=kps))
        return faces
