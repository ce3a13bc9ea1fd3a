"""The ``edgecam`` command line: run, demo, shoot, process, config, doctor (+ models, styles, outbox, worker).

Why every subcommand goes through ``App`` and its dispatcher: a shot from the CLI must be exactly
the shot a GPIO press or an MQTT command would take. Every ``EdgecamError`` becomes one clear
line on stderr and its exit code (config 2, model 3, input 4, storage 5, style 6, camera 7).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from edgecam.errors import EdgecamError

PLUGIN_MODULES = ("models", "styles", "outbox", "worker")
log = logging.getLogger("edgecam")


def _setup_logging(level: str, json_format: bool = False) -> None:
    fmt = '{"t":"%(asctime)s","lvl":"%(levelname)s","log":"%(name)s","msg":"%(message)s"}' if json_format \
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=getattr(logging, level), format=fmt, stream=sys.stderr)


def _load(args: argparse.Namespace) -> Any:
    from edgecam.config import apply_override, load_config

    cfg = load_config(args.config)
    for override in getattr(args, "set", None) or []:
        cfg = apply_override(cfg, override)
    return cfg


def _print_summary_row(s: dict[str, Any], file: Any = sys.stdout) -> None:
    t = s["timings_ms"]
    stages = " ".join(f"{k}={t[k]:.0f}" for k in ("faces", "scene", "crop", "matte", "render", "save") if k in t)
    print(f"{Path(s['styled']).name:32} scene={s['scene']:<9} ({s['scene_score']:.2f}) style={s['style']:<14} "
          f"faces={s['faces']} total={t['total']:.0f}ms [{stages}]", file=file)


# commands ----------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """The embedded default: the daemon with a replay camera over the bundled photos; a simulated
    shutter releases one frame at a time and shoots it, so every photo is taken exactly once."""
    from edgecam.camera.replay import ReplayCamera, list_images, resolve_source

    cfg = _load(args)
    cfg.output.dir = Path(args.out).resolve()
    cfg.outbox.path = cfg.output.dir / "outbox.sqlite"
    if args.source:
        cfg.camera.source = args.source
    cfg.camera.kind = "replay"
    cfg.camera.loop = False
    cfg.camera.stall_timeout_s = 3600  # frames come only when the simulated shutter asks for one
    src = resolve_source(cfg.camera.source)
    n = len(list_images(src)) if src.is_dir() else None
    gate = threading.Semaphore(0)
    app = _make_app(cfg, args, camera_factory=lambda: ReplayCamera(cfg.camera.source, fps=cfg.camera.fps,
                                                                     loop=False, pace=False, gate=gate))
    print(f"edgecam demo: replaying {n if n is not None else 'a video of'} photos from {cfg.camera.source!r} "
          f"into {cfg.output.dir}")
    results = []
    with app:
        last = -1
        while True:
            gate.release()  # the simulated shutter: let exactly one frame through, then shoot it
            frame = app.capture.wait_for(last, timeout=30)
            if frame is None:
                break
            last = frame.index
            reply = app.dispatcher.dispatch("shutter", {"style": args.style} if args.style else {},
                                            source="demo")
            if reply.ok:
                results.append(reply.result)
                _print_summary_row(reply.result)
            else:
                print(f"shot failed: {reply.error['message'] if reply.error else '?'}", file=sys.stderr)
            if args.limit and len(results) >= args.limit:
                break
        depth = app.outbox.depth() if app.outbox is not None else 0
    if not results:
        print("no photos were taken", file=sys.stderr)
        return 1
    totals = sorted(r["timings_ms"]["total"] for r in results)
    print(f"{len(results)} instant photos in {cfg.output.dir} (median shot {totals[len(totals) // 2]:.0f} ms); "
          f"{depth} cloud job(s) waiting in the outbox (no broker configured)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The daemon: camera, triggers (keyboard, GPIO), MQTT; until SIGTERM/SIGINT or 'quit'."""
    from edgecam.triggers.keyboard import KeyboardTrigger

    cfg = _load(args)
    _setup_logging(cfg.logging.level, cfg.logging.json_format)
    app = _make_app(cfg, args)

    def show(reply: Any) -> None:
        if reply.ok and reply.command == "shutter":
            _print_summary_row(reply.result)
        else:
            print(reply.to_json(), flush=True)

    if cfg.triggers.keyboard.enabled and sys.stdin is not None and not sys.stdin.closed:
        app.add_service(KeyboardTrigger(app.dispatcher, sys.stdin, show, app.stop))
    if cfg.triggers.gpio.enabled:
        from edgecam.triggers.gpio import GpioTrigger

        app.add_service(GpioTrigger(cfg.triggers.gpio, app.dispatcher, app.events, on_reply=show))
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app.start()
    print(f"edgecam running (camera {app.capture.camera_name}); Enter = shutter, 'quit' to stop", flush=True)
    while not stop.is_set() and app.mode != "stopped":
        stop.wait(0.5)
    app.stop()
    return 0


def _make_app(cfg: Any, args: argparse.Namespace, use_camera: bool = True, camera_factory: Any = None) -> Any:
    """The App with its cloud side (outbox always, MQTT bridge when enabled), as every command uses it."""
    from edgecam.app import App
    from edgecam.cloud.wiring import wire

    app = App(cfg, Path(args.config) if args.config else None, use_camera=use_camera,
              camera_factory=camera_factory)
    wire(app)
    return app


def cmd_shoot(args: argparse.Namespace) -> int:
    from edgecam.camera.replay import load_photo

    cfg = _load(args)
    if args.out:
        cfg.output.dir = Path(args.out).resolve()
        cfg.outbox.path = cfg.output.dir / "outbox.sqlite"
    frame = load_photo(Path(args.input)) if args.input else None
    with _make_app(cfg, args, use_camera=frame is None) as app:
        if args.style:
            app.book.get(args.style)
        result = app.shoot_frame(frame, args.style, args.copies, "cli") if frame is not None \
            else app.shutter(args.style, args.copies, "cli")
    s = result.summary()
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        _print_summary_row(s)
        print(f"reasons: {'; '.join(s['reasons'])}")
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edgecam.camera.replay import IMAGE_SUFFIXES, load_photo

    cfg = _load(args)
    cfg.output.dir = Path(args.out).resolve()
    cfg.outbox.path = cfg.output.dir / "outbox.sqlite"
    inputs: list[Path] = []
    for name in args.inputs:
        p = Path(name)
        inputs.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p])
    failed = 0
    with _make_app(cfg, args, use_camera=False) as app:
        if args.style:
            app.book.get(args.style)
        bar = tqdm(inputs, unit="photo", disable=args.quiet or not sys.stderr.isatty(), file=sys.stderr)
        for i, path in enumerate(bar):
            try:
                r = app.shoot_frame(load_photo(path, i), args.style, 0, "cli")
                if not args.quiet:
                    tqdm.write(f"{path.name} -> {r.saved.styled.name} ({r.scene.label}, {r.style}, "
                               f"{r.timings_ms['total']:.0f} ms)")
            except EdgecamError as e:
                failed += 1
                tqdm.write(f"error: {e}", file=sys.stderr)
    print(f"{len(inputs) - failed} of {len(inputs)} photos processed into {cfg.output.dir}")
    return 0 if failed == 0 else 4


def cmd_config_check(args: argparse.Namespace) -> int:
    from edgecam.config import dump_config, load_config
    from edgecam.styles.book import StyleBook

    cfg = load_config(args.file)
    StyleBook.from_config(cfg.styles)  # scene_map targets and LUT names resolve
    print(f"# {args.file}: valid")
    print(dump_config(cfg), end="")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from edgecam.doctor import run_doctor

    return run_doctor(lambda: _load(args), args.config or "default")


# parser ------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgecam", description="AI instant-camera daemon for photo kiosks")
    p.add_argument("--config", "-c", default=None,
                   help="config file (default: $EDGECAM_CONFIG or the bundled configs/default.yaml)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("run", help="run the daemon (camera, triggers, MQTT)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("demo", help="replay the bundled sample photos through the daemon; one shot each")
    s.add_argument("--out", default="photos", help="output folder (default: ./photos)")
    s.add_argument("--source", default=None, help="replay another folder or video instead of the samples")
    s.add_argument("--style", default=None, help="force a style instead of choosing by scene")
    s.add_argument("--limit", type=int, default=0, help="stop after N shots")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("shoot", help="take one photo (from the camera or --input) and exit")
    s.add_argument("--input", "-i", default=None, help="a photo file instead of the camera")
    s.add_argument("--style", default=None)
    s.add_argument("--copies", type=int, default=0)
    s.add_argument("--out", default=None, help="output folder (default: output.dir)")
    s.add_argument("--json", action="store_true", help="print the shot summary as JSON")
    s.set_defaults(func=cmd_shoot)

    s = sub.add_parser("process", help="batch: style every photo given (files or folders)")
    s.add_argument("inputs", nargs="+")
    s.add_argument("--out", required=True)
    s.add_argument("--style", default=None)
    s.add_argument("--quiet", "-q", action="store_true")
    s.set_defaults(func=cmd_process)

    s = sub.add_parser("config", help="configuration tools")
    csub = s.add_subparsers(dest="config_command", required=True)
    c = csub.add_parser("check", help="validate a config file and print the effective config")
    c.add_argument("file")
    c.set_defaults(func=cmd_config_check)

    s = sub.add_parser("doctor", help="check config, models, camera, output folder, broker, printer")
    s.set_defaults(func=cmd_doctor)

    for name in PLUGIN_MODULES:
        try:
            mod = importlib.import_module(f"edgecam.cli.{name}")
        except ImportError as e:
            if e.name and e.name.startswith("edgecam.cli."):
                continue
            raise
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        _setup_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except EdgecamError as e:
        print(f"edgecam: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
