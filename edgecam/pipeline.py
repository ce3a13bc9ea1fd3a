"""The shot pipeline: frame → scene → style plan → crop → matte → render → save, each stage timed.

Why this order: the scene is recognised on a small analysis image (640 px), the frame is then
cropped to the film's image area at print resolution, and matting and rendering run on that
print-size area only, so the cost of a shot barely grows with the sensor's megapixels. The only
full-resolution work is encoding the original for the archive: it starts on the second core as
soon as the crop no longer needs the full frame (in parallel with matting and rendering), and it
converts the frame in place and lets libjpeg write straight to a file, because ``cv2.imencode``
on a 12 MP frame needs two extra frame-sized buffers (measured: shot peak RSS ~340 MB vs ~300 MB).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

import edgecam
from edgecam.camera.base import Frame
from edgecam.imageops import shrink_long_edge
from edgecam.memory import release_free_memory
from edgecam.output.store import PhotoStore, SavedShot, encode_jpeg, encode_jpeg_low_memory
from edgecam.styles.book import StyleBook
from edgecam.styles.render import Renderer
from edgecam.vision.imageio import to_rgb8
from edgecam.vision.types import SceneResult, Vision

log = logging.getLogger(__name__)


@dataclass
class ShotResult:
    shot_id: str
    scene: SceneResult
    style: str
    timings_ms: dict[str, float]
    saved: SavedShot
    frame_size: tuple[int, int]
    applied: dict[str, Any] = field(default_factory=dict)
    trigger: str = ""
    print_jobs: list[str] = field(default_factory=list)
    print_error: str | None = None

    def summary(self) -> dict[str, Any]:
        """What an event, a reply and the CLI table show about a shot."""
        return {
            "shot_id": self.shot_id,
            "scene": self.scene.label,
            "scene_score": round(float(self.scene.scores.get(self.scene.label, 0.0)), 3),
            "reasons": list(self.scene.reasons),
            "faces": len(self.scene.faces),
            "style": self.style,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "styled": str(self.saved.styled),
            "original": str(self.saved.original) if self.saved.original else None,
            "frame_size": list(self.frame_size),
            "trigger": self.trigger,
            **({"print_jobs": list(self.print_jobs)} if self.print_jobs else {}),
            **({"print_error": self.print_error} if self.print_error else {}),
        }


class ShotPipeline:
    """Turns one frame into a saved instant photo. Shots are serialised; ``shoot`` is thread-safe."""

    def __init__(
        self,
        vision: Vision,
        book: StyleBook,
        renderer: Renderer,
        store: PhotoStore,
        *,
        analysis_long_edge: int = 640,
        jpeg_quality: int = 92,
        save_original: bool = True,
        caption: str = "{date:%d %b %Y}",
        device_id: str = "edgecam",
        product_cutout_on_device: bool = False,
    ) -> None:
        self.vision = vision
        self.book = book
        self.renderer = renderer
        self.store = store
        self.analysis_long_edge = analysis_long_edge
        self.jpeg_quality = jpeg_quality
        self.save_original = save_original
        self.caption = caption
        self.device_id = device_id
        self.product_cutout_on_device = product_cutout_on_device
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode-original")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def choose_style(self, requested: str | None, scene_label: str) -> str:
        """The requested style, or the scene's style when none (or ``auto``) is requested."""
        if requested is None or requested == "auto":
            return self.book.for_scene(scene_label)
        self.book.get(requested)
        return requested

    def shoot(self, frame: Frame, style: str | None = None, trace_id: str | None = None) -> ShotResult:
        if style is not None and style != "auto":
            self.book.get(style)  # an unknown style fails before any work is done
        with self._lock:
            try:
                return self._shoot(frame, style, trace_id)
            finally:
                release_free_memory()

    def _shoot(self, frame: Frame, style_req: str | None, trace_id: str | None) -> ShotResult:
        t: dict[str, float] = {}
        t0 = time.perf_counter()
        when = datetime.now().astimezone()
        shot_id = f"{when:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"

        def lap(name: str, since: float) -> float:
            now = time.perf_counter()
            t[name] = (now - since) * 1000.0
            return now

        rgb = to_rgb8(frame.image)
        original: Future[bytes] | bytes | None = frame.encoded if self.save_original else None
        s = time.perf_counter()

        small, sx, sy = shrink_long_edge(rgb, self.analysis_long_edge)
        s = lap("prepare", s)
        faces_small = self.vision.detect_faces(small)
        s = lap("faces", s)
        scene = self.vision.classify_scene(small, faces_small)
        s = lap("scene", s)

        style_name = self.choose_style(style_req, scene.label)
        style = self.book.get(style_name)
        faces_full = [f.scaled(1 / sx, 1 / sy) for f in faces_small]
        area, transform = self.renderer.crop_to_area(rgb, style, faces_full)
        if np.shares_memory(area, rgb):  # a frame already at print size: the original's encoder swaps rgb in place
            area = area.copy()
        faces_area = [transform.face(f) for f in faces_full]
        if self.save_original and original is None:
            # The full frame is no longer read from here on: encode it on the second core.
            original = self._pool.submit(encode_jpeg_low_memory, rgb, self.jpeg_quality, self.store.root)
        s = lap("crop", s)

        alpha = None
        matte_kind = "none"
        if style.background.mode != "keep":
            if faces_area:
                alpha = self.vision.matte(area, faces_area)
                matte_kind = "portrait" if alpha is not None else "none"
            elif scene.label == "product":
                if self.product_cutout_on_device:
                    alpha = self.vision.product_cutout(area)
                    matte_kind = "product"
                else:
                    matte_kind = "product:offloaded"  # the outbox job product_cutout does it in the cloud
        s = lap("matte", s)

        caption = self._caption(when, scene, style_name)
        card, info = self.renderer.render(area, alpha, style_name, caption_text=caption, seed=int(when.timestamp()))
        s = lap("render", s)

        styled_jpeg = encode_jpeg(card, self.jpeg_quality)
        original_jpeg = original.result() if isinstance(original, Future) else original
        sidecar = {
            "shot_id": shot_id,
            "trace_id": trace_id or shot_id,
            "time": when.isoformat(),
            "device": self.device_id,
            "software": f"edgecam {edgecam.__version__}",
            "source": frame.source,
            "frame_size": list(frame.size),
            "scene": scene.to_dict(),
            "style": {"name": style_name, "film": style.film, "matte": matte_kind, "applied": info},
            "models": self.vision.models_used(),
            "timings_ms": {k: round(v, 2) for k, v in t.items()},
        }
        saved = self.store.save_shot(shot_id, when, styled_jpeg, original_jpeg, sidecar)
        lap("save", s)
        t["total"] = (time.perf_counter() - t0) * 1000.0
        return ShotResult(shot_id, scene, style_name, t, saved, frame.size, {"matte": matte_kind, **info})

    def _caption(self, when: datetime, scene: SceneResult, style: str) -> str:
        try:
            return self.caption.format(date=when, scene=scene.label, style=style, device=self.device_id)
        except (KeyError, ValueError, IndexError) as e:
            log.warning("styles.caption %r: %s; using the date", self.caption, e)
            return f"{when:%d %b %Y}"
