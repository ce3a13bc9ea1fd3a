#!/usr/bin/env python3
"""Train the scene head on a folder-per-class photo set and register it in exported_models/.

Usage: scripts/train_scene_head.py DIR [--models-dir exported_models] [--no-flip] [--cv] [--cv-repeats 4]

Why a fixed hashed split: the held-out part must stay held-out across re-runs and machines, so
each file goes to train or test by a seeded hash of its class/name, stratified per class (the
first 60 % of each class in hash order train). The split is written into the head file and
``scripts/eval_scene.py`` scores only the test part. scikit-learn is used here only; the device
runs the head as a numpy matmul + softmax (edgecam/vision/scene.py).

C and the hand-feature weight are chosen by repeated stratified 5-fold CV on the train part only
(both mirrored views of a photo stay in one fold; only the originals are scored). ``--cv`` prints
that CV's per-class accuracy and confusions for the chosen setting and writes nothing, so feature
changes can be judged without looking at the held-out part.

The head's entry (file, sha256, bytes) is merged into ``manifest.json`` so that other entries
(written by scripts/export_models.py) are kept; re-running the export script rewrites the
manifest, after which this script must be re-run (or its entry re-added).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecam.config import ModelsConfig, VisionConfig  # noqa: E402
from edgecam.vision.faces import FaceDetector  # noqa: E402
from edgecam.vision.imageio import to_rgb8  # noqa: E402
from edgecam.vision.registry import ModelRegistry, default_models_dir, sha256_file  # noqa: E402
from edgecam.vision.runtime import open_session  # noqa: E402
from edgecam.vision.scene import GROUP_NAMES, STAT_NAMES, SceneFeatures, SceneHead, feature_names  # noqa: E402
from edgecam.vision.stack import load_sample  # noqa: E402
from edgecam.vision.types import SCENE_LABELS  # noqa: E402

SPLIT_SEED = "edgecam-scene-split-v1"
FINGERPRINT_SAMPLE = "coffee.jpg"
EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
C_GRID = (0.003, 0.01, 0.03)
HAND_WEIGHT_GRID = (1.0, 3.0, 10.0)


def list_dataset(root: Path) -> list[tuple[str, str]]:
    """(relative path, label) for every image in DIR/<label>/ with a known label."""
    items = []
    for label in SCENE_LABELS:
        folder = root / label
        if folder.is_dir():
            items += [(f"{label}/{p.name}", label) for p in sorted(folder.iterdir()) if p.suffix.lower() in EXTS]
    return items


def split(items: list[tuple[str, str]], train_fraction: float = 0.6) -> tuple[list[str], list[str]]:
    """Deterministic stratified split by seeded sha1 of the relative path."""
    train, test = [], []
    for label in SCENE_LABELS:
        files = sorted(
            (rel for rel, lab in items if lab == label),
            key=lambda r: hashlib.sha1(f"{SPLIT_SEED}:{r}".encode()).hexdigest(),
        )
        k = round(len(files) * train_fraction)
        train += files[:k]
        test += files[k:]
    return sorted(train), sorted(test)


def load_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"{path}: cannot decode")
    return to_rgb8(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def build_extractor(models: ModelsConfig, vision: VisionConfig) -> tuple[FaceDetector, SceneFeatures, ModelRegistry]:
    reg = ModelRegistry(models.dir)
    faces = FaceDetector(open_session(reg, models.face_detection, models.threads), vision.face_score_threshold,
                         vision.face_tiles)
    cls = open_session(reg, models.classifier, models.threads)
    text = open_session(reg, models.text_detector, models.threads) if vision.text_detection else None
    labels = reg.aux("imagenet_labels.txt").path.read_text(encoding="utf-8").splitlines()
    feats = SceneFeatures(cls, reg.preprocess(models.classifier.name), labels, text,
                          reg.preprocess(models.text_detector.name) if text else None,
                          vision.analysis_long_edge, vision.text_long_edge)
    return faces, feats, reg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path, help="folder with one sub-folder per scene label")
    ap.add_argument("--models-dir", type=Path, default=None)
    ap.add_argument("--out", default="scene_head.json", help="file name inside the models folder")
    ap.add_argument("--train-fraction", type=float, default=0.6)
    ap.add_argument("--no-flip", action="store_true", help="do not add mirrored training photos")
    ap.add_argument("--C", type=float, default=None, help="inverse regularisation (default: chosen by 5-fold CV)")
    ap.add_argument("--hand-weight", type=float, default=None,
                    help="weight of the hand-made features vs one embedding dimension (default: chosen by CV)")
    ap.add_argument("--cache", type=Path, default=None, help="reuse/store extracted features in this .npz")
    ap.add_argument("--cv", action="store_true", help="only print the train-part CV report; write nothing")
    ap.add_argument("--cv-repeats", type=int, default=4, help="repeats of the stratified 5-fold CV")
    args = ap.parse_args(argv)
    models = ModelsConfig(dir=args.models_dir or default_models_dir())
    vision = VisionConfig()
    items = list_dataset(args.dir)
    if not items:
        raise SystemExit(f"{args.dir}: no images in sub-folders named {', '.join(SCENE_LABELS)}")
    train, test = split(items, args.train_fraction)
    label_of = dict(items)
    face_det, feats, reg = build_extractor(models, vision)

    t0 = time.perf_counter()
    key = f"{cls_key(feats)}|{'noflip' if args.no_flip else 'flip'}|{','.join(train)}"
    if args.cache and args.cache.exists() and str(np.load(args.cache)["key"]) == key:
        xa, ya = np.load(args.cache)["x"], np.load(args.cache)["y"]
    else:
        x, y = [], []
        for rel in train:
            rgb = load_rgb(args.dir / rel)
            views = [rgb] if args.no_flip else [rgb, np.ascontiguousarray(rgb[:, ::-1])]
            for v in views:
                vec, _ = feats.compute(v, face_det.detect(v))
                x.append(vec)
                y.append(SCENE_LABELS.index(label_of[rel]))
        xa, ya = np.stack(x).astype(np.float64), np.array(y)
        if args.cache:
            np.savez(args.cache, x=xa, y=ya, key=key)
    n_hand = len(STAT_NAMES) + len(GROUP_NAMES)
    print(f"features: {len(train)} train photos ({len(xa)} views), {len(test)} held out, "
          f"{xa.shape[1]} features, {time.perf_counter() - t0:.1f} s")
    mean, std0 = xa.mean(axis=0), xa.std(axis=0)
    std0[std0 < 1e-4] = 1.0  # constant in the training set: leave unscaled instead of dividing by ~0

    def scaled_std(hand_weight: float) -> np.ndarray:
        # dividing by a smaller std scales a feature up = weaker L2 penalty on it (no runtime change)
        s = std0.copy()
        s[-n_hand:] /= hand_weight
        return s

    groups = np.repeat(np.arange(len(train)), 1 if args.no_flip else 2)
    c, hw = args.C, args.hand_weight
    results = []  # ties go to the first in grid order (smaller weight, then smaller C)
    for cand_hw in [hw] if hw is not None else HAND_WEIGHT_GRID:
        z = (xa - mean) / scaled_std(cand_hw)
        for cand in [c] if c is not None else C_GRID:
            conf = cross_validate(z, ya, groups, cand, args.cv_repeats)
            results.append((macro(conf), cand, cand_hw, conf))
            print(f"  C={cand:<6} hand weight {cand_hw:<4} CV macro accuracy {macro(conf):.3f}", flush=True)
    best_score, c, hw, conf = max(results, key=lambda r: r[0])
    print(f"chosen C={c}, hand weight {hw}: train-CV macro {best_score * 100:.1f} % "
          f"({args.cv_repeats}x stratified 5-fold on {len(train)} train photos)")
    if args.cv:
        print_cv_report(conf)
        return 0
    std = scaled_std(hw)
    z = (xa - mean) / std
    model = fit(z, ya, c)
    cls_file = feats.classifier.file
    head = SceneHead(
        labels=SCENE_LABELS,
        feature_names=feature_names(xa.shape[1] - len(STAT_NAMES) - len(GROUP_NAMES)),
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        weights=model[0].astype(np.float32),
        bias=model[1].astype(np.float32),
        meta={
            "version": 1,
            "trained_by": "scripts/train_scene_head.py",
            "dataset": args.dir.name,
            "C": c,
            "hand_weight": hw,
            "train_cv_macro": round(best_score, 4),
            "flip_augment": not args.no_flip,
            "classifier": {"file": cls_file.path.name, "sha256": cls_file.sha256, "precision": cls_file.precision},
            "features": {"analysis_long_edge": vision.analysis_long_edge, "text_long_edge": vision.text_long_edge,
                         "text_detection": vision.text_detection, "face_tiles": vision.face_tiles,
                         "face_model": models.face_detection.name,
                         "face_score_threshold": vision.face_score_threshold},
            "split": {"seed": SPLIT_SEED, "train_fraction": args.train_fraction, "train": train, "test": test},
        },
    )
    # fingerprint: the head's scores on a bundled photo, re-checked at start-up (edgecam/vision/stack.py)
    fp_rgb = load_sample(FINGERPRINT_SAMPLE)
    fp_scores = head.predict(feats.compute(fp_rgb, face_det.detect(fp_rgb))[0])
    head.meta["fingerprint"] = {"sample": FINGERPRINT_SAMPLE, "scores": [round(float(v), 5) for v in fp_scores]}
    out = reg.dir / args.out
    out.write_text(head.to_json() + "\n", encoding="utf-8")
    merge_manifest(reg.manifest_path, out)
    print(f"wrote {out} ({out.stat().st_size} bytes), C={c}, hand weight {hw}; manifest entry 'scene_head' updated")
    return 0


def fit(z: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) of an L2 logistic regression, solved in the row space of ``z``.

    Why: with ~150 rows and ~1300 columns the L2-optimal weights lie in the span of the rows (any
    other component only adds penalty), so fitting on the rows' SVD coordinates gives the same
    optimum as fitting on ``z`` itself, about 10x faster, which makes repeated CV affordable.
    """
    from sklearn.linear_model import LogisticRegression

    _, _, vt = np.linalg.svd(z, full_matrices=False)
    m = LogisticRegression(C=c, max_iter=5000).fit(z @ vt.T, y)
    return m.coef_ @ vt, m.intercept_


def cross_validate(z: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float, repeats: int) -> np.ndarray:
    """Confusion matrix (truth x predicted) summed over repeated stratified 5-fold CV on photos.

    Both views of a photo share a group and a fold; only the first view (the original) is scored.
    """
    from sklearn.model_selection import StratifiedKFold

    first = np.r_[True, groups[1:] != groups[:-1]]
    photo_y = y[first]
    n = len(SCENE_LABELS)
    conf = np.zeros((n, n), int)
    for rep in range(repeats):
        folds = StratifiedKFold(5, shuffle=True, random_state=rep)
        for tr, te in folds.split(np.zeros(len(photo_y)), photo_y):
            tr_m, te_m = np.isin(groups, tr), np.isin(groups, te) & first
            coef, bias = fit(z[tr_m], y[tr_m], c)
            pred = np.argmax(z[te_m] @ coef.T + bias, axis=1)
            np.add.at(conf, (y[te_m], pred), 1)
    return conf


def macro(conf: np.ndarray) -> float:
    per = conf.diagonal() / np.maximum(conf.sum(axis=1), 1)
    return float(per[conf.sum(axis=1) > 0].mean())


def print_cv_report(conf: np.ndarray) -> None:
    per = conf.diagonal() / np.maximum(conf.sum(axis=1), 1)
    for i, lab in enumerate(SCENE_LABELS):
        top = [f"{SCENE_LABELS[j]} {conf[i, j]}" for j in np.argsort(-conf[i]) if j != i and conf[i, j]][:3]
        print(f"  {lab:10s} {per[i] * 100:5.1f} %  {'confused with: ' + ', '.join(top) if top else ''}")


def cls_key(feats: SceneFeatures) -> str:
    return (f"{feats.classifier.file.sha256}|{feats.text is not None}|{feats.analysis_long_edge}|"
            f"{feats.text_long_edge}|{STAT_NAMES}")


def merge_manifest(manifest_path: Path, head_path: Path) -> None:
    """Add or replace only the ``scene_head`` entry, keeping everything else as it is."""
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    data["models"]["scene_head"] = {
        "task": "scene_head",
        "licence": "Apache-2.0",
        "source": {"trained_by": "scripts/train_scene_head.py", "dataset": "scene-dev (not shipped)"},
        "files": {
            "json": {"file": head_path.name, "sha256": sha256_file(head_path), "bytes": head_path.stat().st_size}
        },
        "notes": "logistic head over efficientnet_lite0 features + face/brightness/text statistics; "
        "runs as numpy matmul + softmax",
    }
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(manifest_path)


if __name__ == "__main__":
    raise SystemExit(main())
