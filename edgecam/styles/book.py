"""The style book: built-in presets, the operator's presets, LUT files and the scene → style map.

Why validate everything in :meth:`StyleBook.from_config`: the kiosk must refuse to start on a
scene mapped to a style that does not exist or a preset naming a LUT file that is not there,
with the config key path and the allowed values, rather than fail at the first shot of the
evening. LUT files are parsed once here and cached, so a shot never touches the disk for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgecam.errors import ConfigError, UnknownStyleError
from edgecam.styles.finish import format_caption
from edgecam.styles.grade import CubeFormatError, CubeLUT
from edgecam.styles.spec import Background, Caption, Curves, Enhance, Grade, StyleSpec
from edgecam.vision.types import SCENE_LABELS

BUNDLED_LUTS = Path(__file__).resolve().parent / "luts"


FALLBACK_STYLE = "classic"

BUILTIN_PRESETS: dict[str, StyleSpec] = {
    "classic": StyleSpec(
        description="Instax Mini, natural colour, a touch of warmth and a light vignette",
        grade=Grade(
            saturation=1.05, warmth=0.05, curves=Curves(master=[(0, 6), (64, 60), (192, 198), (255, 250)])
        ),
        vignette=0.15,
    ),
    "portrait_soft": StyleSpec(
        description="Portrait with a softly blurred background and a faded warm look",
        grade=Grade(lut="warm_fade", lut_strength=0.5, saturation=0.95),
        background=Background(mode="blur", blur_sigma=12.0),
        vignette=0.2,
    ),
    "studio": StyleSpec(
        description="Subject on a plain studio-grey card background (product cut-outs, headshots)",
        background=Background(mode="colour", colour="#e8e4dc"),
        grade=Grade(curves=Curves(master=[(0, 0), (64, 58), (192, 200), (255, 255)])),
        enhance=Enhance(auto_contrast="on"),
    ),
    "noir": StyleSpec(
        description="Black and white, firm contrast, heavy grain and vignette",
        grade=Grade(lut="mono_classic"),
        enhance=Enhance(auto_contrast="on"),
        grain=0.5,
        vignette=0.35,
    ),
    "golden": StyleSpec(
        description="Golden-hour warmth for food and interiors, with a vignette",
        film="instax_square",
        grade=Grade(lut="warm_fade", lut_strength=0.8, warmth=0.25, saturation=1.1),
        vignette=0.3,
    ),
    "night_glow": StyleSpec(
        description="Low-light lift with teal shadows and warm highlights, fine grain",
        grade=Grade(lut="night_teal", lut_strength=0.7),
        enhance=Enhance(low_light="on"),
        grain=0.25,
        vignette=0.2,
    ),
    "square_pop": StyleSpec(
        description="Instax Square with vivid, punchy colour",
        film="instax_square",
        grade=Grade(lut="vivid_pop", lut_strength=0.8, saturation=1.1),
    ),
    "wide_landscape": StyleSpec(
        description="Instax Wide with vivid colour for landscapes",
        film="instax_wide",
        grade=Grade(lut="vivid_pop", lut_strength=0.6),
        vignette=0.15,
    ),
    "wide_group": StyleSpec(
        description="Instax Wide with natural colour: room for everyone in a group",
        film="instax_wide",
        grade=Grade(saturation=1.05, warmth=0.05),
    ),
    "city_matte": StyleSpec(
        description="Instax Wide, cool matte look for streets and buildings",
        film="instax_wide",
        grade=Grade(lut="cool_matte", lut_strength=0.85),
        grain=0.15,
    ),
    "polaroid_classic": StyleSpec(
        description="Polaroid 600 frame, gently faded warm colour",
        film="polaroid_600",
        grade=Grade(lut="warm_fade", lut_strength=0.4),
        vignette=0.2,
        caption=Caption(colour="#2b2b2b"),
    ),
}

DEFAULT_SCENE_MAP: dict[str, str] = {
    "portrait": "portrait_soft",
    "group": "wide_group",
    "landscape": "wide_landscape",
    "cityscape": "city_matte",
    "food": "golden",
    "pet": "square_pop",
    "night": "night_glow",
    "indoor": "polaroid_classic",
    "document": "noir",
    "product": "studio",
}


class StyleBook:
    """Named styles, their resolved LUTs and the scene → style map (immutable after construction)."""

    def __init__(
        self,
        presets: dict[str, StyleSpec] | None = None,
        scene_map: dict[str, str] | None = None,
        lut_dirs: list[Path] | None = None,
        default: str = "auto",
        caption_template: str = "{date:%d %b %Y}",
        sources: dict[str, str] | None = None,
    ) -> None:
        self._presets = dict(BUILTIN_PRESETS if presets is None else presets)
        self._scene_map = dict(DEFAULT_SCENE_MAP if scene_map is None else scene_map)
        self._lut_dirs = [*(lut_dirs or []), BUNDLED_LUTS]
        self.default = default
        self.caption_template = caption_template
        self._sources = sources or {n: "builtin" for n in self._presets}
        self._luts: dict[str, CubeLUT] = {}

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_config(cls, styles_cfg: Any) -> StyleBook:
        """Built-ins merged with ``styles.presets`` (config wins), validated; raises ConfigError."""
        presets = dict(BUILTIN_PRESETS)
        sources = {n: "builtin" for n in presets}
        for name, spec in styles_cfg.presets.items():
            sources[name] = "config (overrides builtin)" if name in presets else "config"
            presets[name] = spec
        scene_map = dict(DEFAULT_SCENE_MAP)
        for label, target in styles_cfg.scene_map.items():
            if label not in SCENE_LABELS:
                raise ConfigError(
                    f"styles.scene_map.{label}: unknown scene label; allowed: {', '.join(SCENE_LABELS)}"
                )
            scene_map[label] = target
        known = ", ".join(sorted(presets))
        for label, target in scene_map.items():
            if target not in presets:
                raise ConfigError(
                    f"styles.scene_map.{label}: unknown style {target!r}; known styles: {known}"
                )
        if styles_cfg.default != "auto" and styles_cfg.default not in presets:
            raise ConfigError(f"styles.default: unknown style {styles_cfg.default!r}; allowed: auto, {known}")
        try:
            format_caption(styles_cfg.caption)
        except ValueError as e:
            raise ConfigError(f"styles.caption: {e}") from None
        lut_dirs = [Path(styles_cfg.luts_dir)] if styles_cfg.luts_dir is not None else []
        if lut_dirs and not lut_dirs[0].is_dir():
            raise ConfigError(f"styles.luts_dir: {lut_dirs[0]}: no such folder")
        book = cls(presets, scene_map, lut_dirs, styles_cfg.default, styles_cfg.caption, sources)
        for name, spec in presets.items():
            if spec.grade.lut is not None:
                try:
                    book.lut(spec.grade.lut)
                except (KeyError, CubeFormatError) as e:
                    msg = e.args[0] if e.args else str(e)
                    raise ConfigError(f"styles.presets.{name}.grade.lut: {msg}") from None
            bg = spec.background
            if bg.mode == "image" and (bg.image is None or not Path(bg.image).is_file()):
                raise ConfigError(
                    f"styles.presets.{name}.background.image: mode 'image' needs an existing file, "
                    f"got {bg.image}"
                )
        return book

    # -- queries ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._presets)

    def get(self, name: str) -> StyleSpec:
        try:
            return self._presets[name]
        except KeyError:
            raise UnknownStyleError(
                f"unknown style {name!r}; known styles: {', '.join(self.names())}"
            ) from None

    def for_scene(self, label: str) -> str:
        """The style mapped to a scene label (the fallback style for a label nobody mapped)."""
        return self._scene_map.get(
            label, FALLBACK_STYLE if FALLBACK_STYLE in self._presets else self.names()[0]
        )

    def pick(self, label: str) -> str:
        """What a shot uses: ``styles.default`` unless it is ``auto``, then the scene's style."""
        return self.for_scene(label) if self.default == "auto" else self.default

    @property
    def scene_map(self) -> dict[str, str]:
        return dict(self._scene_map)

    # -- LUTs ---------------------------------------------------------------------------------
    def available_luts(self) -> list[str]:
        found: set[str] = set()
        for d in self._lut_dirs:
            if d.is_dir():
                found.update(p.stem for p in d.glob("*.cube"))
        return sorted(found)

    def lut_path(self, name: str) -> Path:
        """Resolve a LUT name (``warm_fade`` or ``warm_fade.cube``); ``luts_dir`` wins over bundled."""
        stem = name[:-5] if name.lower().endswith(".cube") else name
        for d in self._lut_dirs:
            p = d / f"{stem}.cube"
            if p.is_file():
                return p
        raise KeyError(f"unknown LUT {name!r}; available: {', '.join(self.available_luts()) or '(none)'}")

    def lut(self, name: str) -> CubeLUT:
        """The parsed LUT (cached: parsed and prepared once per process)."""
        cached = self._luts.get(name)
        if cached is None:
            cached = CubeLUT.from_file(self.lut_path(name))
            self._luts[name] = cached
        return cached

    def describe(self) -> list[dict[str, Any]]:
        """One row per style for ``edgecam styles list``."""
        rows = []
        for name in self.names():
            spec = self._presets[name]
            scenes = [lab for lab, target in self._scene_map.items() if target == name]
            rows.append(
                {
                    "name": name,
                    "film": spec.film,
                    "description": spec.description,
                    "scenes": scenes,
                    "source": self._sources.get(name, "builtin"),
                    "default": name == self.default,
                }
            )
        return rows
