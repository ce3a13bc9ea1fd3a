#!/usr/bin/env python3
"""Score the scene stage on the HELD-OUT part of a folder-per-class set (the split stored in the head).

Usage: scripts/eval_scene.py DIR [--config FILE] [--all]

Prints per-class accuracy, macro accuracy, a confusion matrix, and p50/p95 ms per photo for the
scene stage alone and for faces + scene (the way the shot pipeline calls them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecam.config import load_config  # noqa: E402
from edgecam.vision.stack import VisionStack  # noqa: E402
from edgecam.vision.types import SCENE_LABELS  # noqa: E402

try:
    from train_scene_head import list_dataset, load_rgb  # type: ignore[import-not-found]
except ImportError:  # run from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train_scene_head import list_dataset, load_rgb  # type: ignore[import-not-found]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--all", action="store_true", help="score every photo, including the training part")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    stack = VisionStack(cfg.models, cfg.vision).start()
    head = stack._scene.head  # noqa: SLF001 - the split lives in the head file
    items = dict(list_dataset(args.dir))
    files = sorted(items) if args.all else list(head.meta["split"]["test"])
    missing = [f for f in files if f not in items]
    if missing:
        raise SystemExit(f"{len(missing)} held-out files are not in {args.dir}, e.g. {missing[0]}")
    n = len(SCENE_LABELS)
    conf = np.zeros((n, n), int)
    t_scene, t_total = [], []
    wrong = []
    for rel in files:
        rgb = load_rgb(args.dir / rel)
        t0 = time.perf_counter()
        faces = stack.detect_faces(rgb)
        t1 = time.perf_counter()
        res = stack.classify_scene(rgb, faces)
        t2 = time.perf_counter()
        t_scene.append((t2 - t1) * 1000)
        t_total.append((t2 - t0) * 1000)
        gt, pr = SCENE_LABELS.index(items[rel]), SCENE_LABELS.index(res.label)
        conf[gt, pr] += 1
        if gt != pr:
            wrong.append(f"  {rel}: predicted {res.label} ({res.scores[res.label]:.2f}); {'; '.join(res.reasons)}")
    per = conf.diagonal() / np.maximum(conf.sum(axis=1), 1)
    print(f"{'held-out' if not args.all else 'all'} photos: {len(files)} (head: {stack.models_used()['scene_head']})")
    for i, lab in enumerate(SCENE_LABELS):
        print(f"  {lab:10s} {conf[i, i]:3d}/{conf[i].sum():<3d} {per[i] * 100:5.1f} %")
    present = conf.sum(axis=1) > 0  # a class with no photos in DIR has no accuracy to average in
    print(f"macro top-1 accuracy: {per[present].mean() * 100:.1f} % over {int(present.sum())} classes   "
          f"micro: {conf.trace() / conf.sum() * 100:.1f} %")
    print("confusion matrix (rows = truth, columns = predicted):")
    print("            " + " ".join(f"{lab[:5]:>5s}" for lab in SCENE_LABELS))
    for i, lab in enumerate(SCENE_LABELS):
        print(f"  {lab:10s}" + " ".join(f"{v:5d}" for v in conf[i]))
    print(f"scene stage ms: p50 {np.percentile(t_scene, 50):.1f}  p95 {np.percentile(t_scene, 95):.1f}")
    print(f"faces + scene ms: p50 {np.percentile(t_total, 50):.1f}  p95 {np.percentile(t_total, 95):.1f}")
    if wrong:
        print("misclassified:")
        print("\n".join(wrong))
    stack.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
