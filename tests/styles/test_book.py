from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgecam.config import StylesConfig
from edgecam.errors import ConfigError, UnknownStyleError
from edgecam.styles.book import BUILTIN_PRESETS, StyleBook
from edgecam.styles.grade import CubeLUT, identity_table
from edgecam.styles.spec import StyleSpec
from edgecam.vision.types import SCENE_LABELS


def test_builtins_cover_every_scene_and_every_film() -> None:
    book = StyleBook.from_config(StylesConfig())
    assert len(book.names()) >= 6
    for label in SCENE_LABELS:
        assert book.for_scene(label) in book.names()
    assert {book.get(n).film for n in book.names()} == {
        "instax_mini",
        "instax_square",
        "instax_wide",
        "polaroid_600",
    }
    assert book.for_scene("portrait") == "portrait_soft"
    assert book.get("portrait_soft").background.mode == "blur"
    assert book.get("noir").grade.lut == "mono_classic"


def test_unknown_style_lists_known_names() -> None:
    book = StyleBook.from_config(StylesConfig())
    with pytest.raises(UnknownStyleError) as ei:
        book.get("sepia_dream")
    assert "sepia_dream" in str(ei.value) and "portrait_soft" in str(ei.value) and "noir" in str(ei.value)


def test_config_preset_overrides_builtin_and_adds_new() -> None:
    cfg = StylesConfig.model_validate(
        {
            "presets": {
                "noir": {"film": "polaroid_600", "grade": {"lut": "mono_classic"}, "grain": 0.9},
                "mine": {"description": "my look", "grade": {"warmth": 0.5}},
            },
            "scene_map": {"pet": "mine"},
        }
    )
    book = StyleBook.from_config(cfg)
    assert book.get("noir").film == "polaroid_600" and book.get("noir").grain == 0.9
    assert book.get("mine").description == "my look"
    assert book.for_scene("pet") == "mine"
    assert book.for_scene("portrait") == "portrait_soft"  # the rest of the default map stays
    rows = {r["name"]: r for r in book.describe()}
    assert rows["noir"]["source"].startswith("config") and rows["mine"]["scenes"] == ["pet"]
    assert BUILTIN_PRESETS["noir"].film == "instax_mini"  # built-ins are not mutated


def test_scene_map_with_unknown_style_names_the_key_path() -> None:
    cfg = StylesConfig.model_validate({"scene_map": {"night": "neon"}})
    with pytest.raises(ConfigError) as ei:
        StyleBook.from_config(cfg)
    msg = str(ei.value)
    assert msg.startswith("styles.scene_map.night:") and "'neon'" in msg and "night_glow" in msg


def test_scene_map_with_unknown_label_lists_labels() -> None:
    with pytest.raises(
        ConfigError, match=r"styles\.scene_map\.beach: unknown scene label; allowed: portrait"
    ):
        StyleBook.from_config(StylesConfig.model_validate({"scene_map": {"beach": "classic"}}))


def test_unknown_lut_names_the_key_path_and_lists_luts() -> None:
    cfg = StylesConfig.model_validate({"presets": {"x": {"grade": {"lut": "kodachrome"}}}})
    with pytest.raises(ConfigError) as ei:
        StyleBook.from_config(cfg)
    msg = str(ei.value)
    assert msg.startswith("styles.presets.x.grade.lut:") and "kodachrome" in msg and "warm_fade" in msg


def test_default_style_and_caption_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"styles\.default: unknown style 'nope'; allowed: auto, "):
        StyleBook.from_config(StylesConfig(default="nope"))
    with pytest.raises(ConfigError, match=r"styles\.caption: .*\{weather\}"):
        StyleBook.from_config(StylesConfig(caption="{weather}"))
    book = StyleBook.from_config(StylesConfig(default="noir"))
    assert book.pick("portrait") == "noir"
    assert StyleBook.from_config(StylesConfig()).pick("portrait") == "portrait_soft"


def test_luts_dir_adds_and_shadows_luts_and_broken_files_fail_at_start(tmp_path: Path) -> None:
    swap = identity_table(9)[..., ::-1].copy()
    (tmp_path / "swap.cube").write_text(CubeLUT(swap).to_text(), encoding="utf-8")
    cfg = StylesConfig.model_validate(
        {"luts_dir": str(tmp_path), "presets": {"s": {"grade": {"lut": "swap.cube"}}}}
    )
    book = StyleBook.from_config(cfg)
    assert "swap" in book.available_luts() and "warm_fade" in book.available_luts()
    px = np.array([[[200, 10, 30]]], np.uint8)
    assert np.abs(book.lut("swap.cube").apply(px).astype(int) - px[..., ::-1]).max() <= 1
    assert book.lut("swap.cube") is book.lut("swap.cube")  # parsed once

    (tmp_path / "bad.cube").write_text("LUT_3D_SIZE 2\n0 0\n", encoding="utf-8")
    cfg = StylesConfig.model_validate(
        {"luts_dir": str(tmp_path), "presets": {"b": {"grade": {"lut": "bad"}}}}
    )
    with pytest.raises(ConfigError, match=r"styles\.presets\.b\.grade\.lut: .*bad\.cube: line 2"):
        StyleBook.from_config(cfg)


def test_background_image_must_exist() -> None:
    bg = {"mode": "image", "image": "/no/such.jpg"}
    cfg = StylesConfig.model_validate({"presets": {"beach": {"background": bg}}})
    with pytest.raises(ConfigError, match=r"styles\.presets\.beach\.background\.image"):
        StyleBook.from_config(cfg)


def test_spec_forbids_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        StyleSpec.model_validate({"grian": 0.3})
