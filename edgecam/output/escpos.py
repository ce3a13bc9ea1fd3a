"""ESC/POS thermal receipt printers: a dithered photo as raster bit image, sent over TCP or a device file.

Why write the bytes ourselves: the few commands a photo needs (ESC @, GS v 0, ESC d, GS V, DLE EOT)
fit in this file, while python-escpos pulls pyusb, pyserial, barcode and QR libraries onto the
kiosk. The photo goes out as ``GS v 0`` bands of at most ``MAX_BAND_ROWS`` rows because many
printers have a small receive buffer and drop or garble one huge raster.

Status comes from the real-time ``DLE EOT`` queries, asked on their own short TCP connection
before each copy and every ``poll_s`` by a watcher thread. A printer that does not answer (many do
not, and a USB device file usually cannot be read back) has paper ``unknown``: that is not an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import cv2
import numpy as np

from edgecam.config import EscPosConfig
from edgecam.output.printing import OnChange, PrinterError
from edgecam.styles.dither import Method, dither

log = logging.getLogger(__name__)

DEFAULT_PORT = 9100
MAX_BAND_ROWS = 256
FEED_LINES_BEFORE_CUT = 3  # GS V 66 then feeds to the cutter by itself
FEED_LINES_TEAR_OFF = 6  # no cutter: the photo's bottom must clear the tear bar
POLL_S = 5.0
STATUS_TIMEOUT_S = 1.5
SEND_CHUNK = 16 * 1024  # each chunk gets the full timeout: the printer paces us while it prints
DRAIN_S = 1.0

ESC_INIT = b"\x1b@"
GS_RASTER = b"\x1dv0"
ESC_FEED = b"\x1bd"
GS_CUT = b"\x1dV"
DLE_EOT = b"\x10\x04"
PARTIAL_CUT_WITH_FEED = 66

TARGET_HELP = "allowed: tcp://HOST[:PORT] (port 9100 by default) or an absolute device path such as /dev/usb/lp0"


# --- encoding -------------------------------------------------------------------------------------


def photo_bits(rgb: np.ndarray, width: int, method: Method) -> np.ndarray:
    """Dots to burn (True = black), ``width`` wide; the dither keeps mid-tones as dot density."""
    img = dither(rgb, width, method)  # mode "1": True = white paper
    return ~np.asarray(img, dtype=bool)


def encode_raster(bits: np.ndarray, band_rows: int = MAX_BAND_ROWS) -> bytes:
    """``GS v 0`` bands (MSB = leftmost dot, 1 = black); rows are padded with white to whole bytes."""
    if bits.ndim != 2 or bits.shape[0] == 0 or bits.shape[1] == 0:
        raise ValueError(f"need a non-empty 2-D bit image, got shape {bits.shape}")
    if not 1 <= band_rows <= 4095:
        raise ValueError(f"band_rows must be 1..4095, got {band_rows}")
    rows = np.packbits(bits.astype(bool), axis=1)
    xb = rows.shape[1]
    out = bytearray()
    for y0 in range(0, rows.shape[0], band_rows):
        band = rows[y0 : y0 + band_rows]
        n = band.shape[0]
        out += GS_RASTER + bytes([0, xb & 0xFF, xb >> 8, n & 0xFF, n >> 8]) + band.tobytes()
    return bytes(out)


def escpos_job(bits: np.ndarray, cut: bool) -> bytes:
    """One copy: reset (clears modes a previous program left), the raster, feed, optional cut."""
    tail = ESC_FEED + bytes([FEED_LINES_BEFORE_CUT if cut else FEED_LINES_TEAR_OFF])
    if cut:
        tail += GS_CUT + bytes([PARTIAL_CUT_WITH_FEED, 0])
    return ESC_INIT + encode_raster(bits) + tail


def photo_to_escpos(rgb: np.ndarray, cfg: EscPosConfig) -> bytes:
    """The bytes of one printed copy of an RGB photo, as ``cfg`` asks (width, dither, cut)."""
    return escpos_job(photo_bits(rgb, cfg.width_px, cfg.dither), cfg.cut)


# --- decoding (tests, dry runs) -------------------------------------------------------------------


class Command(NamedTuple):
    name: str  # init | raster | feed | cut | status
    args: tuple[int, ...]
    payload: bytes = b""


def iter_commands(data: bytes) -> Iterator[Command]:
    """Split the bytes this module writes back into commands; anything else is a ValueError."""
    i, n = 0, len(data)

    def need(k: int) -> bytes:
        if i + k > n:
            raise ValueError(f"truncated command at offset {i}")
        return data[i : i + k]

    while i < n:
        if data.startswith(ESC_INIT, i):
            yield Command("init", ())
            i += 2
        elif data.startswith(ESC_FEED, i):
            yield Command("feed", (need(3)[2],))
            i += 3
        elif data.startswith(GS_RASTER, i):
            m, xl, xh, yl, yh = need(8)[3:]
            xb, rows = xl | xh << 8, yl | yh << 8
            size = xb * rows
            yield Command("raster", (m, xb, rows), need(8 + size)[8:])
            i += 8 + size
        elif data.startswith(GS_CUT, i):
            m = need(3)[2]
            if m in (65, 66):
                yield Command("cut", (m, need(4)[3]))
                i += 4
            else:
                yield Command("cut", (m,))
                i += 3
        elif data.startswith(DLE_EOT, i):
            yield Command("status", (need(3)[2],))
            i += 3
        else:
            raise ValueError(f"unknown ESC/POS byte 0x{data[i]:02x} at offset {i}")


def decode_raster(data: bytes) -> np.ndarray:
    """The bit image (True = black) of every ``GS v 0`` band in ``data``, stacked top to bottom."""
    bands = [c for c in iter_commands(data) if c.name == "raster"]
    if not bands:
        raise ValueError("no GS v 0 raster in the data")
    widths = {c.args[1] for c in bands}
    if len(widths) != 1:
        raise ValueError(f"raster bands of different widths: {sorted(widths)} bytes")
    xb = widths.pop()
    rows = [np.frombuffer(c.payload, np.uint8).reshape(c.args[2], xb) for c in bands]
    return np.unpackbits(np.vstack(rows), axis=1).astype(bool)


# --- status bytes ---------------------------------------------------------------------------------


def _is_status_byte(b: int) -> bool:
    """Every DLE EOT reply has bit 1 and 4 set, bit 0 and 7 clear; anything else is not an answer."""
    return b & 0x93 == 0x12


def paper_from_status(b: int) -> str:
    """``DLE EOT 4`` (roll paper sensor): bits 5/6 paper end, bits 2/3 near end."""
    if b & 0x60:
        return "out"
    if b & 0x0C:
        return "near-end"
    return "ok"


def offline_reasons(b: int) -> list[str]:
    """``DLE EOT 2`` (offline cause): what stops the printer besides the paper."""
    reasons = []
    if b & 0x04:
        reasons.append("cover-open")
    if b & 0x40:
        reasons.append("device-error")  # cutter jam or head overheat: cleared on the printer itself
    return reasons


# --- transports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    kind: str  # tcp | device
    host: str = ""
    port: int = DEFAULT_PORT
    path: str = ""

    def __str__(self) -> str:
        return f"tcp://{self.host}:{self.port}" if self.kind == "tcp" else self.path


def parse_target(target: str) -> Target:
    """Refuse what we cannot drive, up front: a bare ``HOST:PORT`` must not become a file path."""
    t = target.strip()
    if not t:
        raise PrinterError(f"printer.escpos.target is empty; {TARGET_HELP}")
    if "://" in t:
        u = urlsplit(t)
        if u.scheme != "tcp":
            raise PrinterError(f"printer.escpos.target: unsupported scheme {u.scheme!r} in {t!r}; {TARGET_HELP}")
        try:
            port = u.port or DEFAULT_PORT
        except ValueError:
            raise PrinterError(f"printer.escpos.target: bad port in {t!r}; {TARGET_HELP}") from None
        if not u.hostname or u.path not in ("", "/"):
            raise PrinterError(f"printer.escpos.target: expected tcp://HOST[:PORT], got {t!r}")
        return Target("tcp", host=u.hostname, port=port)
    if not t.startswith("/"):
        raise PrinterError(f"printer.escpos.target: {t!r} is neither a tcp:// address nor an absolute "
                           f"device path (a network printer is written tcp://HOST:PORT); {TARGET_HELP}")
    return Target("device", path=t)


class Unreachable(Exception):
    """The device could not be opened or written; ``reason`` is the short status reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _connect(target: Target, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((target.host, target.port), timeout=timeout)
    except ConnectionRefusedError:
        raise Unreachable("connection-refused", f"{target}: connection refused (is the printer on, "
                          f"and is {target.port} its raw-print port?)") from None
    except TimeoutError:
        raise Unreachable("timeout", f"{target}: no answer within {timeout:g} s") from None
    except OSError as e:
        raise Unreachable("unreachable", f"{target}: {e.strerror or e}") from None


def _drain(sock: socket.socket) -> None:
    """Wait briefly for the printer to close: closing with unread bytes resets the connection."""
    sock.settimeout(DRAIN_S)
    with contextlib.suppress(OSError):
        while sock.recv(1024):
            pass


def send_tcp(target: Target, data: bytes, timeout: float) -> None:
    with _connect(target, timeout) as sock:
        try:
            for i in range(0, len(data), SEND_CHUNK):
                sock.sendall(data[i : i + SEND_CHUNK])
            sock.shutdown(socket.SHUT_WR)
        except TimeoutError:
            raise Unreachable("timeout", f"{target}: the printer stopped taking data for {timeout:g} s") from None
        except OSError as e:
            raise Unreachable("write-failed", f"{target}: sending failed: {e.strerror or e}") from None
        _drain(sock)


def send_device(target: Target, data: bytes, timeout: float) -> None:
    """Write to a device file without creating it: as root, ``open('/dev/usb/lp0', 'wb')`` on an
    unplugged printer makes a regular file there. Non-blocking + select so a stalled printer
    times out instead of hanging the caller."""
    try:
        fd = os.open(target.path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Unreachable("device-missing", f"{target}: no such device (printer unplugged or off?)") from None
    except PermissionError:
        raise Unreachable("permission-denied", f"{target}: permission denied (add the service user "
                          f"to the device's group, usually lp)") from None
    except OSError as e:
        raise Unreachable("unreachable", f"{target}: {e.strerror or e}") from None
    try:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view[:SEND_CHUNK]) :]
            except BlockingIOError:
                if not select.select([], [fd], [], timeout)[1]:
                    raise Unreachable("timeout", f"{target}: the printer stopped taking data "
                                      f"for {timeout:g} s") from None
            except OSError as e:
                raise Unreachable("write-failed", f"{target}: write failed: {e.strerror or e}") from None
    finally:
        os.close(fd)


@dataclass
class DeviceStatus:
    """What one status check found; ``state``/``reasons`` are the protocol's."""

    state: str = "idle"
    reasons: list[str] = field(default_factory=list)
    paper: str = "unknown"  # ok | near-end | out | unknown
    error: str | None = None


def _ask(sock: socket.socket, n: int) -> int | None:
    """One real-time query; None when the printer stays silent or answers something else."""
    try:
        sock.sendall(DLE_EOT + bytes([n]))
        reply = sock.recv(1)
    except OSError:  # includes the timeout
        return None
    return reply[0] if reply and _is_status_byte(reply[0]) else None


def query_tcp(target: Target, timeout: float) -> DeviceStatus:
    try:
        sock = _connect(target, timeout)
    except Unreachable as e:
        return DeviceStatus("error", [e.reason], error=str(e))
    with sock:
        paper_byte = _ask(sock, 4)
        offline_byte = _ask(sock, 2) if paper_byte is not None else None
    st = DeviceStatus(paper="unknown" if paper_byte is None else paper_from_status(paper_byte))
    if st.paper == "out":
        st.reasons.append("media-empty")
    elif st.paper == "near-end":
        st.reasons.append("media-low")
    if offline_byte is not None:
        st.reasons += offline_reasons(offline_byte)
    if any(r in ("media-empty", "cover-open", "device-error") for r in st.reasons):
        st.state = "paused"
    return st


def query_device(target: Target) -> DeviceStatus:
    """A device file is not read back (usblp reads block or return nothing): present and writable."""
    if not os.path.exists(target.path):
        return DeviceStatus("error", ["device-missing"], error=f"{target}: no such device (printer unplugged or off?)")
    if not os.access(target.path, os.W_OK):
        return DeviceStatus("error", ["permission-denied"], error=f"{target}: permission denied (add the service "
                            f"user to the device's group, usually lp)")
    return DeviceStatus()


# --- the printer ----------------------------------------------------------------------------------


class EscPosPrinter:
    """A thermal printer behind the ``Printer`` protocol. ``submit`` sends synchronously: the
    printer's own buffer is the queue, and a send that fails must fail the command that asked."""

    name = "escpos"

    def __init__(self, cfg: EscPosConfig, on_change: OnChange | None = None, *,
                 poll_s: float = POLL_S, status_timeout_s: float = STATUS_TIMEOUT_S) -> None:
        self.cfg = cfg
        self.target = parse_target(cfg.target)
        self.on_change = on_change
        self.poll_s = poll_s
        self.status_timeout_s = min(status_timeout_s, cfg.timeout_s)
        self._lock = threading.Lock()  # guards the fields below
        self._io = threading.Lock()  # one conversation with the device at a time
        self._dev = DeviceStatus()
        self._state = "idle"
        self._last_job: str | None = None
        self._jobs_sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="escpos-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.status_timeout_s * 3 + 1)  # connect + two queries at most
            self._thread = None

    def _watch(self) -> None:
        while True:
            if self._io.acquire(blocking=False):  # a job in flight is the status; do not compete
                try:
                    self._refresh_locked()
                except Exception:  # the watcher must outlive a bug in one check
                    log.exception("escpos: status check failed")
                finally:
                    self._io.release()
            if self._stop.wait(self.poll_s):
                return

    # status

    def state(self) -> str:
        with self._lock:
            return self._state

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        return {"kind": "escpos", "state": self._state, "reasons": list(self._dev.reasons),
                "paper": self._dev.paper, "error": self._dev.error, "target": str(self.target),
                "width_px": self.cfg.width_px, "jobs_sent": self._jobs_sent, "last_job": self._last_job}

    def _set(self, state: str, dev: DeviceStatus | None = None) -> None:
        """Record a state; ``on_change`` fires only when the state or its reasons change."""
        with self._lock:
            dev = dev or self._dev
            changed = (state, dev.reasons) != (self._state, self._dev.reasons)
            self._state, self._dev = state, dev
            snap = self._snapshot()
        if not changed:
            return
        log.log(logging.WARNING if state in ("paused", "error") else logging.INFO,
                "escpos %s: %s %s", self.target, state, " ".join(dev.reasons))
        if self.on_change:
            try:
                self.on_change(snap)
            except Exception:
                log.exception("escpos: on_change callback failed")

    def _refresh_locked(self) -> DeviceStatus:
        tcp = self.target.kind == "tcp"
        dev = query_tcp(self.target, self.status_timeout_s) if tcp else query_device(self.target)
        self._set(dev.state, dev)
        return dev

    def resume(self) -> dict[str, Any]:
        """Nothing to re-enable on the printer: once paper is loaded, a fresh check clears the pause."""
        with self._io:
            self._refresh_locked()
        return self.status()

    # jobs

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        if bgr is None:
            raise PrinterError(f"{photo}: cannot read the photo to print")
        data = photo_to_escpos(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.cfg)
        ids: list[str] = []
        with self._io:
            for n in range(1, copies + 1):
                self._check_ready(n, copies)
                job_id = f"{job_name}-{n}"
                self._send(data)
                ids.append(job_id)
                with self._lock:
                    self._jobs_sent += 1
                    self._last_job = job_id
        return ids

    def _check_ready(self, n: int, copies: int) -> None:
        dev = self._refresh_locked()
        done = f" ({n - 1} of {copies} copies printed)" if n > 1 else ""
        if dev.state == "paused":
            why = ("paper is out: load a new roll" if "media-empty" in dev.reasons
                   else "the printer reports " + ", ".join(dev.reasons))
            raise PrinterError(f"ESC/POS printer {self.target} is paused, {why}, then resume{done}")
        if dev.state == "error":
            raise PrinterError(f"ESC/POS printer {dev.error}{done}")

    def _send(self, data: bytes) -> None:
        with self._lock:
            before = self._dev
        self._set("printing", before)
        t0 = time.monotonic()
        try:
            if self.target.kind == "tcp":
                send_tcp(self.target, data, self.cfg.timeout_s)
            else:
                send_device(self.target, data, self.cfg.timeout_s)
        except Unreachable as e:
            self._set("error", DeviceStatus("error", [e.reason], before.paper, str(e)))
            raise PrinterError(f"ESC/POS printer {e}") from None
        log.debug("escpos %s: sent %d bytes in %.2f s", self.target, len(data), time.monotonic() - t0)
        self._set(before.state, before)
