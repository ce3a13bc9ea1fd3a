"""CUPS printing against a real cupsd: bytes reach the printer, paper-out pauses and auto-resumes,
the operator can resume, and the cooldown holds jobs and releases them one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cupskit import CupsServer, SinkPrinter
from testkit import free_port, wait_until

from edgecam.config import CupsConfig, PrinterConfig
from edgecam.output.cups import CupsPrinter
from edgecam.output.printing import PrinterError, make_printer

pytestmark = pytest.mark.timeout(120)

SAMPLES = Path(__file__).resolve().parents[2] / "edgecam" / "samples"


@pytest.fixture
def photo() -> Path:
    return sorted(SAMPLES.glob("*.jpg"))[0]


@pytest.fixture
def sink() -> Iterator[SinkPrinter]:
    s = SinkPrinter()
    yield s
    s.close()


def printer(cups: CupsServer, queue: str, changes: list[dict[str, Any]] | None = None, **kw: Any) -> CupsPrinter:
    cfg = CupsConfig(queue=queue, server=cups.server, poll_s=0.2, **kw)
    p = CupsPrinter(cfg, on_change=changes.append if changes is not None else None)
    return p


def test_a_print_reaches_the_network_printer_byte_for_byte(cups: CupsServer, sink: SinkPrinter, photo: Path) -> None:
    cups.add_socket_queue("booth", sink.port)
    p = printer(cups, "booth")
    p.start()
    try:
        assert p.state() == "idle"
        ids = p.submit(photo, 1, "shot-1")
        assert len(ids) == 1 and ids[0].startswith("booth-")
        assert wait_until(lambda: ids[0] in cups.completed("booth"), 30), cups.run("lpstat", "-o")
        assert wait_until(lambda: len(sink.jobs) == 1, 10)
        assert sink.jobs[0] == photo.read_bytes()
    finally:
        p.stop()


def test_the_cups_pdf_printer_writes_a_pdf(cups: CupsServer, photo: Path) -> None:
    out = cups.add_pdf_queue("pdf")
    p = printer(cups, "pdf", options={"fit-to-page": "true"})
    p.start()
    try:
        (job,) = p.submit(photo, 1, "shot-pdf")
        assert wait_until(lambda: job in cups.completed("pdf"), 60)
        assert wait_until(lambda: any(out.glob("*.pdf")), 10), list(out.iterdir())
        pdf = next(out.glob("*.pdf"))
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    finally:
        p.stop()


def test_paper_out_pauses_and_the_queue_is_re_enabled_after_auto_resume_s(
    cups: CupsServer, sink: SinkPrinter, photo: Path
) -> None:
    cups.add_socket_queue("paper", sink.port)
    changes: list[dict[str, Any]] = []
    now = [1000.0]
    p = CupsPrinter(CupsConfig(queue="paper", server=cups.server, poll_s=30, auto_resume_s=60),
                    on_change=changes.append, clock=lambda: now[0])
    p.start()
    try:
        cups.run("cupsdisable", "-r", "media-empty", "paper")
        st = p.poll()
        assert st["state"] == "paused" and "media-empty" in st["reasons"]
        assert changes[-1]["state"] == "paused"
        (job,) = p.submit(photo, 1, "while-paused")  # CUPS keeps it; nothing is lost
        now[0] += 30
        assert p.poll()["state"] == "paused" and p.auto_resumes == 0
        assert job not in cups.completed("paper")
        now[0] += 31
        p.poll()
        assert p.auto_resumes == 1
        assert wait_until(lambda: job in cups.completed("paper"), 30)
        assert wait_until(lambda: p.poll()["state"] == "idle", 10)
        assert [c["state"] for c in changes][-1] == "idle"
        assert wait_until(lambda: len(sink.jobs) == 1, 10) and sink.jobs[0] == photo.read_bytes()
    finally:
        p.stop()


def test_operator_resume_without_auto_resume(cups: CupsServer, sink: SinkPrinter) -> None:
    cups.add_socket_queue("manual", sink.port)
    p = printer(cups, "manual", auto_resume_s=None)
    p.start()
    try:
        cups.run("cupsdisable", "-r", "media-jam", "manual")
        assert p.poll()["state"] == "paused"
        assert p.poll()["state"] == "paused", "no auto-resume configured"
        assert p.resume()["state"] == "idle"
        assert "enabled" in cups.run("lpstat", "-p", "manual")
    finally:
        p.stop()


def test_cooldown_holds_copies_and_releases_one_at_a_time(cups: CupsServer, sink: SinkPrinter, photo: Path) -> None:
    cups.add_socket_queue("selphy", sink.port)
    now = [5000.0]
    p = CupsPrinter(CupsConfig(queue="selphy", server=cups.server, poll_s=30, min_interval_s=90),
                    clock=lambda: now[0])
    p.start()
    try:
        ids = p.submit(photo, 2, "two-copies")
        assert len(ids) == 2
        assert wait_until(lambda: ids[0] in cups.completed("selphy"), 30), "the first copy goes at once"
        st = p.poll()
        assert st["state"] == "cooldown" and st["held"] == 1
        now[0] += 60
        assert p.poll()["held"] == 1 and ids[1] not in cups.completed("selphy")
        now[0] += 31
        p.poll()
        assert wait_until(lambda: ids[1] in cups.completed("selphy"), 30)
        assert wait_until(lambda: len(sink.jobs) == 2, 10)
        assert p.poll()["state"] == "idle"
    finally:
        p.stop()


def test_unknown_queue_is_an_error_and_a_submit_names_it(cups: CupsServer, photo: Path) -> None:
    p = printer(cups, "no_such_queue")
    p.start()
    try:
        st = p.status()
        assert st["state"] == "error" and st["reasons"]
        with pytest.raises(PrinterError, match="no_such_queue"):
            p.submit(photo, 1, "x")
    finally:
        p.stop()


def test_unreachable_server_is_an_error_state(photo: Path) -> None:
    p = CupsPrinter(CupsConfig(queue="booth", server=f"127.0.0.1:{free_port()}"))
    p.poll()
    assert p.state() == "error"
    with pytest.raises(PrinterError):
        p.submit(photo, 1, "x")


def test_factory_builds_a_cups_printer_and_config_needs_the_queue() -> None:
    assert isinstance(make_printer(PrinterConfig(kind="cups", cups=CupsConfig(queue="booth"))), CupsPrinter)
    with pytest.raises(ValueError, match="printer.cups.queue"):
        PrinterConfig(kind="cups")


def test_the_daemon_prints_through_cups_and_the_operator_resumes_a_stopped_queue(
    cups: CupsServer, sink: SinkPrinter, cfg: Any
) -> None:
    """Every trigger's path: dispatcher shutter with copies → CUPS → the printer; paper-out is
    reported as state and as a ``printer`` event, and ``print_resume`` brings the queue back."""
    from edgecam.app import App

    cups.add_socket_queue("kiosk", sink.port)
    cfg.printer.cups = CupsConfig(queue="kiosk", server=cups.server, poll_s=0.2, auto_resume_s=None)
    cfg.printer.kind = "cups"
    app = App(cfg)
    events: list[Any] = []
    app.events.subscribe(events.append)
    app.start()
    try:
        r = app.dispatcher.dispatch("shutter", {"copies": 1}, source="test")
        assert r.ok, r.error
        assert len(r.result["print_jobs"]) == 1
        assert wait_until(lambda: len(sink.jobs) == 1, 30), cups.run("lpstat", "-o")
        assert sink.jobs[0] == Path(r.result["styled"]).read_bytes()
        cups.run("cupsdisable", "-r", "media-empty", "kiosk")
        assert wait_until(lambda: app.dispatcher.dispatch("printer_status").result["state"] == "paused", 10)
        assert wait_until(lambda: any(e.kind == "printer" and e.data["state"] == "paused" for e in events), 5)
        assert app.dispatcher.dispatch("status").result["printer"] == "paused"
        r = app.dispatcher.dispatch("print_resume", source="test")
        assert r.ok and r.result["state"] == "idle", r
    finally:
        app.stop()
    assert app.printer.state() == "idle"


def test_doctor_reports_the_queue_ready_paused_or_missing(cups: CupsServer, sink: SinkPrinter, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cups.add_socket_queue("doctor", sink.port)

    def doctor(queue: str) -> subprocess.CompletedProcess[str]:
        cfg = tmp_path / f"{queue}.yaml"
        cfg.write_text(f"output: {{dir: {tmp_path / 'photos'}, min_free_mb: 0}}\n"
                       f"printer:\n  kind: cups\n  cups: {{queue: {queue}, server: '{cups.server}'}}\n")
        return subprocess.run([sys.executable, "-m", "edgecam", "--config", str(cfg), "doctor"],
                              capture_output=True, text=True, timeout=240, env=dict(os.environ))

    ok = doctor("doctor")
    assert "OK   printer  cups printer doctor: idle" in ok.stdout, ok.stdout + ok.stderr
    cups.run("cupsdisable", "-r", "media-empty", "doctor")
    paused = doctor("doctor")
    assert paused.returncode == 1 and "FAIL printer" in paused.stdout
    assert "paused (media-empty" in paused.stdout and "print_resume" in paused.stdout
    missing = doctor("nope")
    assert missing.returncode == 1 and "FAIL printer" in missing.stdout and "lpstat -p" in missing.stdout
