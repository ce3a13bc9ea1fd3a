"""The daemon: wires the services, owns their lifecycle, and registers the commands.

Why one place for wiring: services start in dependency order (store → models → camera →
dispatcher → triggers → MQTT) and stop in reverse, so a failing start-up leaves nothing half-open
and a stop never cuts a shot in the middle. There are no module-level singletons: every test can
build as many independent ``App`` objects as it likes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from edgecam.camera import make_camera
from edgecam.camera.base import Camera, Frame
from edgecam.camera.capture import CaptureLoop
from edgecam.commands import Dispatcher, NoArgs, RequestLedger
from edgecam.config import Config, load_config
from edgecam.errors import CameraError, ConfigError, EdgecamError
from edgecam.events import EventBus
from edgecam.output.printing import Printer, make_printer
from edgecam.output.store import PhotoStore
from edgecam.pipeline import ShotPipeline, ShotResult
from edgecam.sdnotify import Notifier
from edgecam.styles.book import StyleBook
from edgecam.styles.render import Renderer
from edgecam.vision.stack import VisionStack

log = logging.getLogger(__name__)


class Service(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class ShutterArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    style: str | None = Field(None, max_length=64)
    copies: int = Field(0, ge=0, le=50, description="prints to make (0 = printer.auto_print decides)")


class StyleArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    style: str = Field(..., min_length=1, max_length=64)


class ReprintArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shot_id: str | None = Field(None, max_length=64, description="default: the last shot")
    copies: int = Field(1, ge=1, le=50)


class App:
    """The running camera. ``start``/``stop`` are idempotent; commands go through ``dispatcher``."""

    def __init__(self, cfg: Config, config_path: Path | None = None, *,
                 camera_factory: Callable[[], Camera] | None = None, pace: bool = True,
                 use_camera: bool = True) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.events = EventBus()
        self.notifier = Notifier()
        self._camera_factory = camera_factory or (lambda: make_camera(cfg.camera, pace=pace))
        self.store = PhotoStore(cfg.output.dir, cfg.output.jpeg_quality, cfg.output.min_free_mb,
                                device=cfg.device_id, camera_model=cfg.camera.kind)
        self.vision = VisionStack(cfg.models, cfg.vision)
        self.book = StyleBook.from_config(cfg.styles)
        self.renderer = Renderer(self.book, cfg.output.dpi)
        self.use_camera = use_camera  # False for batch processing of files (no device is opened)
        self.capture = CaptureLoop(self._camera_factory, buffer=cfg.camera.buffer,
                                   stall_timeout_s=cfg.camera.stall_timeout_s, rotate=cfg.camera.rotate,
                                   mirror=cfg.camera.mirror, events=self.events)
        self.printer: Printer = make_printer(cfg.printer, self._printer_changed)
        self.pipeline: ShotPipeline | None = None
        self.ledger: RequestLedger | None = None
        self.dispatcher = Dispatcher(allow=None)
        self.extra_services: list[Service] = []
        self.outbox: Any = None  # set by the cloud wiring (edgecam.cloud.wiring.OutboxService)
        self.mode = "stopped"
        self.current_style = cfg.styles.default
        self.shots = 0
        self.last_shot: dict[str, Any] | None = None
        self._started: list[Callable[[], None]] = []
        self._watchdog: threading.Thread | None = None
        self._stop_evt = threading.Event()
        self._register_commands()

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Core services first (store, models, pipeline, camera); the camera is ready before any
        trigger or MQTT bridge starts, so no command can arrive at a half-started daemon."""
        if self.mode != "stopped":
            return
        try:
            self.store.open()
            self._started.append(self.store.close)
            self.ledger = RequestLedger(self.cfg.output.dir / "requests.sqlite")
            self._started.append(self.ledger.close)
            self.dispatcher.ledger = self.ledger
            self.vision.start()
            self._started.append(self.vision.close)
            self.pipeline = ShotPipeline(
                self.vision, self.book, self.renderer, self.store,
                analysis_long_edge=self.cfg.vision.analysis_long_edge, jpeg_quality=self.cfg.output.jpeg_quality,
                save_original=self.cfg.output.save_original, caption=self.cfg.styles.caption,
                device_id=self.cfg.device_id,
                product_cutout_on_device=self.cfg.vision.product_cutout_on_device)
            self._started.append(self.pipeline.close)
            self.printer.start()
            self._started.append(lambda: self.printer.stop())  # the printer object changes on reload
            if self.use_camera:
                self.capture.start()
                self._started.append(self.capture.stop)
            self.mode = "ready"
            for svc in self.extra_services:
                svc.start()
                self._started.append(svc.stop)
        except BaseException:
            self.stop()
            raise
        self._stop_evt.clear()
        self._watchdog = threading.Thread(target=self._watchdog_loop, name="watchdog", daemon=True)
        self._watchdog.start()
        self.notifier.notify(ready=1, status="ready")
        self.events.publish("state", **self.state())
        log.info("edgecam ready: camera %s, output %s", self.capture.camera_name, self.cfg.output.dir)

    def stop(self) -> None:
        self.notifier.notify(stopping=1)
        self._stop_evt.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
            self._watchdog = None
        while self._started:
            fn = self._started.pop()
            try:
                fn()
            except Exception:
                log.exception("stopping %r failed", fn)
        self.mode = "stopped"

    def __enter__(self) -> App:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_service(self, svc: Service) -> None:
        """Extra services (MQTT bridge, GPIO, keyboard) started after the core, stopped before it."""
        self.extra_services.append(svc)
        if self.mode != "stopped":
            svc.start()
            self._started.append(svc.stop)

    def _watchdog_loop(self) -> None:
        interval = self.notifier.watchdog_interval_s() or 5.0
        while not self._stop_evt.wait(interval):
            if not self.use_camera or self.capture.healthy():
                self.notifier.notify(watchdog=1)
            else:
                log.error("capture loop unhealthy; withholding the systemd watchdog ping")

    # state -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "style": self.current_style,
            "camera": self.capture.camera_name if self.capture.running or self.capture.finished else "down",
            "camera_reopens": self.capture.reopen_count,
            "printer": self.printer.state(),
            "shots": self.shots,
            "last_scene": (self.last_shot or {}).get("scene"),
            "last_shot_ms": (self.last_shot or {}).get("timings_ms", {}).get("total"),
            "outbox_depth": self.outbox.depth() if self.outbox is not None else 0,
        }

    # the shot --------------------------------------------------------------------------------
    def shutter(self, style: str | None = None, copies: int = 0, source: str = "cli") -> ShotResult:
        """Shoot the camera's newest frame (or a full-resolution still where the backend has one)."""
        self._check_ready()
        frame = self.capture.still()
        if frame is None:
            frame = self.capture.wait_for(-1, timeout=self.cfg.camera.stall_timeout_s)
        if frame is None:
            raise CameraError(f"no frame from {self.capture.camera_name} (last error: {self.capture.last_error})")
        return self.shoot_frame(frame, style, copies, source)

    def _check_ready(self) -> None:
        if self.mode == "paused":
            raise EdgecamError("the camera is paused; send 'resume' first")
        if self.mode != "ready" or self.pipeline is None:
            raise EdgecamError(f"the camera is not ready (mode {self.mode})")

    def shoot_frame(self, frame: Frame, style: str | None = None, copies: int = 0, source: str = "cli") -> ShotResult:
        """Run the pipeline on a given frame (a file for ``shoot --input``/``process``, or the camera's)."""
        self._check_ready()
        assert self.pipeline is not None
        try:
            result = self.pipeline.shoot(frame, style or self.current_style)
        except EdgecamError as e:
            self.events.publish("error", source="shot", message=str(e), trigger=source)
            raise
        self.shots += 1
        result.trigger = source
        if copies or self.cfg.printer.auto_print:
            n = min(copies or 1, self.cfg.printer.max_copies)
            try:
                result.print_jobs = self.printer.submit(result.saved.styled, n, result.shot_id)
            except EdgecamError as e:
                result.print_error = str(e)
                self.events.publish("error", source="printer", message=str(e))
        summary = result.summary()
        self.last_shot = summary
        self.events.publish("shot", **summary)
        self.events.publish("state", **self.state())
        return result

    # commands --------------------------------------------------------------------------------
    def _register_commands(self) -> None:
        d = self.dispatcher
        d.register("shutter", lambda a, src: self.shutter(a.style, a.copies, src).summary(),
                   ShutterArgs, help="take a photo (optional style, copies to print)")
        d.register("set_style", self._cmd_set_style, StyleArgs, help="style for the next shots ('auto' = by scene)")
        d.register("status", lambda a, src: self.state() | {"styles": self.book.names()}, NoArgs, remember=False,
                   help="mode, style, camera, printer, counters")
        d.register("reprint", self._cmd_reprint, ReprintArgs, help="print a stored shot again")
        d.register("pause", lambda a, src: self._set_mode("paused"), NoArgs, help="refuse shots until resume")
        d.register("resume", lambda a, src: self._set_mode("ready"), NoArgs, help="accept shots again")
        d.register("print_resume", lambda a, src: self.printer.resume(), NoArgs,
                   help="re-enable a printer queue that stopped (after loading paper or clearing a jam)")
        d.register("printer_status", lambda a, src: self.printer.status(), NoArgs, remember=False,
                   help="printer state, reasons and jobs waiting")
        d.register("reload_config", self._cmd_reload, NoArgs, help="re-read the config file (styles, captions)")
        d.register("outbox_status", self._cmd_outbox_status, NoArgs, remember=False, help="cloud job queue depth")

    def _set_mode(self, mode: str) -> dict[str, Any]:
        if self.mode == "stopped":
            raise EdgecamError("the camera is not running")
        self.mode = mode
        self.events.publish("state", **self.state())
        return {"mode": mode}

    def _cmd_set_style(self, a: StyleArgs, src: str) -> dict[str, Any]:
        if a.style != "auto":
            self.book.get(a.style)
        self.current_style = a.style
        self.events.publish("state", **self.state())
        return {"style": a.style}

    def _cmd_reprint(self, a: ReprintArgs, src: str) -> dict[str, Any]:
        shot = self.store.get(a.shot_id) if a.shot_id else (self.store.recent(1) or [None])[0]
        if shot is None:
            raise EdgecamError(f"no shot {a.shot_id!r} in the gallery" if a.shot_id else "no shot taken yet")
        n = min(a.copies, self.cfg.printer.max_copies)
        jobs = self.printer.submit(Path(shot["styled"]), n, shot["id"])
        return {"shot_id": shot["id"], "print_jobs": jobs}

    def _cmd_reload(self, a: NoArgs, src: str) -> dict[str, Any]:
        if self.config_path is None:
            raise ConfigError("started without a config file; nothing to reload")
        new = load_config(self.config_path)
        book = StyleBook.from_config(new.styles)
        changed = [k for k in ("camera", "models", "mqtt", "output", "triggers", "vision")
                   if getattr(new, k) != getattr(self.cfg, k)]
        self.book = book
        self.renderer = Renderer(book, self.cfg.output.dpi)
        if self.pipeline is not None:
            self.pipeline.book, self.pipeline.renderer = book, self.renderer
            self.pipeline.caption = new.styles.caption
        if new.printer != self.cfg.printer:
            printer = make_printer(new.printer, self._printer_changed)
            if self.mode != "stopped":
                printer.start()
            old, self.printer = self.printer, printer
            old.stop()
        self.cfg = self.cfg.model_copy(update={"styles": new.styles, "printer": new.printer})
        self.current_style = new.styles.default
        return {"reloaded": ["styles", "printer"], "restart_needed_for": changed}

    def _printer_changed(self, status: dict[str, Any]) -> None:
        """A printer's own watcher saw a change (paper-out, resumed, cooldown): tell every listener."""
        self.events.publish("printer", **status)
        if self.mode != "stopped":
            self.events.publish("state", **self.state())

    def _cmd_outbox_status(self, a: NoArgs, src: str) -> dict[str, Any]:
        if self.outbox is None:
            return {"enabled": False, "depth": 0}
        return {"mqtt": self.cfg.mqtt.enabled, "depth": self.outbox.depth(), "counts": self.outbox.counts()}
