"""Soak test: N shots through the daemon's dispatcher; reports RSS growth after warm-up.

Why: kiosks run for weeks; peers leak (rembg grows from ~200 MB to ~1 GB after 10 images in
server mode). The daemon runs as in production (replay camera in its own thread, dispatcher,
pipeline, store); each shot is a ``shutter`` command. Photos are deleted as it goes so the disk
does not fill; the gallery index keeps growing as it would.

Usage: python scripts/soak.py [--shots 2000] [--warmup 100]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    from edgecam.app import App
    from edgecam.config import load_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shots", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="edgecam-soak-"))
    cfg = load_config(environ={})
    cfg.output.dir = out
    cfg.outbox.path = out / "outbox.sqlite"
    cfg.output.min_free_mb = 0
    cfg.camera.fps = 30
    samples: list[tuple[int, float]] = []
    t0 = time.monotonic()
    failures = 0
    with App(cfg) as app:
        base = None
        for i in range(args.shots):
            r = app.dispatcher.dispatch("shutter", {}, source="soak")
            if not r.ok:
                failures += 1
            else:
                for key in ("styled", "original"):
                    if r.result.get(key):
                        Path(r.result[key]).unlink(missing_ok=True)
            if i == args.warmup:
                base = rss_now_mb()
            if i % 100 == 0 or i == args.shots - 1:
                samples.append((i, rss_now_mb()))
                print(f"shot {i:5d}  RSS {samples[-1][1]:7.1f} MB  elapsed {time.monotonic() - t0:6.0f} s", flush=True)
    end = samples[-1][1]
    growth = end - (base or samples[0][1])
    print(f"\n{args.shots} shots, {failures} failed, {time.monotonic() - t0:.0f} s; RSS after warm-up "
          f"{base:.1f} MB -> {end:.1f} MB (growth {growth:+.1f} MB; target <= 10 MB)")
    shutil.rmtree(out, ignore_errors=True)
    return 0 if growth <= 10 and failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
