"""The renderer: camera frame → image area (face-aware crop) → styled instant-photo card.

Why two calls (:meth:`Renderer.crop_to_area`, then :meth:`Renderer.render`): matting is the
expensive step, and it should run on exactly the pixels that end up on the card — the cropped,
print-sized image area — not on the full frame. The shot pipeline crops first, mattes the area,
then renders; the crop's transform maps face boxes into the area for the matting stage.

Order of effects in :meth:`render`: enhance (exposure fixes need the raw tones) → background
(composited before grading so subject and new background get the same look and sit together) →
grade → vignette → grain (grain last, so the grade does not stretch it) → card and caption.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edgecam.imageops import shrink
from edgecam.styles.background import apply_background, hex_to_rgb
from edgecam.styles.book import StyleBook
from edgecam.styles.card import place_on_card
from edgecam.styles.enhance import enhance
from edgecam.styles.films import FilmLayout, get_film
from edgecam.styles.finish import draw_caption, grain, vignette
from edgecam.styles.grade import apply_grade
from edgecam.styles.spec import StyleSpec
from edgecam.vision.types import Face

# Face boxes from a detector cover brows to mouth; grow them so hair and chin stay in the crop.
FACE_MARGIN = {"left": 0.25, "right": 0.25, "top": 0.5, "bottom": 0.3}


@dataclass(frozen=True)
class AreaTransform:
    """Maps original-image coordinates into the image area: ``x' = (x − x0)·sx``."""

    crop: tuple[float, float, float, float]  # x0, y0, x1, y1 in the original image
    sx: float
    sy: float

    def point(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.crop[0]) * self.sx, (y - self.crop[1]) * self.sy)

    def face(self, face: Face) -> Face:
        return face.scaled(self.sx, self.sy, -self.crop[0] * self.sx, -self.crop[1] * self.sy)

    def to_dict(self) -> dict[str, Any]:
        return {"crop": [round(v, 2) for v in self.crop], "sx": round(self.sx, 6), "sy": round(self.sy, 6)}


def _place(lo: float, hi: float, size: float, limit: float, preferred: float) -> float:
    """Start of a window of ``size`` in [0, limit] containing [lo, hi] if possible, near ``preferred``."""
    lo_ok, hi_ok = max(0.0, hi - size), min(limit - size, lo)
    if lo_ok <= hi_ok:
        return min(max(preferred, lo_ok), hi_ok)
    return min(max((lo + hi) / 2 - size / 2, 0.0), limit - size)  # subject larger than the window


class Renderer:
    """Renders styles from a :class:`StyleBook` at a print resolution (``output.dpi``)."""

    def __init__(self, book: StyleBook, dpi: int = 300) -> None:
        self.book = book
        self.dpi = dpi

    def _resolve(self, style: str | StyleSpec) -> tuple[str, StyleSpec]:
        if isinstance(style, StyleSpec):
            return "<custom>", style
        return style, self.book.get(style)

    def layout(self, style: str | StyleSpec) -> FilmLayout:
        return get_film(self._resolve(style)[1].film).layout(self.dpi)

    def area_size(self, style: str | StyleSpec) -> tuple[int, int]:
        """(w, h) in pixels of the style's film image area at this renderer's dpi."""
        return self.layout(style).area_size

    def warm_up(self, styles: Sequence[str] | None = None) -> dict[str, float]:
        """Render every style once on a grey frame; returns milliseconds per style.

        Why: the first render of a style builds its LUT atlas and variant, the vignette mask, the
        grain texture and the font (tens of milliseconds each). The daemon calls this at start-up
        so the first guest of the evening does not pay for it.
        """
        spent: dict[str, float] = {}
        for name in styles if styles is not None else self.book.names():
            w, h = self.area_size(name)
            t = time.perf_counter()
            grey = np.full((h, w, 3), 118, np.uint8)
            alpha = np.zeros((h, w), np.float32)
            self.render(grey, alpha, name, "warm-up", seed=0)
            spent[name] = round((time.perf_counter() - t) * 1000.0, 1)
        return spent

    def crop_to_area(
        self, rgb: np.ndarray, style: str | StyleSpec, faces: Sequence[Face] | None = None
    ) -> tuple[np.ndarray, AreaTransform]:
        """Cover-crop ``rgb`` to the film's image-area aspect and resize to the print size.

        With faces, the crop keeps all of them (with margin for hair and chin) when they fit,
        and puts them in the upper third vertically — the portrait framing people expect.
        """
        aw, ah = self.area_size(style)
        h, w = rgb.shape[:2]
        aspect = aw / ah
        if w / h > aspect:
            cw, ch = h * aspect, float(h)
        else:
            cw, ch = float(w), w / aspect
        # Without faces: centred horizontally, slightly high vertically (subjects and horizons sit
        # in the upper part of most frames; a wide crop of a tall photo would otherwise cut heads).
        x0, y0 = (w - cw) / 2, (h - ch) * 0.35
        if faces:
            fx0 = min(f.box[0] - FACE_MARGIN["left"] * (f.box[2] - f.box[0]) for f in faces)
            fx1 = max(f.box[2] + FACE_MARGIN["right"] * (f.box[2] - f.box[0]) for f in faces)
            fy0 = min(f.box[1] - FACE_MARGIN["top"] * (f.box[3] - f.box[1]) for f in faces)
            fy1 = max(f.box[3] + FACE_MARGIN["bottom"] * (f.box[3] - f.box[1]) for f in faces)
            fx0, fy0, fx1, fy1 = max(0.0, fx0), max(0.0, fy0), min(float(w), fx1), min(float(h), fy1)
            cx = (min(f.box[0] for f in faces) + max(f.box[2] for f in faces)) / 2
            cy = (min(f.box[1] for f in faces) + max(f.box[3] for f in faces)) / 2
            x0 = _place(fx0, fx1, cw, w, cx - cw / 2)
            y0 = _place(fy0, fy1, ch, h, cy - ch / 3)
        ix0, iy0 = int(round(x0)), int(round(y0))
        ix1, iy1 = min(w, ix0 + max(1, int(round(cw)))), min(h, iy0 + max(1, int(round(ch))))
        area = shrink(rgb[iy0:iy1, ix0:ix1], (aw, ah))
        return area, AreaTransform((ix0, iy0, ix1, iy1), aw / (ix1 - ix0), ah / (iy1 - iy0))

    def render(
        self,
        area_rgb: np.ndarray,
        alpha: np.ndarray | None,
        style: str | StyleSpec,
        caption_text: str = "",
        seed: int = 0,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Style the image area and place it on the card. Returns (card RGB uint8, info)."""
        name, spec = self._resolve(style)
        lay = get_film(spec.film).layout(self.dpi)
        aw, ah = lay.area_size
        if area_rgb.shape[:2] != (ah, aw):  # tolerate callers that skipped crop_to_area
            area_rgb, _ = self.crop_to_area(area_rgb, spec)
            if alpha is not None:
                alpha = cv2.resize(alpha.astype(np.float32), (aw, ah), interpolation=cv2.INTER_LINEAR)
        timings: dict[str, float] = {}
        applied: list[str] = []
        reasons: list[str] = []
        t = time.perf_counter()

        def lap(step: str) -> None:
            nonlocal t
            now = time.perf_counter()
            timings[step] = round((now - t) * 1000.0, 3)
            t = now

        img, why = enhance(area_rgb, spec.enhance)
        reasons += why
        applied += [w.split(" ", 1)[0] for w in why]
        lap("enhance")
        img, why = apply_background(img, alpha, spec.background)
        reasons += why
        if why and "skipped" not in why[0]:
            applied.append(f"background:{spec.background.mode}")
        lap("background")
        lut = self.book.lut(spec.grade.lut) if spec.grade.lut else None
        img, done = apply_grade(img, spec.grade, lut)
        applied += done
        lap("grade")
        if spec.vignette > 0:
            img = vignette(img, spec.vignette)
            applied.append(f"vignette:{spec.vignette:g}")
        lap("vignette")
        if spec.grain > 0:
            img = grain(img, spec.grain, seed)
            applied.append(f"grain:{spec.grain:g}")
        lap("grain")
        border = hex_to_rgb(spec.border_colour)
        card = place_on_card(img, lay, border)
        lap("card")
        if spec.caption.enabled and caption_text.strip():
            draw_caption(card, lay.bottom_border, caption_text, hex_to_rgb(spec.caption.colour), border)
            applied.append("caption")
        lap("caption")
        info = {
            "style": name,
            "film": spec.film,
            "dpi": self.dpi,
            "card_size": list(lay.card_size),
            "area_size": list(lay.area_size),
            "applied": applied,
            "reasons": reasons,
            "seed": seed,
            "timings_ms": timings,
        }
        return card, info
