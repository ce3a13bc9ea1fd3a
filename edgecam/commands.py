"""The one command dispatcher behind GPIO, MQTT, the CLI and the keyboard.

Why one place: every trigger must behave the same — the same argument validation, the same
allow-list, the same error replies, and the same idempotency. A request that carries an id is
executed at most once: the reply is remembered on disk (SQLite) and a redelivery (MQTT QoS 1 after a
reconnect, a retried HTTP call) gets the stored reply back, so a shutter never fires twice and a
print never comes out twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from edgecam.errors import EdgecamError

log = logging.getLogger(__name__)

MAX_REQUEST_ID = 128


class NoArgs(BaseModel):
    """Argument model for commands that take none (unknown keys are still refused)."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Reply:
    """What every trigger gets back. ``error`` is {"code": ..., "message": ...} when not ok."""

    ok: bool
    command: str
    request_id: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ok": self.ok, "command": self.command, "id": self.request_id}
        if self.ok:
            d["result"] = self.result
        else:
            d["error"] = self.error
        if self.duplicate:
            d["duplicate"] = True
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)


Handler = Callable[[Any, str], Mapping[str, Any]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    args_model: type[BaseModel]
    handler: Handler  # (validated args, source) -> result dict
    remember: bool = True  # store the reply under the request id (False for read-only status)
    help: str = ""


class RequestLedger:
    """Request id → reply, on disk, so idempotency survives a daemon restart.

    A row is reserved ("pending") before the handler runs: a duplicate that arrives while the
    original is still running is answered "in progress" instead of running it again.
    """

    def __init__(self, path: Path, keep: int = 20000) -> None:
        self.path = path
        self.keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS requests (id TEXT PRIMARY KEY, command TEXT NOT NULL,"
            " reply TEXT, ts REAL NOT NULL)"
        )
        self._lock = threading.Lock()

    def reserve(self, request_id: str, command: str) -> dict[str, Any] | None:
        """Reserve the id; return the stored reply (or a pending marker) if it was seen before."""
        with self._lock:
            row = self._db.execute("SELECT reply FROM requests WHERE id = ?", (request_id,)).fetchone()
            if row is not None:
                return json.loads(row[0]) if row[0] else {"pending": True}
            self._db.execute(
                "INSERT INTO requests (id, command, reply, ts) VALUES (?, ?, NULL, ?)",
                (request_id, command, time.time()),
            )
            return None

    def complete(self, request_id: str, reply: Reply) -> None:
        with self._lock:
            self._db.execute("UPDATE requests SET reply = ? WHERE id = ?", (reply.to_json(), request_id))
            self._db.execute(
                "DELETE FROM requests WHERE id IN (SELECT id FROM requests ORDER BY ts DESC LIMIT -1 OFFSET ?)",
                (self.keep,),
            )

    def release(self, request_id: str) -> None:
        """Forget a reservation whose handler crashed before replying, so a retry may run."""
        with self._lock:
            self._db.execute("DELETE FROM requests WHERE id = ? AND reply IS NULL", (request_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Dispatcher:
    """Validates, de-duplicates and runs commands; never raises to the trigger."""

    # The allow-list guards remote triggers only: the physical button and the local CLI always work,
    # so an operator who restricts MQTT to "status" can still take photos at the kiosk.
    RESTRICTED_SOURCES = frozenset({"mqtt", "http"})

    def __init__(self, ledger: RequestLedger | None = None, allow: Collection[str] | None = None) -> None:
        self._specs: dict[str, CommandSpec] = {}
        self.ledger = ledger
        self._allow = set(allow) if allow is not None else None

    def register(
        self,
        name: str,
        handler: Handler,
        args_model: type[BaseModel] = NoArgs,
        *,
        remember: bool = True,
        help: str = "",
    ) -> None:
        if name in self._specs:
            raise ValueError(f"command {name!r} registered twice")
        self._specs[name] = CommandSpec(name, args_model, handler, remember, help)

    @property
    def commands(self) -> dict[str, CommandSpec]:
        return dict(self._specs)

    def set_allow(self, allow: Collection[str] | None) -> None:
        self._allow = set(allow) if allow is not None else None

    def _error(self, name: str, rid: str | None, code: str, message: str) -> Reply:
        return Reply(ok=False, command=name, request_id=rid, error={"code": code, "message": message})

    def dispatch_json(self, name: str, payload: bytes | str, *, source: str, max_bytes: int = 65536,
                      request_id: str | None = None) -> Reply:
        """Parse a JSON payload (MQTT, HTTP) and dispatch it. ``id`` in the payload is the request id
        unless a transport-level id (MQTT v5 correlation data) is given."""
        raw = payload.encode() if isinstance(payload, str) else bytes(payload)
        if len(raw) > max_bytes:
            return self._error(name, request_id, "too_large", f"payload is {len(raw)} bytes; limit {max_bytes}")
        if raw.strip() == b"":
            body: Any = {}
        else:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
                return self._error(name, request_id, "bad_json", f"payload is not JSON: {e}")
        if not isinstance(body, dict):
            return self._error(name, request_id, "bad_args", "payload must be a JSON object")
        body = dict(body)
        rid = body.pop("id", None)
        if request_id is None:
            request_id = rid if isinstance(rid, str) else (str(rid) if isinstance(rid, int) else None)
            if rid is not None and request_id is None:
                return self._error(name, None, "bad_args", "id must be a string or an integer")
        return self.dispatch(name, body, request_id=request_id, source=source)

    def dispatch(self, name: str, args: Mapping[str, Any] | None = None, *, request_id: str | None = None,
                 source: str = "cli") -> Reply:
        """Run one command. Every failure becomes an error reply; nothing propagates."""
        if request_id is not None and (not request_id or len(request_id) > MAX_REQUEST_ID):
            return self._error(name, None, "bad_args", f"request id must be 1..{MAX_REQUEST_ID} characters")
        spec = self._specs.get(name)
        if spec is None:
            known = ", ".join(sorted(self._specs))
            return self._error(name, request_id, "unknown_command", f"unknown command {name!r}; known: {known}")
        if self._allow is not None and name not in self._allow and source in self.RESTRICTED_SOURCES:
            return self._error(name, request_id, "not_allowed", f"command {name!r} is not in mqtt.allow_commands")
        try:
            parsed = spec.args_model.model_validate(dict(args or {}))
        except ValidationError as e:
            msgs = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'args'}: {x['msg']}" for x in e.errors())
            return self._error(name, request_id, "bad_args", msgs)
        use_ledger = self.ledger is not None and request_id is not None and spec.remember
        if use_ledger:
            assert self.ledger is not None and request_id is not None
            seen = self.ledger.reserve(request_id, name)
            if seen is not None:
                if seen.get("pending"):
                    r = self._error(name, request_id, "in_progress", "a request with this id is still running")
                else:
                    r = Reply(ok=bool(seen.get("ok")), command=str(seen.get("command", name)),
                              request_id=request_id, result=seen.get("result") or {}, error=seen.get("error"))
                r.duplicate = True
                return r
        try:
            result = dict(spec.handler(parsed, source))
            reply = Reply(ok=True, command=name, request_id=request_id, result=result)
        except EdgecamError as e:
            reply = self._error(name, request_id, type(e).__name__, str(e))
        except Exception as e:  # a handler bug must not take the daemon down
            log.exception("command %s failed", name)
            reply = self._error(name, request_id, "internal", f"{type(e).__name__}: {e}")
        if use_ledger:
            assert self.ledger is not None and request_id is not None
            self.ledger.complete(request_id, reply)
        return reply
