"""Scene recognition: a small trained linear head over EfficientNet-Lite0 features and cheap cues.

Why this design (measured on scene-dev, see scripts/eval_scene.py): hand-written rules over
ImageNet classes plateau around 68 %; a logistic head on the classifier's 1280-d embedding plus
face count/area, brightness/contrast/saturation and text coverage reaches far higher, is a few KB of
JSON, and runs as one numpy matmul + softmax (no scikit-learn at run time). The reasons shown to the
operator come from the same evidence the head sees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgecam.errors import ModelError
from edgecam.imageops import shrink_for_model
from edgecam.vision.preprocess import prepare
from edgecam.vision.runtime import Session
from edgecam.vision.types import SCENE_LABELS, Face, SceneResult

STAT_NAMES = (
    "faces_log",
    "one_face",
    "several_faces",
    "face_area",
    "largest_face",
    "luma_mean",
    "luma_std",
    "dark_fraction",
    "bright_fraction",
    "saturation_mean",
    "edge_density",
    "text_coverage",
)

# ImageNet class groups (standard 1000-class order). Their summed probabilities are compact,
# non-linear cues the linear head cannot derive from the embedding with only ~100 training photos.
IMAGENET_GROUPS: dict[str, tuple[int, ...]] = {
    "animal": tuple(range(0, 398)),
    "dog": tuple(range(151, 269)),
    "cat": tuple(range(281, 294)),
    "food": (*range(923, 970), 809),
    "nature": tuple(range(970, 981)),
    "document": (446, 549, 916, 917, 918, 921, 922),
    "building": (483, 497, 498, 538, 624, 663, 668, 698, 718, 821, 839, 873, 900, 919, 920),
    "furniture": (453, 526, 532, 548, 559, 564, 598, 750, 762, 765, 789, 831, 894, 905),
}
GROUP_NAMES = tuple(f"imagenet_{g}" for g in IMAGENET_GROUPS)
STATS_LONG_EDGE = 320


def image_stats(rgb: np.ndarray, faces: Sequence[Face], text_prob: np.ndarray | None) -> dict[str, float]:
    """Cheap global statistics in 0..1-ish ranges (computed on the small analysis image)."""
    h, w = rgb.shape[:2]
    area = float(h * w)
    face_areas = [f.area / area for f in faces]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    edges = cv2.Canny(gray, 80, 160)
    return {
        "faces_log": float(np.log1p(len(faces))),
        # portrait vs group hinges on the count; explicit indicators are easier for a linear head
        "one_face": float(len(faces) == 1),
        "several_faces": float(len(faces) >= 2),
        "face_area": float(min(1.0, sum(face_areas))),
        "largest_face": float(max(face_areas, default=0.0)),
        "luma_mean": float(gray.mean()) / 255.0,
        "luma_std": float(gray.std()) / 255.0,
        "dark_fraction": float((gray < 40).mean()),
        "bright_fraction": float((gray > 220).mean()),
        "saturation_mean": float(hsv[:, :, 1].mean()) / 255.0,
        "edge_density": float((edges > 0).mean()),
        "text_coverage": float((text_prob > 0.3).mean()) if text_prob is not None else 0.0,
    }


@dataclass(frozen=True)
class SceneHead:
    """Standardise → linear → softmax, with the training split and metrics kept beside the weights."""

    labels: tuple[str, ...]
    feature_names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (classes, features)
    bias: np.ndarray
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> SceneHead:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            head = cls(
                labels=tuple(d["labels"]),
                feature_names=tuple(d["feature_names"]),
                mean=np.asarray(d["mean"], np.float32),
                std=np.asarray(d["std"], np.float32),
                weights=np.asarray(d["weights"], np.float32),
                bias=np.asarray(d["bias"], np.float32),
                meta={k: v for k, v in d.items() if k not in ("mean", "std", "weights", "bias")},
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{path}: not a valid scene head: {e}") from e
        if set(head.labels) != set(SCENE_LABELS):
            raise ModelError(f"{path}: head labels {head.labels} differ from {SCENE_LABELS}")
        n = len(head.feature_names)
        if head.weights.shape != (len(head.labels), n) or head.mean.shape != (n,) or head.std.shape != (n,):
            raise ModelError(f"{path}: head arrays do not match {n} features × {len(head.labels)} labels")
        arrays = (head.mean, head.std, head.weights, head.bias)
        if not all(np.isfinite(a).all() for a in arrays) or (head.std <= 0).any():
            raise ModelError(f"{path}: head has non-finite values or a non-positive std")
        return head

    def to_json(self) -> str:
        d = dict(self.meta)
        d.update(
            labels=list(self.labels),
            feature_names=list(self.feature_names),
            mean=[float(f"{v:.6g}") for v in self.mean],
            std=[float(f"{v:.6g}") for v in self.std],
            weights=[[float(f"{v:.5g}") for v in row] for row in self.weights],
            bias=[float(f"{v:.6g}") for v in self.bias],
        )
        return json.dumps(d, separators=(",", ":"))

    def predict(self, features: np.ndarray) -> np.ndarray:
        z = (features.astype(np.float32) - self.mean) / self.std
        logits = self.weights @ z + self.bias
        e = np.exp(logits - logits.max())
        return e / e.sum()


class SceneFeatures:
    """Turns an image and its faces into the feature vector the head was trained on."""

    def __init__(
        self,
        classifier: Session,
        classifier_preprocess: Mapping[str, Any],
        imagenet_labels: Sequence[str],
        text: Session | None = None,
        text_preprocess: Mapping[str, Any] | None = None,
        analysis_long_edge: int = 640,
        text_long_edge: int = 160,
        parallel: bool = True,
    ) -> None:
        self.classifier = classifier
        # Why a second thread: the classifier (~9 ms) and the text detector (~8–12 ms) are
        # independent single-threaded sessions, and ONNX Runtime releases the GIL while it runs, so
        # on a 2-core (or 4-core Pi) board the scene stage costs the longer of the two, not the sum.
        self._pool: ThreadPoolExecutor | None = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="scene-text") if parallel and text else None
        )
        self.cls_pre = dict(classifier_preprocess)
        self.cls_layout = "NHWC" if classifier.inputs[0].shape[-1] == 3 else "NCHW"
        self.imagenet_labels = list(imagenet_labels)
        self.text = text
        self.text_pre = dict(text_preprocess or {})
        self.analysis_long_edge = analysis_long_edge
        self.text_long_edge = text_long_edge

    def _small(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = rgb.shape[:2]
        s = min(1.0, self.analysis_long_edge / max(h, w))
        if s >= 1.0:
            return rgb, 1.0
        return shrink_for_model(rgb, (round(w * s), round(h * s))), s

    def close(self) -> None:
        """Stop the text detector's thread (the sessions belong to the caller)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def text_probability(self, small: np.ndarray) -> np.ndarray | None:
        if self.text is None:
            return None
        h, w = small.shape[:2]
        s = self.text_long_edge / max(h, w)
        size = (max(32, round(w * s / 32) * 32), max(32, round(h * s / 32) * 32))
        x = prepare(small, self.text_pre, "NCHW", size=size)
        return next(iter(self.text.run(x).values()))[0, 0]

    def compute(self, rgb: np.ndarray, faces: Sequence[Face]) -> tuple[np.ndarray, dict[str, Any]]:
        """(feature vector, evidence) where evidence holds stats and the top ImageNet classes."""
        small, s = self._small(rgb)
        pending = self._pool.submit(self.text_probability, small) if self._pool is not None else None
        out = self.classifier.run(prepare(small, self.cls_pre, self.cls_layout))
        logits = out["logits"][0].astype(np.float64) if "logits" in out else None
        feats = out["features"][0] if "features" in out else next(iter(out.values()))[0]
        # statistics are global, so a ~320 px copy gives the same numbers at a quarter of the cost
        tiny, ts = small, 1.0
        if max(small.shape[:2]) > STATS_LONG_EDGE:
            ts = STATS_LONG_EDGE / max(small.shape[:2])
            tiny = shrink_for_model(small, (round(small.shape[1] * ts), round(small.shape[0] * ts)))
        text = pending.result() if pending is not None else self.text_probability(small)
        stats = image_stats(tiny, [f.scaled(s * ts, s * ts) for f in faces], text)
        evidence: dict[str, Any] = {"stats": stats, "imagenet": []}
        groups = np.zeros(len(IMAGENET_GROUPS), np.float32)
        if logits is not None:
            p = np.exp(logits - logits.max())
            p /= p.sum()
            groups = np.array([p[list(idx)].sum() for idx in IMAGENET_GROUPS.values()], np.float32)
            stats.update({n: float(v) for n, v in zip(GROUP_NAMES, groups, strict=True)})
            if self.imagenet_labels:
                top = np.argsort(-p)[:3]
                evidence["imagenet"] = [(self.imagenet_labels[i], float(p[i])) for i in top]
        vec = np.concatenate(
            [feats.astype(np.float32), np.array([stats[k] for k in STAT_NAMES], np.float32), groups]
        )
        return vec, evidence


def feature_names(n_embedding: int) -> tuple[str, ...]:
    return tuple(f"emb{i}" for i in range(n_embedding)) + STAT_NAMES + GROUP_NAMES


def reasons(label: str, evidence: Mapping[str, Any], n_faces: int) -> list[str]:
    """Human-readable evidence, most relevant first."""
    st = evidence["stats"]
    out = []
    if n_faces:
        out.append(f"{n_faces} face{'s' if n_faces != 1 else ''}, {st['face_area'] * 100:.0f} % face area")
    else:
        out.append("no faces")
    if evidence.get("imagenet"):
        name, p = evidence["imagenet"][0]
        out.append(f"ImageNet: {name!r} {p:.2f}")
    luma = st["luma_mean"] * 255
    if luma < 70:
        out.append(f"dark: mean luma {luma:.0f}")
    elif luma > 190:
        out.append(f"bright: mean luma {luma:.0f}")
    if st["text_coverage"] > 0.02:
        out.append(f"text covers {st['text_coverage'] * 100:.0f} %")
    if label == "landscape" or label == "cityscape" or st["saturation_mean"] > 0.45:
        out.append(f"saturation {st['saturation_mean'] * 100:.0f} %")
    return out


class SceneClassifier:
    """Features → head → SceneResult."""

    def __init__(self, features: SceneFeatures, head: SceneHead) -> None:
        self.features = features
        self.head = head

    def classify(self, rgb: np.ndarray, faces: Sequence[Face]) -> SceneResult:
        vec, evidence = self.features.compute(rgb, faces)
        if vec.shape[0] != len(self.head.feature_names):
            raise ModelError(
                f"scene head expects {len(self.head.feature_names)} features, got {vec.shape[0]}: "
                "retrain it (scripts/train_scene_head.py) for this classifier"
            )
        probs = self.head.predict(vec)
        scores = {lab: float(probs[self.head.labels.index(lab)]) for lab in SCENE_LABELS}
        label = max(scores, key=scores.__getitem__)
        return SceneResult(
            label=label,
            scores=scores,
            reasons=reasons(label, evidence, len(faces)),
            faces=list(faces),
            stats=dict(evidence["stats"]),
        )
