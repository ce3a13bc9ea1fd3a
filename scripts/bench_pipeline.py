"""Benchmark the shot pipeline: per-stage p50/p95 and peak RSS at 1080p and 12 MP, against the floor.

Why a floor: this machine is noisy, so absolute milliseconds drift between runs; the JPEG decode +
encode of the same frame, measured in the same run, is the least any camera app must do with it,
and the ratio shot / floor is comparable across runs and machines.

Frames are handed over like a camera delivers them (decoded RGB, no JPEG bytes), so the original
is JPEG-encoded for the archive inside the shot. Models run with the default config (1 thread).

Usage: python scripts/bench_pipeline.py [--runs 30] [--warmup 3] [--sizes 1920x1080,4056x3040]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from edgecam.app import App
from edgecam.camera.base import Frame
from edgecam.camera.replay import BUNDLED_SAMPLES, list_images
from edgecam.config import load_config


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so the next reading covers only the shot, not the
    benchmark's own frame synthesis and floor measurement. Linux only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--sizes", default="1920x1080,4056x3040")
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    photos = [cv2.imread(str(p)) for p in list_images(BUNDLED_SAMPLES)]
    cfg = load_config(environ={})
    cfg.output.min_free_mb = 0
    out = Path(tempfile.mkdtemp(prefix="edgecam-bench-"))
    cfg.output.dir = out
    cfg.outbox.path = out / "outbox.sqlite"
    print(f"python {sys.version.split()[0]}, opencv {cv2.__version__}, numpy {np.__version__}, "
          f"runs {args.runs} per size, baseline RSS {rss_mb():.0f} MB")
    with App(cfg, use_camera=False) as app:
        print(f"after model load: peak RSS {rss_mb():.0f} MB")
        for w, h in sizes:
            # Nothing large is kept between shots: each frame is made from a small bundled photo (not timed),
            # so at most one full frame is alive at a time, as with a camera, and the peak RSS is the
            # daemon's, not the benchmark's.
            stages: dict[str, list[float]] = {}
            floor: list[float] = []
            shot_peak = 0.0
            for i in range(args.warmup + args.runs):
                bgr = cv2.resize(photos[i % len(photos)], (w, h), interpolation=cv2.INTER_LINEAR)
                t0 = time.perf_counter()
                jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])[1]
                cv2.imdecode(jpg, cv2.IMREAD_COLOR)
                fl = (time.perf_counter() - t0) * 1000
                del jpg
                frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr), i, time.time(), "bench")  # in place
                del bgr
                exact = reset_peak()
                r = app.shoot_frame(frame, None, 0, "bench")
                shot_peak = max(shot_peak, peak_mb() if exact else rss_mb())
                del frame
                if i < args.warmup:
                    continue
                floor.append(fl)
                for st, ms in r.timings_ms.items():
                    stages.setdefault(st, []).append(ms)
            print(f"\n{w}x{h} ({w * h / 1e6:.1f} MP), {args.runs} shots over {len(photos)} photos")
            print(f"  {'stage':<10}{'p50 ms':>9}{'p95 ms':>9}")
            for st in ("prepare", "faces", "scene", "crop", "matte", "render", "save", "total"):
                xs = stages.get(st, [0.0])
                print(f"  {st:<10}{pct(xs, 50):9.1f}{pct(xs, 95):9.1f}")
            print(f"  {'floor':<10}{pct(floor, 50):9.1f}{pct(floor, 95):9.1f}   (JPEG encode + decode of the frame)")
            print(f"  total / floor (p50): {statistics.median(stages['total']) / statistics.median(floor):.2f}x")
            print(f"  peak RSS during shots (frame included): {shot_peak:.0f} MB; process peak so far, "
                  f"benchmark's own frame synthesis included: {rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
