"""Cloud offload end to end over a real mosquitto: outbox → shared-subscription workers → results
applied exactly once, across a broker restart; chunking; the hard cap; no broker at all."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cloudkit import Broker, ResultStore, make_dispatcher, mqtt_cfg, outbox_cfg, threads_named, wait_until, worker_cfg

from edgecam.cloud.bridge import MqttBridge
from edgecam.cloud.jobs import CodecError, Reassembler, pack, split, unpack
from edgecam.cloud.outbox import Outbox, follow_shots
from edgecam.cloud.worker import JobHandlers, JobOutput, Worker, WorkerJob, archive_handler
from edgecam.events import EventBus

pytestmark = pytest.mark.timeout(120)


def upper_handler(job: WorkerJob) -> JobOutput:
    """A real, light 'product_cutout': transforms the bytes so the result is checkable."""
    data = job.files["original"]
    return JobOutput({"n": len(data)}, {"cutout.bin": data[::-1]})


def handlers(root: Path) -> JobHandlers:
    reg = JobHandlers()
    reg.register("archive", archive_handler(root / "archive"))
    reg.register("product_cutout", upper_handler)
    return reg


def make_shots(root: Path, n: int, size: int = 2000) -> list[tuple[str, dict[str, Path]]]:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        sid = f"s{i:05d}"
        orig, styled = root / f"{sid}_o.jpg", root / f"{sid}_s.jpg"
        orig.write_bytes(sid.encode() * (size // len(sid)))
        styled.write_bytes(b"S" + sid.encode() * (size // len(sid)))
        out.append((sid, {"original": orig, "styled": styled}))
    return out


def start_bridge(broker: Broker, tmp: Path, outbox: Outbox, store: ResultStore, **mkw) -> MqttBridge:
    dispatcher, _ = make_dispatcher(tmp / "disp")
    b = MqttBridge(mqtt_cfg(broker, **mkw), "kiosk1", dispatcher, EventBus(), outbox=outbox,
                   apply_result=store.apply_result)
    b.start()
    return b


def start_worker(broker: Broker, tmp: Path, name: str, **mkw) -> Worker:
    w = Worker(mqtt_cfg(broker, **mkw), worker_cfg(tmp / name), handlers(tmp / name), client_id=f"worker-{name}")
    w.start()
    assert w.wait_connected(10)
    return w


def test_codec_roundtrip_chunks_and_corruption() -> None:
    frame = pack({"type": "job", "job_id": "j1"}, {"a": b"x" * 5000, "b": b""})
    header, files = unpack(frame)
    assert header["job_id"] == "j1" and files == {"a": b"x" * 5000, "b": b""}
    chunks = split(frame, "j1", 1024)
    assert len(chunks) > 4 and all(len(c) <= 1024 for c in chunks)
    asm = Reassembler()
    got = [asm.add(*unpack(c)) for c in reversed(chunks)]
    assert got[-1] == frame and all(g is None for g in got[:-1])
    bad = bytearray(frame)
    bad[-1] ^= 1
    with pytest.raises(CodecError):
        unpack(bytes(bad))
    with pytest.raises(CodecError):
        unpack(frame[:-3])


def test_outbox_state_machine_and_restart(tmp_path: Path) -> None:
    now = [1000.0]
    cfg = outbox_cfg(tmp_path, ack_timeout_s=10, retry_min_s=2, retry_max_s=8, max_attempts=3)
    ob = Outbox(cfg.path, cfg, clock=lambda: now[0])
    job = ob.enqueue("archive", "s1", {"original": tmp_path / "x.jpg"}, job_id="s1.archive")
    ob.enqueue("archive", "s1", {"original": tmp_path / "x.jpg"}, job_id="s1.archive")  # idempotent
    assert [j.job_id for j in ob.due()] == [job.job_id]
    ob.mark_sent(job.job_id)
    assert ob.due() == [] and ob.get(job.job_id).state == "sent"
    now[0] += 10.01
    assert [j.attempts for j in ob.due()] == [1]  # ack timeout passed → due again
    ob.mark_sent(job.job_id)
    assert ob.get(job.job_id).next_attempt_at == pytest.approx(now[0] + 10 + 2)  # + backoff
    ob.close()
    ob = Outbox(cfg.path, cfg, clock=lambda: now[0])  # survives a restart
    assert ob.get(job.job_id).attempts == 2
    assert ob.mark_done(job.job_id, {"ok": 1}) is True
    assert ob.mark_done(job.job_id, {"ok": 2}) is False  # exactly once
    assert ob.get(job.job_id).result_meta == {"ok": 1} and ob.depth() == 0
    j2 = ob.enqueue("archive", "s2", {}, job_id="j2")
    for _ in range(3):
        ob.mark_sent(j2.job_id)
    now[0] += 1000
    assert ob.expire() == 1 and ob.get("j2").state == "failed"
    assert ob.retry(all_failed=True) == 1 and ob.get("j2").state == "queued"
    assert ob.purge(done_only=True) == 1 and ob.counts()["done"] == 0
    ob.close()


def test_jobs_wait_without_broker_and_follow_shots(tmp_path: Path) -> None:
    cfg = outbox_cfg(tmp_path, jobs=["archive", "product_cutout"])
    ob = Outbox(cfg.path, cfg)
    bus = EventBus()
    unsub = follow_shots(ob, bus, cfg.jobs)
    bus.publish("shot", shot_id="20260101-1", styled="/p/s.jpg", original="/p/o.jpg", scene="portrait")
    bus.publish("shot", shot_id="20260101-1", styled="/p/s.jpg", original="/p/o.jpg", scene="portrait")
    unsub()
    jobs = {j.job_id: j for j in ob.list()}
    assert set(jobs) == {"20260101-1.archive", "20260101-1.product_cutout"}
    assert jobs["20260101-1.archive"].files == {"original": "/p/o.jpg", "styled": "/p/s.jpg"}
    assert ob.depth() == 2 and ob.counts()["sent"] == 0
    ob.close()


def test_broker_restart_mid_stream_every_result_applied_once(broker: Broker, tmp_path: Path) -> None:
    cfg = outbox_cfg(tmp_path, ack_timeout_s=4.0)
    ob = Outbox(cfg.path, cfg)
    store = ResultStore(tmp_path / "store")
    shots = make_shots(tmp_path / "photos", 240)
    for sid, files in shots:
        ob.enqueue("archive", sid, files, job_id=f"{sid}.archive")
    w = start_worker(broker, tmp_path, "w1")
    b = start_bridge(broker, tmp_path, ob, store)
    try:
        assert wait_until(lambda: len(store.applied()) >= 40, 30)
        broker.restart(down_s=1.0)  # mid-stream: some jobs sent, some results in flight
        for sid, files in make_shots(tmp_path / "photos2", 20):  # queued while the broker is away
            ob.enqueue("archive", "late" + sid, files, job_id=f"late{sid}.archive")
        assert wait_until(lambda: ob.counts()["done"] == 260, 90, step=0.2), ob.counts()
        applied = store.applied()
        assert len(applied) == len(set(applied)) == 260
        assert len(store.calls) == 260  # the outbox never handed a result over twice
        assert b.stats["results_applied"] == 260
        assert (tmp_path / "w1" / "archive" / "kiosk1" / "s00000" / "original").read_bytes() == \
            shots[0][1]["original"].read_bytes()
    finally:
        b.stop()
        w.stop()
        ob.close()
    assert threads_named("mqtt-", "worker-", "paho") == []


def test_two_workers_share_the_load(broker: Broker, tmp_path: Path) -> None:
    cfg = outbox_cfg(tmp_path, ack_timeout_s=30.0)
    ob = Outbox(cfg.path, cfg)
    store = ResultStore(tmp_path / "store")
    w1 = start_worker(broker, tmp_path, "wa")
    w2 = start_worker(broker, tmp_path, "wb")
    shots = make_shots(tmp_path / "photos", 100)
    for sid, files in shots:
        ob.enqueue("product_cutout", sid, {"original": files["original"]}, job_id=f"{sid}.cut")
    b = start_bridge(broker, tmp_path, ob, store)
    try:
        assert wait_until(lambda: ob.counts()["done"] == 100, 60, step=0.1), ob.counts()
        a, c = set(w1.computed), set(w2.computed)
        assert a and c, (len(a), len(c))
        assert a | c == {f"{sid}.cut" for sid, _ in shots} and not (a & c)
        assert sorted(store.applied()) == sorted(a | c) and len(store.calls) == 100
        out = (tmp_path / "store" / "s00007_product_cutout_cutout.bin").read_bytes()
        assert out == shots[7][1]["original"].read_bytes()[::-1]
    finally:
        b.stop()
        w1.stop()
        w2.stop()
        ob.close()


def test_large_jobs_are_chunked_and_over_the_cap_refused(broker: Broker, tmp_path: Path) -> None:
    cfg = outbox_cfg(tmp_path, max_job_bytes=200_000)
    ob = Outbox(cfg.path, cfg)
    store = ResultStore(tmp_path / "store")
    shots = make_shots(tmp_path / "photos", 3, size=60_000)
    for sid, files in shots:
        ob.enqueue("product_cutout", sid, {"original": files["original"]}, job_id=f"{sid}.cut")
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"h" * 300_000)
    ob.enqueue("archive", "huge", {"original": huge}, job_id="huge.archive")
    w = start_worker(broker, tmp_path, "wc", max_packet_bytes=8192)
    b = start_bridge(broker, tmp_path, ob, store, max_packet_bytes=8192)
    try:
        assert wait_until(lambda: ob.counts()["done"] == 3 and ob.counts()["failed"] == 1, 30), ob.counts()
        failed = ob.get("huge.archive")
        assert failed.state == "failed" and "max_job_bytes" in (failed.last_error or "")
        assert (tmp_path / "store" / "s00002_product_cutout_cutout.bin").read_bytes() == \
            shots[2][1]["original"].read_bytes()[::-1]
        # the retained parts are cleared once the result is applied
        time.sleep(0.5)
        from cloudkit import Client
        c = Client(broker)
        c.sub("edgecam/kiosk1/chunks/#")
        time.sleep(0.5)
        assert [m.topic for m in c.msgs if m.payload] == []
        c.close()
    finally:
        b.stop()
        w.stop()
        ob.close()


def test_parts_of_a_job_that_failed_for_good_are_cleared(broker: Broker, tmp_path: Path) -> None:
    """A chunked job the worker cannot run (no handler: permanent) fails and leaves no retained parts."""
    cfg = outbox_cfg(tmp_path)
    ob = Outbox(cfg.path, cfg)
    store = ResultStore(tmp_path / "store")
    (sid, files), = make_shots(tmp_path / "photos", 1, size=60_000)
    ob.enqueue("matte_refine", sid, {"original": files["original"]}, job_id=f"{sid}.matte")
    w = start_worker(broker, tmp_path, "wf", max_packet_bytes=8192)  # handlers(): archive + product_cutout only
    b = start_bridge(broker, tmp_path, ob, store, max_packet_bytes=8192)
    try:
        assert wait_until(lambda: ob.counts()["failed"] == 1, 30), ob.counts()
        assert "no handler" in (ob.get(f"{sid}.matte").last_error or "")
        from cloudkit import Client
        c = Client(broker)
        c.sub("edgecam/kiosk1/chunks/#")
        assert wait_until(lambda: not [m for m in c.msgs if m.payload], 5)
        time.sleep(0.5)
        assert [m.topic for m in c.msgs if m.payload] == [], "retained parts of a failed job stay on the broker"
        c.close()
    finally:
        b.stop()
        w.stop()
        ob.close()


def test_worker_prunes_results_past_their_retention(broker: Broker, tmp_path: Path) -> None:
    import os

    root = tmp_path / "wp"
    old, new = root / "kiosk1" / "old.cut.result", root / "kiosk1" / "new.cut.result"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    (root / "archive").mkdir()
    keep = root / "archive" / "photo.jpg"
    keep.write_bytes(b"z")
    eight_days_ago = time.time() - 8 * 24 * 3600
    os.utime(old, (eight_days_ago, eight_days_ago))
    os.utime(keep, (eight_days_ago, eight_days_ago))
    w = Worker(mqtt_cfg(broker), worker_cfg(root, result_retention_h=24 * 7), handlers(root), client_id="worker-wp")
    w.start()  # prunes on start
    try:
        assert not old.exists() and new.exists() and keep.exists()
        assert w.prune_results(now=time.time() + 8 * 24 * 3600) == 1 and not new.exists()
    finally:
        w.stop()
