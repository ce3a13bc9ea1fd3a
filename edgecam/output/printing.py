"""Printer outputs behind one small interface.

Why an interface now: the shot pipeline and the ``reprint`` command must not care whether the
photo goes to a CUPS photo printer, an ESC/POS thermal printer or a spool folder that another
program watches. The ``file`` printer is the embedded default's real output: each copy is an
atomic copy of the styled JPEG in ``printer.spool_dir``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from edgecam.errors import EdgecamError
from edgecam.output.atomic import atomic_write


class PrinterError(EdgecamError):
    """The printer refused a job or is not configured."""


class Printer(Protocol):
    name: str

    def state(self) -> str:
        """idle | printing | paused | error | none"""

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        """Queue ``copies`` prints; returns one job id per copy."""


class NoPrinter:
    name = "none"

    def state(self) -> str:
        return "none"

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        raise PrinterError("no printer configured (printer.kind: none); set printer.kind: file to spool prints")


class FilePrinter:
    """Spools prints as files: ``<spool_dir>/<job_name>-<n>.jpg``, each written atomically."""

    name = "file"

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = Path(spool_dir)

    def state(self) -> str:
        return "idle"

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        data = photo.read_bytes()
        ids = []
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1, copies + 1):
            target = self.spool_dir / f"{job_name}-{stamp}-{n}.jpg"
            atomic_write(target, data)
            ids.append(target.name)
        return ids
