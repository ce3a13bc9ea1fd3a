"""The evaluation scripts run on any folder laid out like the dev sets (built here from the bundled
samples): their plumbing and metrics are checked where the answer is known."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "edgecam" / "samples"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(REPO / "scripts"))  # eval_scene imports train_scene_head from beside it
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_eval_scene_reports_per_class_macro_over_present_classes_and_confusion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for label, names in {"portrait": ["astronaut", "grace_hopper"], "pet": ["chelsea"], "document": ["page"]}.items():
        (tmp_path / label).mkdir()
        for n in names:
            shutil.copy(SAMPLES / f"{n}.jpg", tmp_path / label / f"{n}.jpg")
    assert _load("eval_scene").main([str(tmp_path), "--all"]) in (0, None)
    out = capsys.readouterr().out
    assert re.search(r"portrait\s+2/2\s+100\.0 %", out) and re.search(r"document\s+1/1\s+100\.0 %", out)
    assert "macro top-1 accuracy: 100.0 % over 3 classes" in out, out
    assert "confusion matrix" in out and "scene stage ms: p50" in out


def test_boundary_f_tolerates_3_px_and_not_more() -> None:
    em = _load("eval_matting")
    gt = np.zeros((100, 100), bool)
    gt[30:70, 30:70] = True
    assert em.boundary_f(gt, gt) == 1.0
    assert em.boundary_f(np.roll(gt, 2, axis=1), gt) > 0.95
    assert em.boundary_f(np.roll(gt, 8, axis=1), gt) < 0.6
    iou, bf, mae = em.scores(gt.astype(np.float32), gt.astype(np.float32))
    assert (iou, bf, mae) == (1.0, 1.0, 0.0)


def test_eval_matting_scores_its_own_alpha_as_perfect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Ground truth = the product's own matte: the gated row must be IoU 1, boundary F 1."""
    from edgecam.vision.stack import VisionStack

    rgb = cv2.cvtColor(cv2.imread(str(SAMPLES / "astronaut.jpg")), cv2.COLOR_BGR2RGB)
    with VisionStack() as stack:
        alpha = stack.matte(rgb, stack.detect_faces(rgb))
    assert alpha is not None
    (tmp_path / "images").mkdir()
    (tmp_path / "alpha").mkdir()
    shutil.copy(SAMPLES / "astronaut.jpg", tmp_path / "images" / "astro_1.jpg")
    cv2.imwrite(str(tmp_path / "alpha" / "astro_1.png"), np.where(alpha > 0.5, 255, 0).astype(np.uint8))
    _load("eval_matting").main([str(tmp_path), "--no-peers", "--no-high"])
    out = capsys.readouterr().out
    assert "1 photos; faces found in 1" in out
    row = next(line for line in out.splitlines() if line.startswith("edgecam (selfie seg + guided)"))
    assert "IoU 1.000  BF@3px 1.000" in row, row
    assert "matting stage as in the pipeline" in out
