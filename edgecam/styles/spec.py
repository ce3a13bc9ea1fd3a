"""The typed description of a style preset (what an operator writes under ``styles.presets``).

Why a pydantic model here and not in ``config.py``: the built-in presets and the user's presets
are the same type, validated the same way, and the renderer consumes it directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FilmName = Literal["instax_mini", "instax_square", "instax_wide", "polaroid_600"]


class Curves(BaseModel):
    """Tone curves as control points (input, output) in 0..255, per channel or for all."""

    model_config = ConfigDict(extra="forbid")
    master: list[tuple[float, float]] | None = None
    r: list[tuple[float, float]] | None = None
    g: list[tuple[float, float]] | None = None
    b: list[tuple[float, float]] | None = None


class Grade(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lut: str | None = Field(None, description="name of a .cube file (bundled or in styles.luts_dir)")
    lut_strength: float = Field(1.0, ge=0.0, le=1.0)
    curves: Curves | None = None
    saturation: float = Field(1.0, ge=0.0, le=3.0)
    warmth: float = Field(0.0, ge=-1.0, le=1.0)


class Background(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["keep", "blur", "colour", "image"] = "keep"
    colour: str = Field("#f2efe9", pattern=r"^#[0-9a-fA-F]{6}$")
    image: Path | None = None
    blur_sigma: float = Field(12.0, gt=0, le=100)


class Enhance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_contrast: Literal["auto", "on", "off"] = "auto"
    low_light: Literal["auto", "on", "off"] = "auto"


class Caption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    colour: str = Field("#3a3a3a", pattern=r"^#[0-9a-fA-F]{6}$")


class StyleSpec(BaseModel):
    """One style: film format, colour grade, background treatment, finishing."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    film: FilmName = "instax_mini"
    border_colour: str = Field("#fbfaf7", pattern=r"^#[0-9a-fA-F]{6}$")
    grade: Grade = Grade()
    background: Background = Background()
    enhance: Enhance = Enhance()
    vignette: float = Field(0.0, ge=0.0, le=1.0)
    grain: float = Field(0.0, ge=0.0, le=1.0)
    caption: Caption = Caption()
