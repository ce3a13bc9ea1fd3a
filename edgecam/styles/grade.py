"""Colour grading: ``.cube`` 3D LUTs, tone curves, saturation and warmth.

Why this shape:

* A 3D LUT is applied with one :func:`cv2.remap` instead of per-pixel numpy gathers. The LUT is
  re-laid out once into an "atlas" image whose x axis holds (blue level × red node) and whose
  y axis holds the green node; blue is pre-interpolated at all 256 input levels, so a bilinear
  remap in (red, green) at the pixel's exact blue level *is* trilinear interpolation. OpenCV's
  remap is vectorised and threaded, which keeps a 640×1000 px image under ~10 ms on a Pi-class
  core budget, where numpy fancy indexing takes several times longer.
* Curves, warmth and any per-channel tone change collapse into one 256-entry LUT per channel
  applied with :func:`cv2.LUT`: cost independent of how many controls a style sets.
* Curves use monotone cubic (Fritsch–Carlson, PCHIP-like) interpolation, so control points never
  overshoot into banding or tone reversals the way a natural cubic spline does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgecam.styles.spec import Curves, Grade


class CubeFormatError(ValueError):
    """A ``.cube`` file that cannot be read; the message names the file and the line."""


@dataclass
class CubeLUT:
    """A 3D LUT: ``table[b, g, r]`` → RGB in the output range 0..1 (file order: red fastest)."""

    table: np.ndarray  # float32 (N, N, N, 3), indexed [b, g, r]
    domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    title: str = ""
    source: str = ""
    _atlas: np.ndarray | None = field(default=None, repr=False)
    _x_r: np.ndarray | None = field(default=None, repr=False)
    _x_b: np.ndarray | None = field(default=None, repr=False)
    _y_g: np.ndarray | None = field(default=None, repr=False)
    _variants: dict[tuple[float, float, bytes], CubeLUT] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return int(self.table.shape[0])

    # -- fast application -------------------------------------------------------------------
    def _prepare(self) -> None:
        """Build the remap atlas and the per-channel coordinate tables (once per LUT)."""
        n = self.size
        levels = np.arange(256, dtype=np.float64) / 255.0

        def coord(ch: int) -> np.ndarray:
            lo, hi = self.domain_min[ch], self.domain_max[ch]
            return np.clip((levels - lo) / (hi - lo), 0.0, 1.0) * (n - 1)

        cr, cg, cb = coord(0), coord(1), coord(2)
        b0 = np.minimum(np.floor(cb).astype(np.int64), n - 2) if n > 1 else np.zeros(256, np.int64)
        wb = (cb - b0)[:, None, None, None]
        t = self.table.astype(np.float64)
        slabs = t[b0] * (1.0 - wb) + t[np.minimum(b0 + 1, n - 1)] * wb  # (256, g, r, 3)
        atlas = slabs.transpose(1, 0, 2, 3).reshape(n, 256 * n, 3)  # [g, level*n + r]
        self._atlas = np.clip(np.rint(atlas * 255.0), 0, 255).astype(np.uint8)
        self._x_r = cr.astype(np.float32).reshape(256, 1)
        self._x_b = (np.arange(256, dtype=np.float32) * n).reshape(256, 1)
        self._y_g = cg.astype(np.float32).reshape(256, 1)

    def apply(self, rgb: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Trilinear-interpolated LUT on an RGB uint8 image, blended with the input by ``strength``."""
        if strength <= 0.0:
            return rgb
        if self._atlas is None:
            self._prepare()
        assert self._atlas is not None and self._x_r is not None
        assert self._x_b is not None and self._y_g is not None
        r, g, b = cv2.split(rgb)
        map_x = cv2.add(cv2.LUT(r, self._x_r), cv2.LUT(b, self._x_b))
        map_y = cv2.LUT(g, self._y_g)
        out = cv2.remap(self._atlas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if strength < 1.0:
            out = cv2.addWeighted(out, strength, rgb, 1.0 - strength, 0.0)
        return out

    def variant(
        self, strength: float = 1.0, saturation: float = 1.0, tone: np.ndarray | None = None
    ) -> CubeLUT:
        """This LUT with strength, a tone curve (256×1×3 uint8) and saturation baked in (cached).

        Why: the post-LUT steps are per-pixel functions of the LUT's output, so they can be
        applied once to the table's nodes instead of to every pixel of every shot, turning up to
        four full-image passes into one remap. Strength and saturation are linear in RGB and
        commute exactly with trilinear interpolation; a tone curve does not, so when one is baked
        the table is first resampled to ≥ 33 nodes, where interpolating a smooth curve between
        nodes 8 levels apart stays within a level or two.
        """
        tkey = b"" if tone is None else tone.tobytes()
        key = (round(strength, 4), round(saturation, 4), tkey)
        if key == (1.0, 1.0, b""):
            return self
        v = self._variants.get(key)
        if v is None:
            base = self if tone is None or self.size >= 33 else self.resampled(33)
            t = base.table.astype(np.float64)
            if strength < 1.0:
                lo, hi = np.asarray(base.domain_min), np.asarray(base.domain_max)
                ident = lo + identity_table(base.size).astype(np.float64) * (hi - lo)  # input values
                t = strength * t + (1.0 - strength) * ident
            if tone is not None:
                grid = np.arange(256, dtype=np.float64)
                chans = [np.interp(np.clip(t[..., c], 0, 1) * 255.0, grid, tone[:, 0, c]) for c in range(3)]
                t = np.stack(chans, axis=-1) / 255.0
            if saturation != 1.0:
                y = (t @ np.array([0.299, 0.587, 0.114]))[..., None]
                t = y + saturation * (t - y)
            table = np.clip(t, 0.0, 1.0).astype(np.float32)
            v = CubeLUT(table, base.domain_min, base.domain_max, self.title, self.source)
            self._variants[key] = v
        return v

    def resampled(self, size: int) -> CubeLUT:
        """The same LUT on a ``size``³ grid (trilinear, i.e. exactly what :meth:`apply` computes)."""
        n = self.size
        c = np.linspace(0.0, n - 1, size)
        i0 = np.minimum(np.floor(c).astype(np.int64), n - 2)
        w = (c - i0)[:, None, None, None]
        t = self.table.astype(np.float64)
        t = t[i0] * (1 - w) + t[i0 + 1] * w  # along b
        w = w.reshape(1, size, 1, 1)
        t = t[:, i0] * (1 - w) + t[:, i0 + 1] * w  # along g
        w = w.reshape(1, 1, size, 1)
        t = t[:, :, i0] * (1 - w) + t[:, :, i0 + 1] * w  # along r
        return CubeLUT(t.astype(np.float32), self.domain_min, self.domain_max, self.title, self.source)

    # -- reading and writing -----------------------------------------------------------------
    @classmethod
    def from_file(cls, path: Path | str) -> CubeLUT:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise CubeFormatError(f"{path}: cannot read: {e}") from e
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, source: str = "<cube>") -> CubeLUT:
        """Parse Adobe/Resolve ``.cube`` text: TITLE, LUT_3D_SIZE, DOMAIN_MIN/MAX, comments, data."""
        size: int | None = None
        title = ""
        dmin = [0.0, 0.0, 0.0]
        dmax = [1.0, 1.0, 1.0]
        rows: list[tuple[float, float, float]] = []
        first_data_line = 0

        def fail(lineno: int, msg: str) -> CubeFormatError:
            return CubeFormatError(f"{source}: line {lineno}: {msg}")

        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            head = line.split(None, 1)[0].upper()
            rest = line[len(head) :].strip()
            if head == "TITLE":
                m = re.fullmatch(r'"(.*)"', rest)
                title = m.group(1) if m else rest
            elif head == "LUT_3D_SIZE":
                if rows:
                    raise fail(lineno, "LUT_3D_SIZE after the data started")
                try:
                    size = int(rest)
                except ValueError:
                    raise fail(lineno, f"LUT_3D_SIZE must be an integer, got {rest!r}") from None
                if not 2 <= size <= 256:
                    raise fail(lineno, f"LUT_3D_SIZE must be in 2..256, got {size}")
            elif head == "LUT_1D_SIZE":
                raise fail(lineno, "1D LUTs are not supported (need LUT_3D_SIZE)")
            elif head in ("DOMAIN_MIN", "DOMAIN_MAX"):
                vals = _floats(rest, 3)
                if vals is None:
                    raise fail(lineno, f"{head} needs three numbers, got {rest!r}")
                (dmin if head == "DOMAIN_MIN" else dmax)[:] = vals
            elif head == "LUT_3D_INPUT_RANGE":  # Resolve's spelling of a uniform domain
                vals = _floats(rest, 2)
                if vals is None:
                    raise fail(lineno, f"LUT_3D_INPUT_RANGE needs two numbers, got {rest!r}")
                dmin[:], dmax[:] = [vals[0]] * 3, [vals[1]] * 3
            else:
                vals = _floats(line, 3)
                if vals is None:
                    raise fail(lineno, f"expected a keyword or three numbers (r g b), got {raw.strip()!r}")
                if size is None:
                    raise fail(lineno, "data before LUT_3D_SIZE")
                if not rows:
                    first_data_line = lineno
                rows.append((vals[0], vals[1], vals[2]))
                if len(rows) > size**3:
                    raise fail(lineno, f"more than {size}^3 = {size**3} data rows")
        if size is None:
            raise CubeFormatError(f"{source}: no LUT_3D_SIZE line")
        if len(rows) != size**3:
            raise CubeFormatError(
                f"{source}: expected {size}^3 = {size**3} data rows from line {first_data_line or '?'}, "
                f"got {len(rows)}"
            )
        for ch in range(3):
            if dmax[ch] <= dmin[ch]:
                raise CubeFormatError(f"{source}: DOMAIN_MAX must exceed DOMAIN_MIN (channel {ch})")
        table = np.asarray(rows, dtype=np.float32).reshape(size, size, size, 3)
        return cls(table, (dmin[0], dmin[1], dmin[2]), (dmax[0], dmax[1], dmax[2]), title, source)

    def to_text(self, comments: Sequence[str] = ()) -> str:
        """Serialise as ``.cube`` text (red fastest), 4 decimals: small files, < 0.02 level error."""
        lines = [f"# {c}" for c in comments]
        if self.title:
            lines.append(f'TITLE "{self.title}"')
        lines.append(f"LUT_3D_SIZE {self.size}")
        lines.append("DOMAIN_MIN {:g} {:g} {:g}".format(*self.domain_min))
        lines.append("DOMAIN_MAX {:g} {:g} {:g}".format(*self.domain_max))
        flat = np.clip(self.table, 0.0, 1.0).reshape(-1, 3)
        lines.extend(f"{r:.4f} {g:.4f} {b:.4f}" for r, g, b in flat)
        return "\n".join(lines) + "\n"


def _floats(s: str, n: int) -> list[float] | None:
    parts = s.split()
    if len(parts) != n:
        return None
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def identity_table(size: int) -> np.ndarray:
    """The identity LUT ``[b, g, r] → (r, g, b)`` in 0..1, the starting point of every look."""
    v = np.linspace(0.0, 1.0, size, dtype=np.float32)
    b, g, r = np.meshgrid(v, v, v, indexing="ij")
    return np.stack([r, g, b], axis=-1)


# -- curves -------------------------------------------------------------------------------------
def monotone_curve(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """A 256-entry uint8 LUT through ``points`` (0..255) by monotone cubic interpolation.

    Outside the first/last control point the curve is flat (it holds the end values), which is
    what photo editors do and what keeps blacks/whites from clipping unexpectedly.
    """
    if not points:
        return np.arange(256, dtype=np.uint8)
    pts = sorted((float(x), float(y)) for x, y in points)
    xs: list[float] = []
    ys: list[float] = []
    for x, y in pts:
        if xs and abs(x - xs[-1]) < 1e-9:
            ys[-1] = y  # the later duplicate wins
        else:
            xs.append(x)
            ys.append(y)
    x = np.asarray(xs)
    y = np.asarray(ys)
    grid = np.arange(256, dtype=np.float64)
    if len(x) == 1:
        out = np.full(256, y[0])
    else:
        h = np.diff(x)
        delta = np.diff(y) / h
        m = np.empty_like(y)
        m[0], m[-1] = delta[0], delta[-1]
        for k in range(1, len(x) - 1):
            if delta[k - 1] * delta[k] <= 0:
                m[k] = 0.0
            else:  # weighted harmonic mean (Fritsch–Butland), as in scipy's PchipInterpolator
                w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
                m[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
        xi = np.clip(grid, x[0], x[-1])
        k = np.clip(np.searchsorted(x, xi, side="right") - 1, 0, len(x) - 2)
        t = (xi - x[k]) / h[k]
        h00 = (2 * t**3) - (3 * t**2) + 1
        h10 = t**3 - 2 * t**2 + t
        h01 = -2 * t**3 + 3 * t**2
        h11 = t**3 - t**2
        out = h00 * y[k] + h10 * h[k] * m[k] + h01 * y[k + 1] + h11 * h[k] * m[k + 1]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def channel_luts(curves: Curves | None, warmth: float = 0.0) -> np.ndarray | None:
    """One (256, 1, 3) uint8 LUT for R, G, B combining the master curve, channel curves and warmth.

    Returns None when the result would be the identity, so callers skip the pass entirely.
    """
    ident = np.arange(256, dtype=np.uint8)
    master = monotone_curve(curves.master) if curves and curves.master else ident
    per = []
    for name in ("r", "g", "b"):
        pts = getattr(curves, name) if curves else None
        ch = monotone_curve(pts) if pts else ident
        per.append(ch[master])  # master first, then the channel curve, as in photo editors
    if warmth:
        # Warmth as a white-balance shift: red up / blue down (or the reverse), green a touch, so
        # the highlights warm most and the blacks stay neutral (a gain, not an offset).
        gains = (1.0 + 0.12 * warmth, 1.0 + 0.03 * warmth, 1.0 - 0.12 * warmth)
        per = [
            np.clip(np.rint(p.astype(np.float64) * gn), 0, 255).astype(np.uint8)
            for p, gn in zip(per, gains, strict=True)
        ]
    lut = np.stack(per, axis=-1).reshape(256, 1, 3)
    if all(np.array_equal(p, ident) for p in per):
        return None
    return lut


def apply_saturation(rgb: np.ndarray, saturation: float) -> np.ndarray:
    """Scale chroma around Rec.601 luma (1 = unchanged, 0 = grey, > 1 = more vivid)."""
    if abs(saturation - 1.0) < 1e-6:
        return rgb
    grey = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(rgb, saturation, grey, 1.0 - saturation, 0.0)


def apply_grade(rgb: np.ndarray, grade: Grade, lut: CubeLUT | None) -> tuple[np.ndarray, list[str]]:
    """LUT (with strength) → curves + warmth → saturation. Returns the image and what was applied.

    With a LUT, every step is baked into one cached LUT variant and the image is touched once.
    """
    applied: list[str] = []
    tone = channel_luts(grade.curves, grade.warmth)
    saturate = abs(grade.saturation - 1.0) > 1e-6
    use_lut = lut is not None and grade.lut_strength > 0
    if use_lut:
        applied.append(f"lut:{grade.lut}@{grade.lut_strength:g}")
    if tone is not None:
        if grade.curves is not None:
            applied.append("curves")
        if grade.warmth:
            applied.append(f"warmth:{grade.warmth:+g}")
    if saturate:
        applied.append(f"saturation:{grade.saturation:g}")
    if use_lut:
        assert lut is not None
        return lut.variant(grade.lut_strength, grade.saturation, tone).apply(rgb), applied
    out = rgb
    if tone is not None:
        out = cv2.LUT(out, tone)
    if saturate:
        out = apply_saturation(out, grade.saturation)
    return out, applied
