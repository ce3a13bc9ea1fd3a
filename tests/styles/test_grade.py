from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecam.styles.book import BUNDLED_LUTS
from edgecam.styles.grade import (
    CubeFormatError,
    CubeLUT,
    apply_grade,
    apply_saturation,
    channel_luts,
    identity_table,
    monotone_curve,
)
from edgecam.styles.spec import Curves, Grade


def write_cube(tmp_path: Path, table: np.ndarray, name: str = "t.cube") -> Path:
    p = tmp_path / name
    p.write_text(CubeLUT(table, title=name).to_text(["test"]), encoding="utf-8")
    return p


@pytest.mark.parametrize("size", [2, 17, 33])
def test_identity_cube_file_leaves_photo_unchanged(tmp_path: Path, astronaut: np.ndarray, size: int) -> None:
    lut = CubeLUT.from_file(write_cube(tmp_path, identity_table(size)))
    assert lut.size == size and lut.title == "t.cube"
    out = lut.apply(astronaut)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - astronaut).max() <= 1


def test_channel_swap_lut_swaps_channels(tmp_path: Path, coffee: np.ndarray) -> None:
    swap = identity_table(17)[..., ::-1].copy()  # (r, g, b) -> (b, g, r)
    lut = CubeLUT.from_file(write_cube(tmp_path, swap))
    out = lut.apply(coffee)
    assert np.abs(out.astype(int) - coffee[..., ::-1]).max() <= 1


def test_file_order_is_red_fastest() -> None:
    # 2x2x2 LUT written by hand: only the entry with r=1, g=0, b=0 (the second line) is pure red.
    rows = ["0 0 0", "1 0 0", "0 1 0", "1 1 0", "0 0 1", "1 0 1", "0 1 1", "1 1 1"]
    lut = CubeLUT.parse("LUT_3D_SIZE 2\n" + "\n".join(rows))
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    assert np.array_equal(lut.apply(px), px)


def test_domain_and_comments_and_title() -> None:
    text = '# a comment\nTITLE "half"\nLUT_3D_SIZE 2\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 2 2 2\n'
    text += "\n".join(
        "{} {} {}".format(*(0.5 * v for v in (r, g, b))) for b in (0, 1) for g in (0, 1) for r in (0, 1)
    )
    lut = CubeLUT.parse(text + "  # trailing\n")
    assert lut.title == "half" and lut.domain_max == (2.0, 2.0, 2.0)
    px = np.full((1, 1, 3), 200, np.uint8)
    # input 200/255 in a 0..2 domain is coordinate 0.39; output 0.5 * 0.39 -> ~50
    assert abs(int(lut.apply(px)[0, 0, 0]) - round(255 * 0.5 * (200 / 255) / 2)) <= 1


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("LUT_3D_SIZE 2\n0 0 0\n1 0 zero\n", 3, "three numbers"),
        ("LUT_3D_SIZE two\n", 1, "integer"),
        ("0 0 0\nLUT_3D_SIZE 2\n", 1, "before LUT_3D_SIZE"),
        ('TITLE "x"\nLUT_1D_SIZE 16\n', 2, "1D"),
        ("LUT_3D_SIZE 2\nDOMAIN_MIN 0 0\n", 2, "DOMAIN_MIN"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 9, 10, "more than"),
    ],
)
def test_malformed_cube_names_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    p = tmp_path / "broken.cube"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(CubeFormatError) as ei:
        CubeLUT.from_file(p)
    msg = str(ei.value)
    assert str(p) in msg and f"line {line}" in msg and needle in msg


def test_truncated_cube_reports_row_count(tmp_path: Path) -> None:
    p = tmp_path / "short.cube"
    p.write_text("LUT_3D_SIZE 3\n" + "0 0 0\n" * 20, encoding="utf-8")
    with pytest.raises(CubeFormatError, match=r"short\.cube.*27 data rows.*line 2.*got 20"):
        CubeLUT.from_file(p)


def test_bundled_luts_parse_and_change_the_image(astronaut: np.ndarray) -> None:
    files = sorted(BUNDLED_LUTS.glob("*.cube"))
    assert {p.stem for p in files} >= {"warm_fade", "cool_matte", "mono_classic", "vivid_pop", "night_teal"}
    for p in files:
        lut = CubeLUT.from_file(p)
        assert lut.size == 17 and p.stat().st_size < 200_000
        assert np.abs(lut.apply(astronaut).astype(int) - astronaut).mean() > 2, p.name
    mono = CubeLUT.from_file(BUNDLED_LUTS / "mono_classic.cube").apply(astronaut).astype(int)
    assert np.abs(mono[..., 0] - mono[..., 1]).max() <= 3  # black and white (with a faint paper tone)


def test_lut_strength_blends(astronaut: np.ndarray) -> None:
    lut = CubeLUT.from_file(BUNDLED_LUTS / "vivid_pop.cube")
    full = lut.apply(astronaut).astype(int)
    assert lut.apply(astronaut, 0.0) is astronaut
    half = lut.apply(astronaut, 0.5).astype(int)
    assert np.abs(half - (full + astronaut) / 2).max() <= 1.5


def test_lut_application_is_fast() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1000, 640, 3), dtype=np.uint8)
    lut = CubeLUT(identity_table(33))
    lut.apply(img)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        lut.apply(img)
        times.append(time.perf_counter() - t)
    assert np.median(times) < 0.05  # target ~10 ms; loose bound for a shared CI machine


def test_curve_through_identity_points_is_identity() -> None:
    assert np.array_equal(monotone_curve([(0, 0), (255, 255)]), np.arange(256))
    assert np.array_equal(monotone_curve([(0, 0), (128, 128), (255, 255)]), np.arange(256))
    assert channel_luts(Curves(master=[(0, 0), (255, 255)])) is None


def test_curve_passes_through_points_and_holds_ends() -> None:
    lut = monotone_curve([(32, 10), (128, 160), (220, 240)])
    assert lut[32] == 10 and lut[128] == 160 and lut[220] == 240
    assert lut[0] == 10 and lut[255] == 240


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 255)), min_size=2, max_size=6, unique_by=lambda p: p[0]
    )
)
def test_curve_from_increasing_points_never_decreases(points: list[tuple[int, int]]) -> None:
    xs = sorted(p[0] for p in points)
    ys = sorted(p[1] for p in points)
    lut = monotone_curve(list(zip(xs, ys, strict=True))).astype(int)
    assert np.all(np.diff(lut) >= 0)


def test_curves_apply_per_channel_with_cv2_lut(coffee: np.ndarray) -> None:
    grade = Grade(curves=Curves(r=[(0, 0), (255, 128)]))
    out, applied = apply_grade(coffee, grade, None)
    assert applied == ["curves"]
    assert np.abs(out[..., 0].astype(int) - coffee[..., 0] // 2).max() <= 1
    assert np.array_equal(out[..., 1:], coffee[..., 1:])


def test_saturation_and_warmth(coffee: np.ndarray) -> None:
    grey = apply_saturation(coffee, 0.0).astype(int)
    assert np.abs(grey[..., 0] - grey[..., 2]).max() <= 1
    warm, applied = apply_grade(coffee, Grade(warmth=0.8), None)
    assert "warmth:+0.8" in applied
    assert warm[..., 0].mean() > coffee[..., 0].mean() and warm[..., 2].mean() < coffee[..., 2].mean()
    same, applied = apply_grade(coffee, Grade(), None)
    assert same is coffee and applied == []


def test_roundtrip_text_is_small_and_exact_enough(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    table = rng.random((5, 5, 5, 3), dtype=np.float32)
    back = CubeLUT.from_file(write_cube(tmp_path, table))
    assert np.abs(back.table - table).max() < 1e-4


def test_baked_strength_and_saturation_match_separate_passes(astronaut: np.ndarray) -> None:
    lut = CubeLUT.from_file(BUNDLED_LUTS / "warm_fade.cube")
    baked, applied = apply_grade(astronaut, Grade(lut="warm_fade", lut_strength=0.6, saturation=1.3), lut)
    assert applied == ["lut:warm_fade@0.6", "saturation:1.3"]
    separate = apply_saturation(lut.apply(astronaut, 0.6), 1.3).astype(int)
    diff = np.abs(baked.astype(int) - separate)
    assert diff.mean() < 0.6 and np.percentile(diff, 99.9) <= 3
    assert lut.variant(0.6, 1.3) is lut.variant(0.6, 1.3)


def test_baked_curves_and_warmth_match_separate_passes(astronaut: np.ndarray) -> None:
    lut = CubeLUT.from_file(BUNDLED_LUTS / "vivid_pop.cube")
    curves = Curves(master=[(0, 10), (128, 140), (255, 245)], b=[(0, 0), (255, 230)])
    grade = Grade(lut="vivid_pop", lut_strength=0.8, curves=curves, warmth=0.3, saturation=0.9)
    baked, applied = apply_grade(astronaut, grade, lut)
    assert applied == ["lut:vivid_pop@0.8", "curves", "warmth:+0.3", "saturation:0.9"]
    tone = channel_luts(curves, 0.3)
    separate = apply_saturation(cv2.LUT(lut.apply(astronaut, 0.8), tone), 0.9).astype(int)
    diff = np.abs(baked.astype(int) - separate)
    assert diff.mean() < 0.8 and np.percentile(diff, 99.9) <= 4


def test_resampled_lut_is_the_same_function(coffee: np.ndarray) -> None:
    lut = CubeLUT.from_file(BUNDLED_LUTS / "night_teal.cube")
    big = lut.resampled(33)
    assert big.size == 33
    assert np.abs(big.apply(coffee).astype(int) - lut.apply(coffee)).max() <= 1
