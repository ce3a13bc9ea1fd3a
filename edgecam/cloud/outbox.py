"""The persistent outbox of cloud jobs (SQLite, WAL, synchronous=FULL).

Why on disk and why a state machine: a kiosk loses power and Wi-Fi, the broker restarts, workers
redeploy — a job must survive all of it and its result must upgrade the photo exactly once. Each job
moves ``queued → sent → done`` (or ``failed`` after ``max_attempts``); a ``sent`` job without a result
after ``ack_timeout_s`` (plus exponential backoff) is sent again. ``mark_done`` is a conditional update,
so of two deliveries of the same result only one can win.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from edgecam.cloud.jobs import JOB_KINDS, Job
from edgecam.config import OutboxConfig
from edgecam.events import Event, EventBus

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,96}$")

_COLUMNS = ("job_id", "kind", "shot_id", "files", "meta", "state", "attempts", "next_attempt_at", "created_at",
            "sent_at", "done_at", "last_error", "result_meta")


class Outbox:
    """Job storage and state transitions. Thread-safe; one connection guarded by a lock."""

    def __init__(self, path: Path, cfg: OutboxConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.cfg = cfg or OutboxConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, shot_id TEXT NOT NULL,"
            " files TEXT NOT NULL, meta TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
            " next_attempt_at REAL NOT NULL, created_at REAL NOT NULL, sent_at REAL, done_at REAL,"
            " last_error TEXT, result_meta TEXT)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, next_attempt_at)")
        self._listeners: list[Callable[[], None]] = []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def on_change(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after every state change (the bridge wakes its sender and publishes the depth)."""
        self._listeners.append(fn)

    def _changed(self) -> None:
        for fn in list(self._listeners):
            fn()

    @staticmethod
    def _row(r: tuple[Any, ...]) -> Job:
        d = dict(zip(_COLUMNS, r, strict=True))
        d["files"] = json.loads(d["files"])
        d["meta"] = json.loads(d["meta"])
        d["result_meta"] = json.loads(d["result_meta"]) if d["result_meta"] else None
        return Job(**d)

    def _select(self, where: str = "", args: tuple[Any, ...] = (), tail: str = "") -> list[Job]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM jobs {where} {tail}"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [self._row(r) for r in rows]

    def backoff(self, attempts: int) -> float:
        """Exponential backoff after ``attempts`` sends: retry_min·2^(n-1), capped at retry_max."""
        return min(self.cfg.retry_max_s, self.cfg.retry_min_s * 2 ** max(0, min(attempts - 1, 30)))

    # --- writes -------------------------------------------------------------------------------------
    def enqueue(self, kind: str, shot_id: str, files: Mapping[str, str | Path], meta: Mapping[str, Any] | None = None,
                *, job_id: str | None = None) -> Job:
        """Queue a job (idempotent by ``job_id``: enqueueing the same id twice keeps the first)."""
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(JOB_KINDS)}")
        now = self._clock()
        job = Job(job_id=job_id or uuid.uuid4().hex, kind=kind, shot_id=str(shot_id),
                  files={k: str(v) for k, v in files.items()}, meta=dict(meta or {}), next_attempt_at=now,
                  created_at=now)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO jobs (job_id, kind, shot_id, files, meta, state, attempts, next_attempt_at,"
                " created_at) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
                (job.job_id, kind, job.shot_id, json.dumps(job.files), json.dumps(job.meta, default=str), now, now),
            )
        self._changed()
        return job

    def mark_sent(self, job_id: str) -> Job | None:
        """A send happened: attempts+1, the next re-send is due after ack timeout + backoff."""
        now = self._clock()
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL"
                " WHERE job_id = ? AND state IN ('queued', 'sent') RETURNING attempts", (now, job_id))
            row = cur.fetchone()
            if row is None:
                return None
            nxt = now + self.cfg.ack_timeout_s + self.backoff(row[0]) - self.cfg.retry_min_s
            self._db.execute("UPDATE jobs SET next_attempt_at = ? WHERE job_id = ?", (nxt, job_id))
        self._changed()
        return self.get(job_id)

    def mark_done(self, job_id: str, result_meta: Mapping[str, Any] | None = None) -> bool:
        """Done exactly once: True for the call that made the transition, False for every later one."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = 'done', done_at = ?, result_meta = ?, last_error = NULL"
                " WHERE job_id = ? AND state != 'done'",
                (self._clock(), json.dumps(dict(result_meta or {}), default=str), job_id))
            won = cur.rowcount == 1
        if won:
            self._changed()
        return won

    def mark_error(self, job_id: str, error: str, *, retry: bool = True) -> Job | None:
        """A send or a result failed: back to ``queued`` with backoff, or ``failed`` when out of attempts."""
        now = self._clock()
        with self._lock:
            row = self._db.execute("SELECT attempts, state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None or row[1] == "done":
                return None
            attempts = row[0]
            give_up = not retry or attempts >= self.cfg.max_attempts
            self._db.execute(
                "UPDATE jobs SET state = ?, last_error = ?, next_attempt_at = ? WHERE job_id = ?",
                ("failed" if give_up else "queued", error[:2000], now + self.backoff(max(1, attempts)), job_id))
        self._changed()
        return self.get(job_id)

    def expire(self) -> int:
        """Sent jobs that used up ``max_attempts`` without a result become ``failed``."""
        with self._lock:
            n = self._db.execute(
                "UPDATE jobs SET state = 'failed', last_error = 'no result after ' || attempts || ' attempts'"
                " WHERE state = 'sent' AND attempts >= ? AND next_attempt_at <= ?",
                (self.cfg.max_attempts, self._clock())).rowcount
        if n:
            self._changed()
        return n

    def retry(self, job_id: str | None = None, *, all_failed: bool = False) -> int:
        """Put a job (or every failed one) back in the queue, due now, with a fresh attempt count."""
        if job_id is None and not all_failed:
            raise ValueError("give a job id or all_failed=True")
        where, args = ("state = 'failed'", ()) if all_failed else ("job_id = ? AND state != 'done'", (job_id,))
        with self._lock:
            n = self._db.execute(f"UPDATE jobs SET state = 'queued', attempts = 0, next_attempt_at = ?,"
                                 f" last_error = NULL WHERE {where}", (self._clock(), *args)).rowcount
        if n:
            self._changed()
        return n

    def purge(self, *, done_only: bool = True) -> int:
        with self._lock:
            n = self._db.execute("DELETE FROM jobs" + (" WHERE state = 'done'" if done_only else "")).rowcount
        if n:
            self._changed()
        return n

    # --- reads --------------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        rows = self._select("WHERE job_id = ?", (job_id,))
        return rows[0] if rows else None

    def list(self, state: str | None = None, limit: int = 1000) -> list[Job]:
        if state is None:
            return self._select(tail="ORDER BY created_at LIMIT ?", args=(limit,))
        return self._select("WHERE state = ?", (state,), f"ORDER BY created_at LIMIT {int(limit)}")

    def due(self, limit: int = 50) -> list[Job]:
        """Jobs to (re)send now: queued and due, or sent whose ack timeout has passed (and attempts are left)."""
        return self._select("WHERE state IN ('queued', 'sent') AND next_attempt_at <= ? AND attempts < ?",
                            (self._clock(), self.cfg.max_attempts), f"ORDER BY next_attempt_at LIMIT {int(limit)}")

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        out = {"queued": 0, "sent": 0, "done": 0, "failed": 0}
        out.update({s: n for s, n in rows})
        return out

    def depth(self) -> int:
        """Jobs still waiting for a result (queued + sent): what ``state/outbox_depth`` shows."""
        c = self.counts()
        return c["queued"] + c["sent"]

    def next_due_in(self) -> float | None:
        """Seconds until the next job becomes due (None: nothing pending)."""
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) FROM jobs WHERE state IN ('queued', 'sent')"
                                   " AND attempts < ?", (self.cfg.max_attempts,)).fetchone()
        return None if row[0] is None else max(0.0, row[0] - self._clock())


def shot_job_id(shot_id: str, kind: str) -> str:
    """Deterministic job id, so a replayed shot event cannot queue the same job twice."""
    if _SAFE_ID.match(shot_id):
        return f"{shot_id}.{kind}"
    return uuid.uuid5(uuid.NAMESPACE_URL, f"edgecam:{shot_id}:{kind}").hex


def follow_shots(outbox: Outbox, bus: EventBus, kinds: list[str]) -> Callable[[], None]:
    """Queue ``kinds`` (``outbox.jobs``) after every ``shot`` event; returns the unsubscribe function.

    Independent of MQTT on purpose: with no broker configured the jobs simply wait in the outbox.
    Expects the pipeline's shot summary: ``shot_id``, ``styled`` and ``original`` paths.
    """

    def on_event(ev: Event) -> None:
        if ev.kind != "shot" or not kinds or not ev.data.get("shot_id"):
            return
        shot_id = str(ev.data["shot_id"])
        styled, original = ev.data.get("styled"), ev.data.get("original")
        meta = {k: ev.data[k] for k in ("scene", "style", "faces") if k in ev.data}
        for kind in kinds:
            if kind == "archive":
                files = {k: v for k, v in (("original", original), ("styled", styled)) if v}
            else:
                files = {"original": original or styled} if (original or styled) else {}
            if files:
                outbox.enqueue(kind, shot_id, files, meta, job_id=shot_job_id(shot_id, kind))

    return bus.subscribe(on_event)
