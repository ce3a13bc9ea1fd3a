"""Printer outputs behind one small interface, and the factory that picks one from the config.

Why an interface: the shot pipeline and the ``reprint`` command must not care whether the photo
goes to a CUPS photo printer, an ESC/POS thermal printer or a spool folder that another program
watches. Every printer is a service (``start``/``stop``) because the real ones watch their device
(paper-out, a stopped queue, a cooldown between jobs) and report changes through ``on_change``.

States, the same for every kind: ``idle`` · ``printing`` · ``cooldown`` (jobs held until the
printer is ready for the next one) · ``paused`` (the device or CUPS stopped: paper-out, jam,
an operator; ``resume()`` or the auto-resume clears it) · ``error`` (unreachable) · ``none``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from edgecam.config import PrinterConfig
from edgecam.errors import EdgecamError
from edgecam.output.atomic import atomic_write

OnChange = Callable[[dict[str, Any]], None]
log = logging.getLogger(__name__)


class PrinterError(EdgecamError):
    """The printer refused a job or is not configured."""


class Printer(Protocol):
    name: str

    def start(self) -> None:
        """Begin watching the device (no-op for printers without one)."""

    def stop(self) -> None:
        """Stop watching; queued jobs stay with the device or spooler."""

    def state(self) -> str:
        """idle | printing | cooldown | paused | error | none"""

    def status(self) -> dict[str, Any]:
        """``state`` plus details: reasons (e.g. ``media-empty``), jobs waiting, the device."""

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        """Queue ``copies`` prints; returns one job id per copy (or one per job with N copies)."""

    def resume(self) -> dict[str, Any]:
        """Operator action: clear a paused state (re-enable a stopped queue); returns ``status()``."""


class NoPrinter:
    name = "none"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def state(self) -> str:
        return "none"

    def status(self) -> dict[str, Any]:
        return {"kind": "none", "state": "none"}

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        raise PrinterError("no printer configured (printer.kind: none); set printer.kind: file to spool prints")

    def resume(self) -> dict[str, Any]:
        return self.status()


class FilePrinter:
    """Spools prints as files: ``<spool_dir>/<job_name>-<n>.jpg``, each written atomically."""

    name = "file"

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = Path(spool_dir)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def state(self) -> str:
        return "idle"

    def status(self) -> dict[str, Any]:
        return {"kind": "file", "state": "idle", "spool_dir": str(self.spool_dir)}

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        data = photo.read_bytes()
        ids = []
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1, copies + 1):
            target = self.spool_dir / f"{job_name}-{stamp}-{n}.jpg"
            atomic_write(target, data)
            ids.append(target.name)
        return ids

    def resume(self) -> dict[str, Any]:
        return self.status()


class BackgroundPrinter:
    """Runs a slow printer's ``submit`` on its own thread, so the shutter's reply does not wait for it.

    Why: an ESC/POS print is dithered (Atkinson ~0.2 s in pure Python) and paced by the printer's
    own speed (seconds), and a shutter with copies must answer the guest, GPIO and MQTT at once.
    A printer already known to be paused or unreachable still refuses at once, so the caller sees
    "paper is out"; a job that fails later is reported through ``on_change`` (``failed_job`` and
    ``error``), which the daemon publishes as a ``printer`` event. The photo itself is already
    saved, so a failed print can be re-sent with ``reprint``. ``stop`` finishes queued jobs first.
    """

    def __init__(self, inner: Printer, on_change: OnChange | None = None, max_queue: int = 20,
                 drain_s: float = 60.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.on_change = on_change
        self.drain_s = drain_s
        self._q: queue.Queue[tuple[Path, int, str] | None] = queue.Queue(maxsize=max_queue)
        self._busy = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.inner.start()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"print-{self.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._q.put(None)  # after the jobs already queued
            self._thread.join(self.drain_s)
            if self._thread.is_alive():
                log.warning("printer %s: %d queued print(s) not sent before shutdown", self.name, self._q.qsize())
            self._thread = None
        self.inner.stop()

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            photo, copies, job_name = item
            with self._lock:
                self._busy += 1
            try:
                self.inner.submit(photo, copies, job_name)
            except Exception as e:  # the worker must survive any one job
                log.error("printer %s: print %s failed: %s", self.name, job_name, e)
                if self.on_change is not None:
                    self.on_change(self.inner.status() | {"failed_job": job_name, "error": str(e)})
            finally:
                with self._lock:
                    self._busy -= 1

    def _pending(self) -> int:
        with self._lock:
            return self._q.qsize() + self._busy

    def state(self) -> str:
        st = self.inner.state()
        return "printing" if st in ("idle", "unknown") and self._pending() else st

    def status(self) -> dict[str, Any]:
        return self.inner.status() | {"state": self.state(), "queued": self._pending()}

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        st = self.inner.status()
        if st.get("state") in ("paused", "error"):
            why = ", ".join(st.get("reasons") or []) or st.get("error") or "no details"
            raise PrinterError(f"{self.name} printer is {st['state']} ({why}); fix it and send print_resume")
        if not Path(photo).is_file():
            raise PrinterError(f"nothing to print: {photo} does not exist")
        try:
            self._q.put_nowait((Path(photo), copies, job_name))
        except queue.Full:
            raise PrinterError(f"{self.name} print queue is full ({self._q.maxsize} waiting)") from None
        return [f"{job_name}-{n}" for n in range(1, copies + 1)]

    def resume(self) -> dict[str, Any]:
        self.inner.resume()
        return self.status()


def make_printer(cfg: PrinterConfig, on_change: OnChange | None = None) -> Printer:
    """The printer ``printer.kind`` names; device-specific modules are imported only when chosen."""
    if cfg.kind == "file":
        return FilePrinter(cfg.spool_dir)
    if cfg.kind == "cups":
        from edgecam.output.cups import CupsPrinter

        return CupsPrinter(cfg.cups, on_change=on_change)
    if cfg.kind == "escpos":
        from edgecam.output.escpos import EscPosPrinter

        return BackgroundPrinter(EscPosPrinter(cfg.escpos, on_change=on_change), on_change)
    return NoPrinter()
