"""``edgecam doctor``: check everything a kiosk needs and say how to fix what is wrong.

Why: the operator of a booth is rarely the person who installed it. Each check prints one line,
OK or FAIL, and every FAIL says what to do; the exit code is the number of failures (capped).
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

from edgecam.config import Config
from edgecam.errors import EdgecamError

Check = Callable[[Config], str]


def _check_models(cfg: Config) -> str:
    from edgecam.vision.stack import VisionStack

    stack = VisionStack(cfg.models, cfg.vision)
    stack.start()
    try:
        used = stack.models_used()
    finally:
        stack.close()
    return f"{len(used)} models verified (" + ", ".join(f"{k}:{v.get('runtime', '?')}" for k, v in used.items()) + ")"


def _check_styles(cfg: Config) -> str:
    from edgecam.styles.book import StyleBook

    book = StyleBook.from_config(cfg.styles)
    return f"{len(book.names())} styles; scene map complete"


def _check_camera(cfg: Config) -> str:
    from edgecam.camera import make_camera

    cam = make_camera(cfg.camera, pace=False)
    cam.open()
    try:
        t0 = time.monotonic()
        frame = None
        while frame is None and time.monotonic() - t0 < 5:
            frame = cam.read()
        if frame is None:
            raise EdgecamError(f"{cam.name}: opened but delivered no frame within 5 s")
        return f"{cam.name}: {frame.size[0]}x{frame.size[1]} frame in {1000 * (time.monotonic() - t0):.0f} ms"
    finally:
        cam.close()


def _check_output(cfg: Config) -> str:
    out = cfg.output.dir
    out.mkdir(parents=True, exist_ok=True)
    probe = out / ".doctor-probe"
    probe.write_bytes(b"ok")
    probe.unlink()
    free = shutil.disk_usage(out).free / 2**20
    if free < cfg.output.min_free_mb:
        raise EdgecamError(f"{out}: {free:.0f} MB free, below output.min_free_mb {cfg.output.min_free_mb}; free space")
    return f"{out} writable, {free:.0f} MB free"


def _check_broker(cfg: Config) -> str:
    if not cfg.mqtt.enabled:
        return "MQTT disabled (mqtt.enabled: false); cloud jobs wait in the outbox"
    try:
        with socket.create_connection((cfg.mqtt.host, cfg.mqtt.port), timeout=3):
            pass
    except OSError as e:
        raise EdgecamError(f"broker {cfg.mqtt.host}:{cfg.mqtt.port} unreachable ({e}); check mqtt.host/port "
                           "and that the broker runs") from e
    return f"broker {cfg.mqtt.host}:{cfg.mqtt.port} reachable"


def _check_gpio(cfg: Config) -> str:
    g = cfg.triggers.gpio
    if not g.enabled:
        return "GPIO button disabled (triggers.gpio.enabled: false)"
    try:
        from gpiozero import Button
    except ImportError as e:
        raise EdgecamError("triggers.gpio.enabled needs gpiozero: pip install 'edgecam[pi]'") from e
    try:
        Button(g.pin, pull_up=g.pull_up).close()
    except Exception as e:  # gpiozero raises BadPinFactory, PinInvalidPin, GPIOPinInUse, ...
        raise EdgecamError(f"GPIO pin {g.pin}: {type(e).__name__}: {e}; on a Pi install lgpio "
                           "(pip install 'edgecam[pi]') and add the service user to group 'gpio'") from e
    return f"GPIO button on BCM {g.pin} (debounce {g.debounce_ms} ms, hold {g.hold_s:g} s → {g.hold_action})"


def _check_printer(cfg: Config) -> str:
    if cfg.printer.kind == "none":
        return "no printer (printer.kind: none)"
    if cfg.printer.kind in ("cups", "escpos"):
        from edgecam.output.printing import make_printer

        printer = make_printer(cfg.printer)
        printer.start()
        try:
            st = printer.status()
        finally:
            printer.stop()
        where = cfg.printer.cups.queue if cfg.printer.kind == "cups" else cfg.printer.escpos.target
        reasons = ", ".join(st.get("reasons") or []) or "no details"
        if st["state"] == "error":
            hint = ("check printer.cups.queue against `lpstat -p` and printer.cups.server"
                    if cfg.printer.kind == "cups" else "check printer.escpos.target and that the printer is on")
            raise EdgecamError(f"{cfg.printer.kind} printer {where}: {reasons}; {hint}")
        if st["state"] == "paused":
            raise EdgecamError(f"{cfg.printer.kind} printer {where} is paused ({reasons}); load paper or clear "
                               "the jam, then send print_resume")
        return f"{cfg.printer.kind} printer {where}: {st['state']}"
    d = Path(cfg.printer.spool_dir)
    d.mkdir(parents=True, exist_ok=True)
    probe = d / ".doctor-probe"
    probe.write_bytes(b"ok")
    probe.unlink()
    return f"file printer spooling to {d} (writable)"


CHECKS: list[tuple[str, Check]] = [
    ("styles", _check_styles),
    ("models", _check_models),
    ("camera", _check_camera),
    ("output", _check_output),
    ("gpio", _check_gpio),
    ("broker", _check_broker),
    ("printer", _check_printer),
]


def run_doctor(load: Callable[[], Config], label: str) -> int:
    """Run every check; ``load`` reads the config (so its errors are reported like the others)."""
    try:
        cfg = load()
        print(f"OK   config   {label}")
    except EdgecamError as e:
        print(f"FAIL config   {e}")
        return 2
    failures = 0
    for name, check in CHECKS:
        try:
            print(f"OK   {name:<8} {check(cfg)}")
        except EdgecamError as e:
            failures += 1
            print(f"FAIL {name:<8} {e}")
        except OSError as e:
            failures += 1
            print(f"FAIL {name:<8} {e}")
    print("all checks passed" if failures == 0 else f"{failures} check(s) failed")
    return min(failures, 1)
