#!/usr/bin/env python3
"""The Python half of scripts/arm64_proof.sh: the checks that run inside the emulated aarch64 Python.

Usage (normally called by arm64_proof.sh, not by hand):
    arm64_proof.py requirements          # host: the runtime requirements, pinned to this Python's versions
    arm64_proof.py machine               # aarch64: print the platform and library versions; fail unless aarch64
    arm64_proof.py inputs OUT.npz        # host (x86): the model inputs the reference run feeds
    arm64_proof.py references [--x86-inputs X86.npz [--feed]]
                                         # aarch64: every shipped model, both runtimes, vs reference_outputs.npz;
                                         # --x86-inputs also reports how far the preprocessing here is from x86's,
                                         # --feed runs the models on the x86 inputs (the models alone, compared)
    arm64_proof.py photos DIR N [--expect X86DIR]
                                         # aarch64: the demo left N styled JPEGs (decodable) under DIR;
                                         # with --expect, scene/style/faces equal those of an x86 run

Why reuse ``make_reference_outputs``: the x86 test (tests/vision/test_reference_outputs.py) and this
proof must build the same inputs and apply the same tolerances, or an aarch64 pass would mean nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFS = ROOT / "tests" / "vision" / "reference_outputs.npz"
# distributions whose version changes numerics or behaviour; pinned to the host's so that the only
# difference between the x86 reference run and the aarch64 run is the architecture
PINNED = ("numpy", "opencv-python-headless", "onnxruntime", "ai-edge-litert", "pillow")


def cmd_requirements(_args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    from check_aarch64_wheels import requirements  # type: ignore[import-not-found]

    for req in requirements():
        name = req.split(";")[0].split("[")[0]
        for op in ("<", ">", "=", "!", "~"):
            name = name.split(op)[0]
        name = name.strip()
        try:
            version = metadata.version(name) if name.lower() in PINNED else None
        except metadata.PackageNotFoundError:
            version = None
        print(f"{name}=={version}" if version else req)
    return 0


def cmd_machine(_args: argparse.Namespace) -> int:
    machine = platform.machine()
    print(f"platform.machine() = {machine}")
    print(f"python {platform.python_version()} ({sys.executable}), libc {' '.join(platform.libc_ver())}")
    for dist in ("numpy", "opencv-python-headless", "onnxruntime", "ai-edge-litert", "pillow", "pydantic"):
        try:
            print(f"  {dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            print(f"  {dist} NOT INSTALLED")
    import onnxruntime as ort

    print(f"  onnxruntime providers: {', '.join(ort.get_available_providers())}")
    return 0 if machine == "aarch64" else 1


def cmd_inputs(args: argparse.Namespace) -> int:
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_reference_outputs import model_inputs  # type: ignore[import-not-found]

    from edgecam.vision.registry import ModelRegistry

    inputs = model_inputs(ModelRegistry())
    np.savez(args.out, **inputs)
    print(f"wrote {args.out}: {len(inputs)} model inputs prepared on {platform.machine()}")
    return 0


def _input_diffs(here: dict, x86) -> None:
    """Print how far this machine's preprocessing is from x86's, per model input (in input units)."""
    import numpy as np

    for key in sorted(here):
        a, b = here[key].astype(np.float64), x86[key].astype(np.float64)
        d = np.abs(a - b)
        print(f"  input {key:48} max abs diff {d.max():.3g}, {100 * (d > 0).mean():.1f}% of values differ")


def cmd_references(args: argparse.Namespace) -> int:
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_reference_outputs import compare, model_inputs, reference_outputs  # type: ignore[import-not-found]

    from edgecam.vision.registry import ModelRegistry

    reg = ModelRegistry()
    x86 = np.load(args.x86_inputs) if args.x86_inputs else None
    if x86 is not None and not args.feed:
        print(f"preprocessing here ({platform.machine()}) vs x86 ({args.x86_inputs.name}):")
        _input_diffs(model_inputs(reg), x86)
    feed = {k: x86[k] for k in x86.files} if args.feed else None
    t0 = time.perf_counter()
    current = reference_outputs(reg, feed)
    elapsed = time.perf_counter() - t0
    refs = np.load(REFS)
    problems, diffs = compare(refs, current)
    missing = sorted(set(refs.files) - set(current))
    extra = sorted(set(current) - set(refs.files))
    if missing or extra:
        problems.append(f"model set differs from the reference: missing {missing}, extra {extra}")
    # max abs diff per model/runtime-precision (over both samples and every output), and per runtime
    per_file: dict[str, float] = defaultdict(float)
    per_runtime: dict[str, float] = defaultdict(float)
    for key, err in diffs.items():
        model, file_key = key.split("/")[:2]
        per_file[f"{model}/{file_key}"] = max(per_file[f"{model}/{file_key}"], err)
        per_runtime[file_key.split("-")[0]] = max(per_runtime[file_key.split("-")[0]], err)
    how = "x86-prepared inputs" if args.feed else f"inputs prepared here ({platform.machine()})"
    print(f"{len(diffs)} outputs ({how}) compared with {REFS.relative_to(ROOT)} in {elapsed:.0f} s "
          "(under emulation: not ARM speed)")
    for name, err in sorted(per_file.items()):
        fails = sum(1 for p in problems if p.startswith(name + "/"))
        print(f"  {name:48} max abs diff {err:.3g}{f'  ({fails} outputs over tolerance)' if fails else ''}")
    print("max abs diff per runtime: " + ", ".join(f"{rt} {err:.3g}" for rt, err in sorted(per_runtime.items())))
    for p in problems:
        print(f"  PROBLEM {p}")
    return 1 if problems or not diffs else 0


def _shots(folder: Path) -> dict[str, dict]:
    """Per source photo name: what the demo wrote (styled JPEG decoded, scene label, style, face count)."""
    from PIL import Image

    shots = {}
    for sidecar in sorted(folder.rglob("*.json")):
        meta = json.loads(sidecar.read_text())
        if not isinstance(meta, dict) or "files" not in meta:
            continue
        jpg = sidecar.parent / meta["files"]["styled"]
        if not jpg.is_file():
            continue
        with Image.open(jpg) as im:
            im.load()  # decodes the whole JPEG: a truncated file fails here
            size = im.size
        shots[Path(meta["source"]).name] = {
            "styled": str(jpg.relative_to(folder)), "size": list(size), "bytes": jpg.stat().st_size,
            "scene": meta["scene"]["label"], "style": meta["style"]["name"], "faces": len(meta["scene"]["faces"]),
            "runtimes": sorted({m.get("runtime", "?") for m in meta["models"].values() if isinstance(m, dict)}),
        }
    return shots


def cmd_photos(args: argparse.Namespace) -> int:
    shots = _shots(args.dir)
    for src, s in shots.items():
        print(f"  {src:22} -> {s['styled']} {s['size'][0]}x{s['size'][1]} {s['bytes']} B, scene {s['scene']}, "
              f"style {s['style']}, faces {s['faces']}, runtimes {'+'.join(s['runtimes'])}")
    ok = len(shots) == args.n
    print(f"{len(shots)} styled JPEG(s) with a sidecar, {args.n} expected")
    if args.expect is not None:
        # the same demo on this machine's x86 Python: same photos must give the same decisions
        ref = _shots(args.expect)
        for src, s in shots.items():
            r = ref.get(src)
            if r is None:
                print(f"  {src}: no x86 shot to compare with")
                ok = False
                continue
            same = all(s[k] == r[k] for k in ("scene", "style", "faces", "size"))
            print(f"  {src}: {'same' if same else 'DIFFERENT'} scene/style/faces/size as x86 "
                  f"(x86: {r['scene']}, {r['style']}, {r['faces']} faces)")
            ok = ok and same
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("requirements").set_defaults(func=cmd_requirements)
    sub.add_parser("machine").set_defaults(func=cmd_machine)
    s = sub.add_parser("inputs")
    s.add_argument("out", type=Path)
    s.set_defaults(func=cmd_inputs)
    s = sub.add_parser("references")
    s.add_argument("--x86-inputs", type=Path, default=None, help="model inputs written by `inputs` on x86")
    s.add_argument("--feed", action="store_true", help="feed the x86 inputs instead of preprocessing here")
    s.set_defaults(func=cmd_references)
    s = sub.add_parser("photos")
    s.add_argument("dir", type=Path)
    s.add_argument("n", type=int)
    s.add_argument("--expect", type=Path, default=None, help="the same demo's output from an x86 run")
    s.set_defaults(func=cmd_photos)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
