"""``edgecam models list | verify | bench``: what is installed, is it intact, how fast is it here.

Why in the CLI: an operator setting up a kiosk (or CI) needs to check the offline model folder
without starting the daemon; ``verify`` exits 3 (ModelError's code) naming the bad file.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from edgecam.config import load_config
from edgecam.errors import ModelError
from edgecam.vision.registry import ModelRegistry
from edgecam.vision.runtime import load_file


def _registry(args: argparse.Namespace) -> ModelRegistry:
    cfg = load_config(getattr(args, "config", None))
    return ModelRegistry(cfg.models.dir)


def _table(rows: list[tuple[Any, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def cmd_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    rows: list[tuple[Any, ...]] = [("name", "task", "runtimes/precisions", "bytes", "licence")]
    for name in reg.names():
        e = reg.entry(name)
        files = reg.files(name)
        rows.append((name, e.get("task", "-"), ",".join(f.key for f in files), sum(f.bytes for f in files),
                     e.get("licence", "-")))
    print(f"models in {reg.dir}")
    print(_table(rows))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    reg = _registry(args)
    bad = 0
    for f, err in reg.verify_all():
        print(f"{'ok      ' if err is None else 'MISMATCH'}  {f.path.name}" + (f"  {err}" if err else ""))
        bad += err is not None
    if bad:
        print(f"{bad} file(s) failed verification")
        return ModelError.exit_code
    print("all files match manifest.json")
    return 0


def _dummy_input(shape: tuple[int | None, ...], dtype: np.dtype[Any]) -> np.ndarray:
    # dynamic dims (text detector H, W) get a realistic small size
    dims = [d if d is not None else (1 if i == 0 else 3 if i == 1 and len(shape) == 4 else 256)
            for i, d in enumerate(shape)]
    rng = np.random.default_rng(0)
    return rng.random(dims, dtype=np.float32).astype(dtype)


def cmd_bench(args: argparse.Namespace) -> int:
    reg = _registry(args)
    cfg = load_config(getattr(args, "config", None))
    rows: list[tuple[Any, ...]] = [("model", "file", "runtime", "p50 ms", "p95 ms")]
    for name in reg.names():
        for f in reg.files(name):
            if f.runtime not in ("onnx", "tflite"):
                continue
            try:
                reg.verify(f)
                sess = load_file(f, args.threads or cfg.models.threads)
            except ModelError as e:
                rows.append((name, f.path.name, f.runtime, "-", f"unavailable: {e}"[:60]))
                continue
            feeds = {i.name: _dummy_input(i.shape, i.dtype) for i in sess.inputs}
            sess.run(feeds)  # warm-up
            ts = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                sess.run(feeds)
                ts.append((time.perf_counter() - t0) * 1000)
            rows.append((name, f.path.name, f"{f.runtime}-{f.precision}", f"{np.percentile(ts, 50):.2f}",
                         f"{np.percentile(ts, 95):.2f}"))
            sess.close()
    print(_table(rows))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("models", help="list, verify and benchmark the on-device models")
    sub = p.add_subparsers(dest="models_cmd", required=True)
    sub.add_parser("list", help="table of models, runtimes, sizes and licences").set_defaults(func=cmd_list)
    sub.add_parser("verify", help="check every file's sha256 against manifest.json (exit 3 on mismatch)"
                   ).set_defaults(func=cmd_verify)
    b = sub.add_parser("bench", help="p50/p95 inference time per model and runtime")
    b.add_argument("--runs", type=int, default=20)
    b.add_argument("--threads", type=int, default=None, help="default: models.threads from the config")
    b.set_defaults(func=cmd_bench)
