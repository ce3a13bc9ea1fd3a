"""make_printer picks the printer ``printer.kind`` names, and the config refuses an escpos printer
without a target before anything tries to print."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edgecam.config import EscPosConfig, PrinterConfig
from edgecam.output.escpos import EscPosPrinter
from edgecam.output.printing import BackgroundPrinter, FilePrinter, NoPrinter, make_printer


def test_make_printer_picks_by_kind(tmp_path: Path) -> None:
    assert isinstance(make_printer(PrinterConfig()), NoPrinter)
    fp = make_printer(PrinterConfig(kind="file", spool_dir=tmp_path))
    assert isinstance(fp, FilePrinter) and fp.spool_dir == tmp_path
    calls: list[dict] = []
    ep = make_printer(PrinterConfig(kind="escpos", escpos=EscPosConfig(target="tcp://10.0.0.7", width_px=576)),
                      on_change=calls.append)
    # a thermal print takes seconds: it runs beside the shot, not inside the shutter command
    assert isinstance(ep, BackgroundPrinter) and isinstance(ep.inner, EscPosPrinter) and ep.name == "escpos"
    assert ep.on_change == calls.append and ep.inner.on_change == calls.append
    assert ep.status()["target"] == "tcp://10.0.0.7:9100" and ep.status()["width_px"] == 576


def test_escpos_without_target_fails_validation() -> None:
    with pytest.raises(ValidationError, match=r"printer\.escpos\.target is empty"):
        PrinterConfig(kind="escpos")
