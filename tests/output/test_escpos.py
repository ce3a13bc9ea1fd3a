"""ESC/POS printer: the raster bytes round-trip bit-for-bit, and the status/transport paths run over
a real loopback socket (a fake printer that records jobs and answers DLE EOT)."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from testkit import free_port, wait_until

from edgecam.config import EscPosConfig
from edgecam.output.escpos import (
    MAX_BAND_ROWS,
    EscPosPrinter,
    Target,
    Unreachable,
    decode_raster,
    encode_raster,
    iter_commands,
    photo_to_escpos,
    send_device,
)
from edgecam.output.printing import PrinterError
from edgecam.styles.dither import dither

pytestmark = pytest.mark.timeout(30)

PAPER_OK, PAPER_NEAR_END, PAPER_OUT = 0x12, 0x12 | 0x0C, 0x12 | 0x60
OFFLINE_NONE, OFFLINE_COVER_OPEN = 0x12, 0x12 | 0x04


class FakePrinter:
    """A network thermal printer on 127.0.0.1: a connection that starts with DLE EOT is a status
    check (each query answered from ``replies``; None = silent), any other is a job, recorded."""

    def __init__(self) -> None:
        self.replies: dict[int, int | None] = {4: PAPER_OK, 2: OFFLINE_NONE}
        self.jobs: list[bytes] = []
        self.queries: list[int] = []
        self.cond = threading.Condition()
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                buf, status_conn = b"", None
                while chunk := self.request.recv(65536):
                    buf += chunk
                    if status_conn is None:
                        status_conn = buf.startswith(b"\x10\x04")
                    while status_conn and len(buf) >= 3:
                        n, buf = buf[2], buf[3:]
                        with fake.cond:
                            fake.queries.append(n)
                            reply = fake.replies.get(n)
                        if reply is not None:
                            self.request.sendall(bytes([reply]))
                if buf and not status_conn:
                    with fake.cond:
                        fake.jobs.append(buf)
                        fake.cond.notify_all()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def target(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakePrinter]:
    f = FakePrinter()
    yield f
    f.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small photo with gradients and edges, so every dither gives a non-trivial pattern."""
    y, x = np.mgrid[0:300, 0:200]
    rgb = np.stack([x * 255 // 199, y * 255 // 299, ((x // 20 + y // 20) % 2) * 200], axis=-1).astype(np.uint8)
    p = tmp_path / "shot.jpg"
    cv2.imwrite(str(p), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return p


def read_rgb(p: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)


def expected_bits(p: Path, cfg: EscPosConfig) -> np.ndarray:
    """What the printer must burn, from the dither alone (black dot = 1)."""
    return ~np.asarray(dither(read_rgb(p), cfg.width_px, cfg.dither), dtype=bool)


def printer(target: str, on_change: Callable[[dict[str, Any]], None] | None = None, **cfg: Any) -> EscPosPrinter:
    return EscPosPrinter(EscPosConfig(target=target, **cfg), on_change, poll_s=0.05, status_timeout_s=0.3)


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    return wait_until(cond, timeout, step=0.01)


# --- encoding -------------------------------------------------------------------------------------


def test_encode_raster_bit_order_and_band_headers() -> None:
    bits = np.zeros((300, 16), bool)
    bits[0, 0] = bits[0, 9] = True  # leftmost dot of byte 0 and second dot of byte 1
    data = encode_raster(bits, band_rows=256)
    cmds = list(iter_commands(data))
    assert [c.args for c in cmds] == [(0, 2, 256), (0, 2, 44)]  # m=0, 2 bytes a row, rows per band
    assert data[:8] == b"\x1dv0\x00\x02\x00\x00\x01" and data[8:10] == bytes([0x80, 0x40])
    assert np.array_equal(decode_raster(data), bits)


def test_encode_raster_pads_odd_widths_with_white() -> None:
    bits = np.ones((3, 10), bool)
    out = decode_raster(encode_raster(bits))
    assert out.shape == (3, 16) and out[:, :10].all() and not out[:, 10:].any()


@pytest.mark.parametrize("width", [384, 576])
@pytest.mark.parametrize("method", ["atkinson", "floyd_steinberg", "threshold"])
def test_photo_round_trips_bit_for_bit(samples: Path, width: int, method: str) -> None:
    cfg = EscPosConfig(target="/dev/null", width_px=width, dither=method)
    data = photo_to_escpos(read_rgb(samples / "astronaut.jpg"), cfg)
    want = expected_bits(samples / "astronaut.jpg", cfg)
    assert want.shape == (width, width) and 0.1 < want.mean() < 0.9
    assert np.array_equal(decode_raster(data), want)
    bands = [c for c in iter_commands(data) if c.name == "raster"]
    assert len(bands) >= 2 and all(c.args[2] <= MAX_BAND_ROWS for c in bands)
    assert all(c.args[1] == width // 8 for c in bands)


@pytest.mark.parametrize("cut", [True, False])
def test_job_layout_init_raster_feed_and_cut(photo: Path, cut: bool) -> None:
    data = photo_to_escpos(read_rgb(photo), EscPosConfig(target="/dev/null", cut=cut))
    names = [c.name for c in iter_commands(data)]
    assert names[0] == "init" and names[1] == "raster"
    assert names[-2:] == (["feed", "cut"] if cut else ["raster", "feed"])
    assert (b"\x1dVB\x00" in data) == cut and data.endswith(b"\x1dVB\x00") == cut


def test_decoder_rejects_unknown_and_truncated_bytes() -> None:
    with pytest.raises(ValueError, match="unknown ESC/POS byte 0x41"):
        decode_raster(b"\x1b@A")
    with pytest.raises(ValueError, match="truncated"):
        decode_raster(encode_raster(np.ones((4, 8), bool))[:-1])


# --- over a real socket ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [384, 576])
def test_tcp_job_received_bit_for_bit(fake: FakePrinter, photo: Path, width: int) -> None:
    p = printer(fake.target, width_px=width)
    assert p.submit(photo, 1, "shot1") == ["shot1-1"]
    assert len(fake.jobs) == 1  # submit returns after the printer has everything
    assert fake.jobs[0] == photo_to_escpos(read_rgb(photo), p.cfg)
    assert np.array_equal(decode_raster(fake.jobs[0]), expected_bits(photo, p.cfg))
    assert 4 in fake.queries  # paper checked before the job
    st = p.status()
    assert st["state"] == "idle" and st["paper"] == "ok" and st["jobs_sent"] == 1 and st["last_job"] == "shot1-1"


def test_copies_are_separate_jobs(fake: FakePrinter, photo: Path) -> None:
    p = printer(fake.target, cut=True)
    assert p.submit(photo, 3, "shot7") == ["shot7-1", "shot7-2", "shot7-3"]
    assert len(fake.jobs) == 3 and len(set(fake.jobs)) == 1
    assert all(j.startswith(b"\x1b@") and j.endswith(b"\x1dVB\x00") for j in fake.jobs)
    assert fake.queries.count(4) == 3  # checked before every copy


def test_paper_out_pauses_refuses_jobs_and_resumes(fake: FakePrinter, photo: Path) -> None:
    changes: list[dict[str, Any]] = []
    p = printer(fake.target, on_change=changes.append)
    p.start()
    try:
        assert wait_for(lambda: fake.queries.count(4) >= 3)  # the watcher polls
        assert p.state() == "idle" and changes == []  # polls that change nothing are not reported
        fake.replies[4] = PAPER_OUT
        assert wait_for(lambda: p.state() == "paused")
        assert changes[-1]["state"] == "paused" and changes[-1]["reasons"] == ["media-empty"]
        assert changes[-1]["paper"] == "out"
        with pytest.raises(PrinterError, match="paper is out"):
            p.submit(photo, 1, "shot2")
        assert fake.jobs == []
        n = len(changes)
        polls = fake.queries.count(4)
        assert wait_for(lambda: fake.queries.count(4) >= polls + 3)
        assert len(changes) == n  # still paused: no repeat notifications
        fake.replies[4] = PAPER_OK
        assert p.resume()["state"] == "idle"
        assert changes[-1]["state"] == "idle" and changes[-1]["reasons"] == []
        assert p.submit(photo, 1, "shot3") == ["shot3-1"] and len(fake.jobs) == 1
    finally:
        p.stop()


def test_stop_is_prompt_and_stops_polling(fake: FakePrinter) -> None:
    p = EscPosPrinter(EscPosConfig(target=fake.target), poll_s=5.0, status_timeout_s=0.3)
    p.start()
    assert wait_for(lambda: 4 in fake.queries)
    t0 = time.monotonic()
    p.stop()
    assert time.monotonic() - t0 < 1.0
    n = len(fake.queries)
    time.sleep(0.2)
    assert len(fake.queries) == n


def test_near_end_and_cover_open(fake: FakePrinter, photo: Path) -> None:
    p = printer(fake.target)
    fake.replies[4] = PAPER_NEAR_END
    st = p.resume()
    assert st["state"] == "idle" and st["reasons"] == ["media-low"] and st["paper"] == "near-end"
    assert p.submit(photo, 1, "low") == ["low-1"]  # near end still prints
    fake.replies[4], fake.replies[2] = PAPER_OK, OFFLINE_COVER_OPEN
    assert p.resume()["state"] == "paused" and p.status()["reasons"] == ["cover-open"]
    with pytest.raises(PrinterError, match="cover-open"):
        p.submit(photo, 1, "cover")


@pytest.mark.parametrize("reply", [None, 0xFF])
def test_silent_or_garbled_status_is_unknown_not_an_error(fake: FakePrinter, photo: Path, reply: int | None) -> None:
    fake.replies[4] = reply
    p = printer(fake.target)
    st = p.resume()
    assert st["state"] == "idle" and st["paper"] == "unknown" and st["error"] is None
    assert p.submit(photo, 1, "s") == ["s-1"] and len(fake.jobs) == 1


def test_refused_connection_is_error_with_reason(photo: Path) -> None:
    changes: list[dict[str, Any]] = []
    p = printer(f"tcp://127.0.0.1:{free_port()}", on_change=changes.append)
    st = p.resume()
    assert st["state"] == "error" and st["reasons"] == ["connection-refused"]
    assert "connection refused" in st["error"] and "127.0.0.1" in st["error"]
    assert [c["state"] for c in changes] == ["error"]
    with pytest.raises(PrinterError, match="connection refused"):
        p.submit(photo, 1, "x")
    assert [c["state"] for c in changes] == ["error"]  # the same error again is not a change


def test_unreadable_photo_is_a_printer_error(fake: FakePrinter, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(PrinterError, match="cannot read the photo"):
        printer(fake.target).submit(bad, 1, "bad")
    with pytest.raises(PrinterError, match="cannot read the photo"):
        printer(fake.target).submit(tmp_path / "missing.jpg", 1, "bad")
    assert fake.jobs == []


# --- device file ----------------------------------------------------------------------------------


def test_device_file_receives_the_same_bytes(tmp_path: Path, photo: Path) -> None:
    dev = tmp_path / "lp0"
    dev.touch()  # the device node exists while the printer is plugged in
    p = printer(str(dev), width_px=576, cut=False)
    assert p.submit(photo, 2, "usb") == ["usb-1", "usb-2"]
    one = photo_to_escpos(read_rgb(photo), p.cfg)
    assert dev.read_bytes() == one * 2
    assert np.array_equal(decode_raster(one), expected_bits(photo, p.cfg))
    assert p.status()["state"] == "idle" and p.status()["paper"] == "unknown"


def test_missing_device_is_error_and_never_created(tmp_path: Path, photo: Path) -> None:
    dev = tmp_path / "lp0"
    p = printer(str(dev))
    assert p.resume()["reasons"] == ["device-missing"]
    with pytest.raises(PrinterError, match="no such device"):
        p.submit(photo, 1, "usb")
    assert not dev.exists()  # as root, open(..., "wb") would have made a regular file here
    with pytest.raises(Unreachable, match="no such device"):  # the writer itself never creates it
        send_device(Target("device", path=str(dev)), b"\x1b@", 1.0)
    assert not dev.exists()


# --- targets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["usb://0x04b8:0x0202", "http://192.168.1.50", "192.168.1.50:9100", "lp0"])
def test_bad_target_is_refused_naming_the_key(target: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"target[\s\S]*tcp://HOST\[:PORT\]"):
        EscPosConfig(target=target)  # the config refuses it when read
    # and the printer itself, should a config be built without validation
    with pytest.raises(PrinterError, match=r"printer\.escpos\.target.*allowed: tcp://HOST\[:PORT\]"):
        EscPosPrinter(EscPosConfig.model_construct(target=target))


def test_tcp_default_port() -> None:
    assert EscPosPrinter(EscPosConfig(target="tcp://printer.local")).status()["target"] == "tcp://printer.local:9100"


# --- in the daemon: printing beside the shot -------------------------------------------------------


def test_background_printer_prints_every_copy_and_finishes_the_queue_on_stop(fake: FakePrinter, photo: Path) -> None:
    from edgecam.output.printing import BackgroundPrinter

    bp = BackgroundPrinter(printer(fake.target))
    bp.start()
    assert bp.submit(photo, 2, "shot-a") == ["shot-a-1", "shot-a-2"]
    assert bp.submit(photo, 1, "shot-b") == ["shot-b-1"]
    bp.stop()  # drains what was queued before it returns
    assert len(fake.jobs) == 3
    cfg = EscPosConfig(target=fake.target)
    assert all(np.array_equal(decode_raster(j), expected_bits(photo, cfg)) for j in fake.jobs)


def test_background_printer_refuses_at_once_when_paused_and_reports_later_failures(
    fake: FakePrinter, photo: Path, tmp_path: Path
) -> None:
    from edgecam.output.printing import BackgroundPrinter

    changes: list[dict[str, Any]] = []
    bp = BackgroundPrinter(printer(fake.target, changes.append), changes.append)
    bp.start()
    try:
        fake.replies[4] = PAPER_OUT
        assert wait_for(lambda: bp.state() == "paused")
        with pytest.raises(PrinterError, match="paused.*media-empty"):
            bp.submit(photo, 1, "refused")
        fake.replies[4] = PAPER_OK
        assert bp.resume()["state"] == "idle"
        # a job that fails on the print thread: the caller already has its ids, the failure is an event
        broken = tmp_path / "broken.jpg"
        broken.write_bytes(b"not a jpeg")
        assert bp.submit(broken, 1, "late") == ["late-1"]
        assert wait_for(lambda: any(c.get("failed_job") == "late" for c in changes))
        failed = next(c for c in changes if c.get("failed_job") == "late")
        assert "cannot read the photo" in failed["error"]
        with pytest.raises(PrinterError, match="does not exist"):
            bp.submit(tmp_path / "missing.jpg", 1, "gone")
    finally:
        bp.stop()
    assert fake.jobs == []
