"""Results that the vision stages hand to the rest of the pipeline.

Why plain frozen dataclasses: they cross thread boundaries (capture → shot → MQTT events) and
end up in sidecar JSON, so they must be immutable and trivially serialisable with ``to_dict``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

SCENE_LABELS: tuple[str, ...] = (
    "portrait",
    "group",
    "landscape",
    "cityscape",
    "food",
    "pet",
    "night",
    "indoor",
    "document",
    "product",
)


@dataclass(frozen=True)
class Face:
    """One detected face in pixel coordinates of the image it was detected on."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float
    # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
    keypoints: tuple[tuple[float, float], ...] = ()

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def scaled(self, sx: float, sy: float, dx: float = 0.0, dy: float = 0.0) -> Face:
        """The same face in another image's coordinates (after a resize by sx, sy and a shift)."""
        x0, y0, x1, y1 = self.box
        return Face(
            box=(x0 * sx + dx, y0 * sy + dy, x1 * sx + dx, y1 * sy + dy),
            score=self.score,
            keypoints=tuple((x * sx + dx, y * sy + dy) for x, y in self.keypoints),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SceneResult:
    """What the scene stage concluded, with the evidence an operator can read."""

    label: str
    scores: dict[str, float]
    reasons: list[str]
    faces: list[Face] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)  # brightness, contrast, person_area, ...

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "scores": {k: round(float(v), 4) for k, v in self.scores.items()},
            "reasons": list(self.reasons),
            "faces": [f.to_dict() for f in self.faces],
            "stats": {k: round(float(v), 4) for k, v in self.stats.items()},
        }


class Vision(Protocol):
    """The vision stack as the shot pipeline sees it (implemented by ``edgecam.vision.stack``)."""

    def detect_faces(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, in its pixel coordinates."""

    def classify_scene(self, rgb: np.ndarray, faces: list[Face]) -> SceneResult:
        """Scene label, scores and reasons for an RGB uint8 image and its faces."""

    def matte(
        self, rgb: np.ndarray, faces: list[Face], size: tuple[int, int] | None = None, quality: str = "fast"
    ) -> np.ndarray | None:
        """Soft person alpha (float32 HxW in 0..1) at the image's resolution or ``size``; None if no person."""

    def product_cutout(self, rgb: np.ndarray) -> np.ndarray:
        """Soft salient-object alpha (float32 HxW in 0..1) at the image's resolution."""

    def models_used(self) -> dict[str, dict[str, str]]:
        """Model name → {"file": ..., "sha256": ..., "runtime": ...} for the sidecar."""
