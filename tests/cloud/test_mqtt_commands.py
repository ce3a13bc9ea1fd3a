"""Remote commands over a real mosquitto: v5 request/response, 3.1.1 JSON id, idempotency, errors."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest
from cloudkit import Broker, make_dispatcher, mqtt_cfg, threads_named, wait_until

from edgecam.cloud.bridge import MqttBridge
from edgecam.events import EventBus

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def bridge(broker: Broker, tmp_path: Path):
    dispatcher, cam = make_dispatcher(tmp_path)
    b = MqttBridge(mqtt_cfg(broker, max_payload_bytes=1024), "kiosk1", dispatcher, EventBus(),
                   style_options=lambda: ["auto", "vintage", "noir"])
    b.start()
    assert b.wait_connected(10)
    yield b, cam
    b.stop()
    assert threads_named("mqtt-", "paho") == []


def test_v5_request_response_with_correlation_data(bridge, client_factory) -> None:
    b, cam = bridge
    c = client_factory()
    c.sub("test/replies/#")
    r = c.request_v5(b.topics.cmd("status"), b"", "req-status-1", "test/replies/a")
    assert r["ok"] is True and r["result"]["mode"] == "ready" and r["id"] == "req-status-1"
    r = c.request_v5(b.topics.cmd("shutter"), json.dumps({"style": "noir"}), "req-shot-1", "test/replies/a")
    assert r["ok"] and r["result"]["style"] == "noir" and r["result"]["source"] == "mqtt"
    assert cam.files() == ["shot00001.jpg"]


def test_v311_json_id_and_reply_topic(broker, tmp_path, client_factory) -> None:
    dispatcher, cam = make_dispatcher(tmp_path)
    b = MqttBridge(mqtt_cfg(broker, protocol="3.1.1"), "kiosk311", dispatcher)
    b.start()
    try:
        assert b.wait_connected(10)
        c = client_factory(v5=False)
        c.sub(f"{b.topics.base}/reply/#")
        c.c.publish(b.topics.cmd("shutter"), json.dumps({"id": "abc-1", "copies": 1}), qos=1)
        m = c.wait_for(lambda m: m.topic == b.topics.reply("shutter"))
        r = json.loads(m.payload)
        assert r["ok"] and r["id"] == "abc-1" and r["result"]["copies"] == 1
        assert cam.files() == ["shot00001.jpg"]
    finally:
        b.stop()


def test_redelivered_command_does_not_shoot_twice(bridge, client_factory) -> None:
    b, cam = bridge
    c = client_factory()
    c.sub("test/replies/#")
    first = c.request_v5(b.topics.cmd("shutter"), b"{}", "dup-1", "test/replies/1")
    second = c.request_v5(b.topics.cmd("shutter"), b"{}", "dup-1", "test/replies/2")
    assert first["ok"] and second["ok"] and second.get("duplicate") is True
    assert second["result"]["shot_id"] == first["result"]["shot_id"]
    assert cam.files() == ["shot00001.jpg"] and cam.shots == 1


@pytest.mark.parametrize(
    ("topic_name", "payload", "code"),
    [
        ("nosuch", b"{}", "unknown_command"),
        ("shutter", b"{not json", "bad_json"),
        ("shutter", b'{"copies": "many"}', "bad_args"),
        ("shutter", b"[1, 2]", "bad_args"),
        ("shutter", b'{"copies": 1, "extra": true}', "bad_args"),
        ("shutter", b'{"x": "' + b"a" * 2000 + b'"}', "too_large"),
        ("set_style", b'{"style": "sepia"}', "EdgecamError"),
    ],
)
def test_bad_requests_get_error_replies(bridge, client_factory, topic_name, payload, code) -> None:
    b, cam = bridge
    c = client_factory()
    c.sub("test/replies/#")
    r = c.request_v5(b.topics.cmd(topic_name), payload, f"bad-{uuid.uuid4().hex}", "test/replies/x")
    assert r["ok"] is False and r["error"]["code"] == code, r
    assert cam.shots == 0
    ok = c.request_v5(b.topics.cmd("status"), b"", "after-bad", "test/replies/y")
    assert ok["ok"] is True


def test_allow_list(broker, tmp_path, client_factory) -> None:
    dispatcher, cam = make_dispatcher(tmp_path, allow=["status"])
    b = MqttBridge(mqtt_cfg(broker), "kiosk-allow", dispatcher)
    b.start()
    try:
        assert b.wait_connected(10)
        c = client_factory()
        c.sub("test/replies/#")
        r = c.request_v5(b.topics.cmd("shutter"), b"{}", "na-1", "test/replies/x")
        assert r["error"]["code"] == "not_allowed" and cam.shots == 0
    finally:
        b.stop()


def test_ten_thousand_malformed_payloads_leave_the_bridge_answering(bridge, client_factory) -> None:
    b, cam = bridge
    c = client_factory()
    c.sub("test/replies/#")
    rng = random.Random(1234)
    names = ["shutter", "status", "set_style", "nosuch", "reprint", "x" * 50, "%00", "shutter "]
    pieces = [b"{", b"}", b"[", b'"id"', b":", b"null", b"1e999", b'"copies"', b"-1", b"\xff", b"\x00", b'"style"',
              b",", b"true", b"{}", b'"\\ud800"']
    for _ in range(10_000):
        kind = rng.random()
        if kind < 0.5:
            payload = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        elif kind < 0.8:
            payload = rng.randbytes(rng.randint(0, 300))
        elif kind < 0.9:
            payload = b"[" * rng.randint(1000, 3000)  # deep nesting
        else:
            payload = b'{"copies": ' + str(rng.randint(-10**6, 10**6)).encode() + b', "id": [1]}'
        c.c.publish(b.topics.cmd(rng.choice(names)), payload, qos=0)
    r = c.request_v5(b.topics.cmd("status"), b"", "after-flood", "test/replies/flood", timeout=90)
    assert r["ok"] is True and r["result"]["mode"] == "ready"
    assert b.stats["commands"] + b.stats["busy"] >= 9_000  # the flood really reached the bridge
    # nothing in the flood was a valid shutter request with a non-negative copy count ≤ 5 and no id… except
    # by chance: whatever shots happened were written as files, one per shot
    assert len(cam.files()) == cam.shots
    assert wait_until(lambda: b.session.connected, 5)
