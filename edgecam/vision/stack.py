"""The vision stack the shot pipeline talks to: faces, scene, portrait matte, product cut-out.

Why explicit ``start()``/``close()``: every model the config names is resolved, checksum-verified
and loaded at start-up, so a missing or corrupt file stops the daemon before the first guest
presses the button (and ``edgecam doctor`` can report it), instead of failing mid-shot.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgecam.config import ModelChoice, ModelsConfig, VisionConfig
from edgecam.errors import ModelError
from edgecam.vision.faces import FaceDetector
from edgecam.vision.imageio import to_rgb8
from edgecam.vision.matting import EnsembleMatter, PortraitMatter, ProductCutter, studio_composite
from edgecam.vision.registry import ModelRegistry
from edgecam.vision.runtime import Session, open_session
from edgecam.vision.scene import SceneClassifier, SceneFeatures, SceneHead
from edgecam.vision.types import Face, SceneResult

__all__ = ["VisionStack", "studio_composite"]

LABELS_FILE = "imagenet_labels.txt"
FINGERPRINT_TOLERANCE = 0.05
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"


def load_sample(name: str) -> np.ndarray:
    """A bundled sample photo as RGB uint8."""
    bgr = cv2.imread(str(SAMPLES_DIR / name), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ModelError(f"bundled sample {SAMPLES_DIR / name} is missing")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def check_head_fits(head: SceneHead, path: Path, features: SceneFeatures, faces: FaceDetector) -> None:
    """Refuse a scene head whose features no longer match the configured classifier and settings.

    Why a functional check rather than the classifier's sha256: int8 re-exports are not
    byte-identical, yet equivalent. The head stores its scores on a bundled sample photo; if the
    current models give different scores there (another precision, another classifier, other
    feature settings), the head would silently be wrong, so start-up fails with what to do.
    """
    fp = head.meta.get("fingerprint")
    want = head.meta.get("classifier", {})
    got = features.classifier.file
    if want and (want.get("file"), want.get("precision")) != (got.path.name, got.precision):
        raise ModelError(
            f"{path}: scene head was trained on {want.get('file')} ({want.get('precision')}), but the config "
            f"uses {got.path.name} ({got.precision}); retrain with scripts/train_scene_head.py or change "
            "models.classifier"
        )
    if not fp:
        return
    rgb = load_sample(fp["sample"])
    probs = head.predict(features.compute(rgb, faces.detect(rgb))[0])
    ref = np.asarray(fp["scores"], np.float32)
    diff = float(np.abs(probs - ref).max())
    if not diff <= FINGERPRINT_TOLERANCE:  # also catches NaN
        raise ModelError(
            f"{path}: scene head scores on {fp['sample']} differ by {diff:.3f} (> {FINGERPRINT_TOLERANCE}) from "
            f"when it was trained (classifier sha256 {str(want.get('sha256'))[:12]}…, now {got.sha256[:12]}…); "
            "the classifier or the scene settings changed: retrain with scripts/train_scene_head.py"
        )


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
        self._ensemble: EnsembleMatter | None = None
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
        labels = labels_file.path.read_text(encoding="utf-8").splitlines() if labels_file else []
        features = SceneFeatures(
            sessions["classifier"],
            reg.preprocess(m.classifier.name),
            labels,
            sessions.get("text_detector"),
            reg.preprocess(m.text_detector.name) if "text_detector" in sessions else None,
            v.analysis_long_edge,
            v.text_long_edge,
        )
        check_head_fits(head, head_file.path, features, FaceDetector(sessions["face_detection"],
                                                                      v.face_score_threshold, v.face_tiles))
        self._faces = FaceDetector(sessions["face_detection"], v.face_score_threshold, v.face_tiles)
        self._scene = SceneClassifier(features, head)
        self._matter = PortraitMatter(
            sessions["segmentation"],
            refine=v.matte_refine,
            radius=v.guided_radius,
            eps=v.guided_eps,
            flip_average=v.matte_flip_average,
            work_long_edge=v.matte_work_long_edge,
        )
        self._product = ProductCutter(sessions["salient_object"])
        self._ensemble = EnsembleMatter(self._matter, self._product)
        self.sessions = sessions
        self._head_file = {"file": head_file.path.name, "sha256": head_file.sha256, "runtime": "numpy"}
        self.registry = reg
        return self

    def close(self) -> None:
        if self._scene is not None:
            self._scene.features.close()
        for s in self.sessions.values():
            s.close()
        self.sessions = {}
        self.registry = None
        self._faces = self._scene = self._matter = self._product = self._ensemble = None

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

    def matte(
        self, rgb: np.ndarray, faces: list[Face], size: tuple[int, int] | None = None, quality: str = "fast"
    ) -> np.ndarray | None:
        """Person alpha at the image's size, or at ``size`` (w, h), e.g. the print size; None without faces.

        ``quality="high"`` is the ~0.7 s two-model ensemble meant for the cloud ``matte_refine`` job.
        """
        if quality not in ("fast", "high"):
            raise ValueError(f"matte quality must be 'fast' or 'high', not {quality!r}")
        matter = self._need(self._matter if quality == "fast" else self._ensemble)
        img = to_rgb8(rgb)  # a bad photo is refused whether or not it has faces
        if not faces:  # the gate for both mattes: the segmenters also fire on cats and coffee cups
            return None
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
