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

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from edgecam.config import PrinterConfig
from edgecam.errors import EdgecamError
from edgecam.output.atomic import atomic_write

OnChange = Callable[[dict[str, Any]], None]


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


def make_printer(cfg: PrinterConfig, on_change: OnChange | None = None) -> Printer:
    """The printer ``printer.kind`` names; device-specific modules are imported only when chosen."""
    if cfg.kind == "file":
        return FilePrinter(cfg.spool_dir)
    if cfg.kind == "cups":
        from edgecam.output.cups import CupsPrinter

        return CupsPrinter(cfg.cups, on_change=on_change)
    if cfg.kind == "escpos":
        from edgecam.output.escpos import EscPosPrinter

        return EscPosPrinter(cfg.escpos, on_change=on_change)
    return NoPrinter()
