"""Prove that edgecam's runtime dependencies install on a Raspberry Pi / Jetson (aarch64) from wheels.

Why: every runtime dependency must ship aarch64 wheels for Python 3.10 (JetPack 6) and 3.11
(Raspberry Pi OS bookworm); a source-only release would mean a compiler on the kiosk, or no install
at all. This asks pip to resolve the project's dependencies (and the ``tflite`` extra) for
``manylinux2014_aarch64`` with ``--only-binary=:all:`` and reports the wheel chosen for each.
picamera2 (the ``pi`` extra) comes from Raspberry Pi OS's apt repository and is not checked here.

Usage: python scripts/check_aarch64_wheels.py [--python 3.10 3.11] [--dest DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
# pip's --platform does not imply older glibc tags, so list every manylinux tag the oldest target
# accepts: JetPack 6 is Ubuntu 22.04 (glibc 2.35), Raspberry Pi OS bookworm has glibc 2.36. With only
# a few tags pip silently falls back to older releases (e.g. ai-edge-litert 1.4.0 instead of 2.3.0).
PLATFORMS = ["manylinux2014_aarch64"] + [f"manylinux_2_{minor}_aarch64" for minor in range(17, 36)]


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["tflite"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", nargs="+", default=["3.10", "3.11"])
    ap.add_argument("--dest", type=Path, default=None)
    args = ap.parse_args()
    reqs = requirements()
    failures = 0
    for py in args.python:
        dest = args.dest or Path(tempfile.mkdtemp(prefix=f"aarch64-py{py}-"))
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", py,
               "--implementation", "cp", "-d", str(dest)]
        for plat in PLATFORMS:
            cmd += ["--platform", plat]
        r = subprocess.run(cmd + reqs, capture_output=True, text=True)
        if r.returncode != 0:
            failures += 1
            print(f"Python {py} aarch64: FAILED\n{r.stderr.strip()[-2000:]}")
            continue
        wheels = sorted(p.name for p in dest.glob("*.whl"))
        print(f"Python {py} aarch64: {len(wheels)} wheels, all binary")
        for w in wheels:
            print(f"  {w}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
