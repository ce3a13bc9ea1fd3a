"""Fixtures for the cloud tests: a REAL mosquitto on a free loopback port, a dispatcher with real
handlers, a small real result store, and an MQTT test client."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field
from testkit import free_port, wait_until  # noqa: F401  (the cloud tests import them from here)

from edgecam.cloud.jobs import Job
from edgecam.commands import Dispatcher, RequestLedger
from edgecam.config import MqttConfig, OutboxConfig, WorkerConfig
from edgecam.errors import EdgecamError

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def wait_for_port(proc: subprocess.Popen[bytes], port: int, timeout: float, log: Path, name: str) -> None:
    """Return once ``port`` accepts connections; raise with the server's log if it exits or never opens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text(errors='replace')[-2000:] if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not open its port")


def terminate(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (mosquitto saves its persistence file on the way out), then SIGKILL after 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Broker:
    """A mosquitto process on 127.0.0.1:port with on-disk persistence; can be stopped and restarted."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = free_port()
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir / 'data'}/\nautosave_interval 1\nmax_queued_messages 100000\n"
            f"log_dest file {workdir / 'mosquitto.log'}\n"
            # started as root, mosquitto would drop to its own user, which cannot enter pytest's 0700 tmp dirs
            f"user {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.proc, self.port, timeout, self.dir / "mosquitto.log", "mosquitto")

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


class AmqttBroker:
    """An amqtt broker (pure Python, MQTT 3.1.1 only) on 127.0.0.1:port, as a subprocess."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = workdir / "amqtt.yaml"
        self.conf.write_text(
            "---\nlisteners:\n  default:\n    type: tcp\n"
            f"    bind: 127.0.0.1:{self.port}\n"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
        )
        self.log = workdir / "amqtt.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        exe = Path(sys.executable).with_name("amqtt")
        if not exe.exists():  # a dev dependency: missing means a broken install, not a skip
            raise RuntimeError(f"{exe} not found: install the dev extra (pip install -e '.[dev]')")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([str(exe), "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.proc, self.port, timeout, self.log, "amqtt")

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None


def _running(server: Broker | AmqttBroker) -> Iterator[Broker | AmqttBroker]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    yield from _running(Broker(tmp_path / "broker"))  # type: ignore[misc]


@pytest.fixture
def amqtt_broker(tmp_path: Path) -> Iterator[AmqttBroker]:
    yield from _running(AmqttBroker(tmp_path / "amqtt"))  # type: ignore[misc]


def mqtt_cfg(broker: Broker | AmqttBroker, **kw: Any) -> MqttConfig:
    base: dict[str, Any] = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 1,
                            "reconnect_max_s": 2, "keepalive_s": 10}
    base.update(kw)
    return MqttConfig(**base)


class ShutterArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    style: str | None = None
    copies: int = Field(0, ge=0, le=5)


class StyleArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    style: str


class FakeCamera:
    """Real handlers with observable effects: the shutter writes a file per shot."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.shots = 0
        self.style = "auto"
        self._lock = threading.Lock()

    def shutter(self, args: ShutterArgs, source: str) -> dict[str, Any]:
        with self._lock:
            self.shots += 1
            shot_id = f"shot{self.shots:05d}"
        (self.root / f"{shot_id}.jpg").write_bytes(b"\xff\xd8fake" + shot_id.encode())
        return {"shot_id": shot_id, "style": args.style or self.style, "copies": args.copies, "source": source}

    def set_style(self, args: StyleArgs, source: str) -> dict[str, Any]:
        if args.style not in ("auto", "vintage", "noir"):
            raise EdgecamError(f"unknown style {args.style!r}")
        self.style = args.style
        return {"style": self.style}

    def status(self, _args: Any, _source: str) -> dict[str, Any]:
        return {"mode": "ready", "shots": self.shots, "style": self.style}

    def files(self) -> list[str]:
        return sorted(p.name for p in self.root.glob("*.jpg"))


def make_dispatcher(tmp: Path, allow: list[str] | None = None) -> tuple[Dispatcher, FakeCamera]:
    cam = FakeCamera(tmp / "shots")
    d = Dispatcher(RequestLedger(tmp / "ledger.sqlite"), allow=allow)
    d.register("shutter", cam.shutter, ShutterArgs)
    d.register("set_style", cam.set_style, StyleArgs)
    d.register("status", cam.status, remember=False)
    return d, cam


class ResultStore:
    """A small real ``apply_result``: atomic file writes + applied job ids in SQLite (idempotent)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(root / "applied.sqlite"), check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS applied (job_id TEXT PRIMARY KEY, shot_id TEXT, kind TEXT,"
                        " meta TEXT)")
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def apply_result(self, job: Job, meta: dict[str, Any], files: dict[str, bytes]) -> bool:
        with self._lock:
            self.calls.append(job.job_id)
            if self.db.execute("SELECT 1 FROM applied WHERE job_id = ?", (job.job_id,)).fetchone():
                return False
            for name, data in files.items():
                target = self.root / f"{job.shot_id}_{job.kind}_{name}"
                tmp = target.with_suffix(".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
            self.db.execute("INSERT INTO applied VALUES (?, ?, ?, ?)",
                            (job.job_id, job.shot_id, job.kind, json.dumps(meta)))
            return True

    def applied(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT job_id FROM applied")]


class Client:
    """A test-side MQTT client: collects messages per topic; sends v5 or 3.1.1 requests."""

    def __init__(self, broker: Broker | AmqttBroker, v5: bool = True) -> None:
        self.v5 = v5
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        self.msgs: list[mqtt.MQTTMessage] = []
        self.cond = threading.Condition()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", broker.port, 30)
        self.c.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.msgs.append(msg)
            self.cond.notify_all()

    def sub(self, topic: str, qos: int = 1) -> None:
        ev = threading.Event()
        self.c.on_subscribe = lambda *a: ev.set()
        self.c.subscribe(topic, qos)
        assert ev.wait(5)

    def wait_for(self, pred: Any, timeout: float = 10.0) -> mqtt.MQTTMessage:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.msgs:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching message")
                self.cond.wait(left)

    def request_v5(self, topic: str, payload: str | bytes, corr: str, resp: str, timeout: float = 10.0) -> dict:
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = resp
        props.CorrelationData = corr.encode()
        self.c.publish(topic, payload, qos=1, properties=props)
        m = self.wait_for(lambda m: m.topic == resp and getattr(m.properties, "CorrelationData", None)
                          == corr.encode(), timeout)
        return json.loads(m.payload)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def client_factory(broker: Broker) -> Iterator[Any]:
    made: list[Client] = []

    def make(v5: bool = True) -> Client:
        c = Client(broker, v5)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def outbox_cfg(tmp: Path, **kw: Any) -> OutboxConfig:
    base: dict[str, Any] = {"path": tmp / "outbox.sqlite", "retry_min_s": 0.2, "retry_max_s": 2.0,
                            "ack_timeout_s": 3.0}
    base.update(kw)
    return OutboxConfig(**base)


def worker_cfg(tmp: Path, **kw: Any) -> WorkerConfig:
    base: dict[str, Any] = {"results_dir": tmp, "threads": 2, "chunk_wait_s": 5.0}
    base.update(kw)
    return WorkerConfig(**base)


def threads_named(*prefixes: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefixes) and t.is_alive()]
