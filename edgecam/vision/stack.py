"""The vision stack the shot pipeline talks to: faces, scene, portrait matte, product cut-out.

Why explicit ``start()``/``close()``: every model the config names is resolved, checksum-verified
and loaded at start-up, so a missing or corrupt file stops the daemon before the first guest
presses the button (and ``edgecam doctor`` can report it), instead of failing mid-shot.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from edgecam.config import ModelChoice, ModelsConfig, VisionConfig
from edgecam.errors import ModelError
from edgecam.vision.faces import FaceDetector
from edgecam.vision.imageio import to_rgb8
from edgecam.vision.matting import PortraitMatter, ProductCutter, studio_composite
from edgecam.vision.registry import ModelRegistry
from edgecam.vision.runtime import Session, open_session
from edgecam.vision.scene import SceneClassifier, SceneFeatures, SceneHead
from edgecam.vision.types import Face, SceneResult

__all__ = ["VisionStack", "studio_composite"]

LABELS_FILE = "imagenet_labels.txt"


class VisionStack:
    """Implements :class:`edgecam.vision.types.Vision` on the exported models."""

    def __init__(self, models: ModelsConfig | None = None, vision: VisionConfig | None = None) -> None:
        self.models_cfg = models or ModelsConfig()
        self.vision_cfg = vision or VisionConfig()
        self.registry: ModelRegistry | None = None
        self.sessions: dict[str, Session] = {}
        self._head_file: dict[str, str] = {}
        self._faces: FaceDetector | None = None
        self._scene: SceneClassifier | None = None
        self._matter: PortraitMatter | None = None
        self._product: ProductCutter | None = None
        # ONNX Runtime/LiteRT sessions are not guaranteed re-entrant; the pipeline may call from 2 threads
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------------- lifecycle
    def start(self) -> VisionStack:
        """Open and verify every model the config names; raises ModelError naming the problem."""
        if self.registry is not None:
            return self
        m, v = self.models_cfg, self.vision_cfg
        reg = ModelRegistry(m.dir)
        roles: dict[str, ModelChoice] = {
            "face_detection": m.face_detection,
            "segmentation": m.segmentation,
            "classifier": m.classifier,
            "salient_object": m.salient_object,
        }
        if v.text_detection:
            roles["text_detector"] = m.text_detector
        for choice in [*roles.values()]:
            reg.entry(choice.name)  # unknown names fail here, before anything is loaded
        reg.entry(m.scene_head)
        sessions = {role: open_session(reg, c, m.threads, verify=m.verify_checksums) for role, c in roles.items()}
        head_file = next(iter(reg.files(m.scene_head)), None)
        if head_file is None:
            raise ModelError(f"manifest entry {m.scene_head!r} lists no file")
        if m.verify_checksums:
            reg.verify(head_file)
        labels_file = reg.aux(LABELS_FILE) if LABELS_FILE in reg.manifest.get("aux_files", {}) else None
        head = SceneHead.load(head_file.path)
        want = head.meta.get("classifier", {})
        got_sess = sessions["classifier"]
        if want and want.get("sha256") not in (None, got_sess.file.sha256):
            raise ModelError(
                f"{head_file.path}: scene head was trained on {want.get('file')} ({want.get('precision')}, "
                f"sha256 {str(want.get('sha256'))[:12]}…), but the config uses {got_sess.file.path.name} "
                f"({got_sess.file.precision}, sha256 {got_sess.file.sha256[:12]}…); "
                "retrain with scripts/train_scene_head.py or change models.classifier"
            )
        labels = labels_file.path.read_text(encoding="utf-8").splitlines() if labels_file else []
        self._faces = FaceDetector(sessions["face_detection"], v.face_score_threshold, v.face_tiles)
        self._scene = SceneClassifier(
            SceneFeatures(
                sessions["classifier"],
                reg.preprocess(m.classifier.name),
                labels,
                sessions.get("text_detector"),
                reg.preprocess(m.text_detector.name) if "text_detector" in sessions else None,
                v.analysis_long_edge,
                v.text_long_edge,
            ),
            head,
        )
        self._matter = PortraitMatter(
            sessions["segmentation"],
            refine=v.matte_refine,
            radius=v.guided_radius,
            eps=v.guided_eps,
            flip_average=v.matte_flip_average,
            work_long_edge=v.matte_work_long_edge,
        )
        self._product = ProductCutter(sessions["salient_object"])
        self.sessions = sessions
        self._head_file = {"file": head_file.path.name, "sha256": head_file.sha256, "runtime": "numpy"}
        self.registry = reg
        return self

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions = {}
        self.registry = None
        self._faces = self._scene = self._matter = self._product = None

    def __enter__(self) -> VisionStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _need(self, part: Any) -> Any:
        if part is None:
            raise ModelError("vision stack is not started (call start() first)")
        return part

    # ------------------------------------------------------------------------------------- stages
    def detect_faces(self, rgb: np.ndarray) -> list[Face]:
        faces = self._need(self._faces)
        img = to_rgb8(rgb)
        with self._lock:
            return faces.detect(img)

    def classify_scene(self, rgb: np.ndarray, faces: list[Face]) -> SceneResult:
        scene = self._need(self._scene)
        img = to_rgb8(rgb)
        with self._lock:
            return scene.classify(img, faces)

    def matte(self, rgb: np.ndarray, faces: list[Face], size: tuple[int, int] | None = None) -> np.ndarray | None:
        """Person alpha at the image's size, or at ``size`` (w, h), e.g. the print size; None without faces."""
        matter = self._need(self._matter)
        img = to_rgb8(rgb)
        with self._lock:
            return matter.matte(img, faces, size)

    def product_cutout(self, rgb: np.ndarray) -> np.ndarray:
        product = self._need(self._product)
        img = to_rgb8(rgb)
        with self._lock:
            return product.cutout(img)

    def models_used(self) -> dict[str, dict[str, str]]:
        out = {s.file.model: s.describe() for s in self.sessions.values()}
        if self._head_file:
            out[self.models_cfg.scene_head] = dict(self._head_file)
        return out
