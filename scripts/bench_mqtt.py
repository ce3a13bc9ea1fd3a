#!/usr/bin/env python3
"""MQTT benchmark over loopback: command round-trip p50/p95 and outbox throughput with 1 and 2 workers.

Why its own mosquitto: numbers must not depend on (or disturb) a broker in use. Usage:
    .venv/bin/python scripts/bench_mqtt.py [--commands 300] [--jobs 500] [--job-bytes 20000]
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from pydantic import BaseModel, ConfigDict  # noqa: E402

from edgecam.cloud.bridge import MqttBridge  # noqa: E402
from edgecam.cloud.outbox import Outbox  # noqa: E402
from edgecam.cloud.worker import JobHandlers, Worker, archive_handler  # noqa: E402
from edgecam.commands import Dispatcher, RequestLedger  # noqa: E402
from edgecam.config import MqttConfig, OutboxConfig, WorkerConfig  # noqa: E402


def start_broker(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (work / "data").mkdir(parents=True)
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {work / 'data'}/\nautosave_interval 1\nuser {getpass.getuser()}\n"
                    "max_queued_messages 100000\nset_tcp_nodelay true\n")
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


class ShutterArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    style: str | None = None


def bench_commands(port: int, work: Path, n: int) -> dict[str, list[float]]:
    shots = work / "shots"
    shots.mkdir(parents=True)
    count = [0]

    def shutter(args: ShutterArgs, source: str) -> dict[str, Any]:
        count[0] += 1
        p = shots / f"{count[0]:06d}.jpg"
        p.write_bytes(b"\xff\xd8" + b"x" * 50_000)  # a real (small) write per shot
        return {"shot_id": p.stem}

    d = Dispatcher(RequestLedger(work / "ledger.sqlite"))
    d.register("shutter", shutter, ShutterArgs)
    d.register("status", lambda a, s: {"mode": "ready", "shots": count[0]}, remember=False)
    cfg = MqttConfig(enabled=True, port=port)
    bridge = MqttBridge(cfg, "bench", d)
    bridge.start()
    assert bridge.wait_connected(10)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-client", protocol=mqtt.MQTTv5)
    got = threading.Event()
    c.on_message = lambda *_: got.set()
    c.connect("127.0.0.1", port)
    c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the bridge does; else ~40 ms/hop
    c.loop_start()
    c.subscribe("bench/replies", 1)
    time.sleep(0.3)
    out: dict[str, list[float]] = {}
    for name, body in (("status", b""), ("shutter", b"{}")):
        lat = []
        for i in range(n):
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = "bench/replies"
            props.CorrelationData = f"{name}-{i}".encode()
            got.clear()
            t0 = time.perf_counter()
            c.publish(bridge.topics.cmd(name), body, qos=1, properties=props)
            if not got.wait(10):
                raise SystemExit(f"no reply to {name} #{i}")
            lat.append((time.perf_counter() - t0) * 1000)
        out[name] = lat
    c.disconnect()
    c.loop_stop()
    bridge.stop()
    return out


def bench_jobs(port: int, work: Path, n: int, size: int, workers: int) -> float:
    photos = work / "photos"
    photos.mkdir(parents=True)
    ocfg = OutboxConfig(path=work / "outbox.sqlite", ack_timeout_s=60, send_batch=200)
    ob = Outbox(ocfg.path, ocfg)
    for i in range(n):
        p = photos / f"{i}.jpg"
        p.write_bytes(bytes([i % 256]) * size)
        ob.enqueue("archive", f"s{i}", {"original": p})
    applied = [0]
    lock = threading.Lock()

    def apply(job: Any, meta: dict[str, Any], files: dict[str, bytes]) -> bool:
        with lock:
            applied[0] += 1
        return True

    cfg = MqttConfig(enabled=True, port=port)
    ws = []
    for k in range(workers):
        reg = JobHandlers()
        reg.register("archive", archive_handler(work / f"w{k}" / "archive"))
        w = Worker(cfg, WorkerConfig(results_dir=work / f"w{k}", threads=2), reg, client_id=f"bench-w{k}")
        w.start()
        assert w.wait_connected(10)
        ws.append(w)
    t0 = time.perf_counter()
    bridge = MqttBridge(cfg, "benchjobs", Dispatcher(), outbox=ob, apply_result=apply)
    bridge.start()
    while ob.counts()["done"] < n:
        if time.perf_counter() - t0 > 300:
            raise SystemExit(f"timeout: {ob.counts()}")
        time.sleep(0.02)
    dt = time.perf_counter() - t0
    split = [len(w.computed) for w in ws]
    bridge.stop()
    for w in ws:
        w.stop()
    ob.close()
    print(f"  {workers} worker(s): {n} jobs in {dt:.2f}s, split {split}, applied {applied[0]}", file=sys.stderr)
    return n / dt


def bench_daemon_shutter(port: int, work: Path, n: int) -> dict[str, list[float]]:
    """The real daemon (replay camera, real models, store): local dispatcher shutter latency vs an MQTT
    ``cmd/shutter`` until its ``event/shot`` arrives at a subscriber, alternating so both see the same load."""
    from edgecam.app import App
    from edgecam.cloud.wiring import wire
    from edgecam.config import load_config

    cfg = load_config(environ={})
    cfg.output.dir = work / "photos"
    cfg.outbox.path = work / "photos" / "outbox.sqlite"
    cfg.output.min_free_mb = 0
    cfg.camera.fps = 30
    cfg.device_id = "benchd"
    cfg.mqtt = MqttConfig(enabled=True, port=port, homeassistant={"enabled": False})
    app = App(cfg)
    wire(app)
    app.start()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-daemon-client", protocol=mqtt.MQTTv5)
    got = threading.Event()
    c.on_message = lambda *_: got.set()
    c.connect("127.0.0.1", port)
    c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.loop_start()
    c.subscribe("edgecam/benchd/event/shot", 1)
    time.sleep(1.0)
    local: list[float] = []
    remote: list[float] = []
    try:
        for _ in range(3):  # warm-up
            app.dispatcher.dispatch("shutter", {}, source="bench")
        for _ in range(n):
            t0 = time.perf_counter()
            r = app.dispatcher.dispatch("shutter", {}, source="bench")
            local.append((time.perf_counter() - t0) * 1000)
            assert r.ok, r.error
            time.sleep(0.05)
            got.clear()
            t0 = time.perf_counter()
            c.publish("edgecam/benchd/cmd/shutter", b"{}", qos=1)
            if not got.wait(30):
                raise SystemExit("no event/shot after an MQTT shutter")
            remote.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.05)
    finally:
        c.disconnect()
        c.loop_stop()
        app.stop()
    return {"local shutter (dispatcher)": local, "mqtt shutter -> event/shot": remote}


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) > 1 else xs[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--job-bytes", type=int, default=20_000)
    ap.add_argument("--shots", type=int, default=30, help="real-daemon shots per path (local, MQTT)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, port = start_broker(work / "broker")
        try:
            lat = bench_commands(port, work / "cmd", args.commands)
            tput = {k: bench_jobs(port, work / f"jobs{k}", args.jobs, args.job_bytes, k) for k in (1, 2)}
            shots = bench_daemon_shutter(port, work / "daemon", args.shots) if args.shots else {}
        finally:
            proc.terminate()
            proc.wait(10)
    rows = {f"{k} round-trip (ms)": (pct(v, 50), pct(v, 95)) for k, v in lat.items()}
    if args.json:
        every = {**lat, **shots}
        print(json.dumps({"latency_ms": {k: {"p50": pct(v, 50), "p95": pct(v, 95)} for k, v in every.items()},
                          "jobs_per_s": tput}))
        return 0
    print(f"{'metric':34} {'p50':>9} {'p95':>9}")
    for k, (a, b) in rows.items():
        print(f"{k:34} {a:9.2f} {b:9.2f}")
    print(f"{'metric':34} {'jobs/s':>9}")
    for k, v in tput.items():
        print(f"{f'outbox throughput, {k} worker(s)':34} {v:9.1f}   ({args.jobs} archive jobs of {args.job_bytes} B)")
    if shots:
        print(f"\nreal daemon, {args.shots} shots each, alternating")
        print(f"{'metric':34} {'p50':>9} {'p95':>9}")
        for k, v in shots.items():
            print(f"{k + ' (ms)':34} {pct(v, 50):9.1f} {pct(v, 95):9.1f}")
        vals = list(shots.values())
        ratio = statistics.median(vals[1]) / statistics.median(vals[0])
        print(f"MQTT / local shot latency (p50): {ratio:.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
