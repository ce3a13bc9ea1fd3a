from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import pytest

from edgecam.cli.styles import register
from edgecam.errors import UnknownStyleError


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=None)
    register(ap.add_subparsers(dest="command"))
    return ap.parse_args(argv)


def write_config(tmp_path: Path, text: str) -> str:
    p = tmp_path / "edgecam.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_styles_list_shows_films_and_scenes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, "styles:\n  scene_map:\n    pet: noir\n")
    args = parse(["--config", cfg, "styles", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    noir = next(line for line in out.splitlines() if line.startswith("noir"))
    assert "instax_mini" in noir and "pet" in noir and "document" in noir
    args = parse(["--config", cfg, "styles", "list", "--json"])
    assert args.func(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in data["styles"]} >= {"classic", "portrait_soft", "studio"}


def test_styles_preview_writes_a_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, "output:\n  dpi: 150\n")
    out = tmp_path / "p" / "golden.png"
    sample = Path(__file__).resolve().parents[2] / "edgecam" / "samples" / "coffee.jpg"
    args = parse(["--config", cfg, "styles", "preview", "golden", "--input", str(sample), "--out", str(out)])
    assert args.func(args) == 0
    img = cv2.imread(str(out))
    assert img.shape[:2] == (508, 425)  # Instax Square card 72 x 86 mm at 150 dpi
    assert "golden on instax_square" in capsys.readouterr().out


def test_styles_preview_unknown_style(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "{}\n")
    args = parse(["--config", cfg, "styles", "preview", "nope", "--out", str(tmp_path / "x.png")])
    with pytest.raises(UnknownStyleError, match="known styles"):
        args.func(args)
