"""``mqtt.protocol: auto``: v5 where the broker speaks it (mosquitto), 3.1.1 against a real 3.1.1-only
broker (amqtt, which never answers a v5 CONNECT: it reads the v5 properties as the client id length and
waits, so the fallback comes after paho's keep-alive gives up on the CONNACK)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cloudkit import (
    AmqttBroker,
    Broker,
    Client,
    make_dispatcher,
    mqtt_cfg,
    threads_named,
    wait_until,
)

from edgecam.cloud.bridge import MqttBridge
from edgecam.config import MqttConfig

pytestmark = pytest.mark.timeout(90)

FALLBACK = "falling back to MQTT 3.1.1"


def test_auto_is_the_default() -> None:
    assert MqttConfig().protocol == "auto"


def test_auto_falls_back_to_311_on_a_311_only_broker(amqtt_broker: AmqttBroker, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edgecam.cloud.session")
    dispatcher, cam = make_dispatcher(tmp_path)
    b = MqttBridge(mqtt_cfg(amqtt_broker, keepalive_s=5), "kiosk-amqtt", dispatcher)
    assert b.cfg.protocol == "auto"
    c = None
    b.start()
    try:
        assert b.wait_connected(30), amqtt_broker.log.read_text(errors="replace")[-2000:]
        assert b.session.v5 is False
        c = Client(amqtt_broker, v5=False)
        c.sub(f"{b.topics.base}/reply/#")
        c.c.publish(b.topics.cmd("status"), json.dumps({"id": "st-311-1"}), qos=1)
        m = c.wait_for(lambda m: m.topic == "edgecam/kiosk-amqtt/reply/status")
        r = json.loads(m.payload)
        assert r["ok"] is True and r["id"] == "st-311-1" and r["result"]["mode"] == "ready"

        # once 3.1.1 works it stays: a broker restart reconnects with 3.1.1 straight away
        connects = b.session.connects
        amqtt_broker.stop()
        assert wait_until(lambda: not b.session.connected, 10)
        amqtt_broker.start()
        assert wait_until(lambda: b.session.connects > connects and b.session.connected, 20)
        assert b.session.v5 is False
        c.close()
        c = Client(amqtt_broker, v5=False)
        c.sub(f"{b.topics.base}/reply/#")
        assert b.wait_connected(10)
        c.c.publish(b.topics.cmd("status"), json.dumps({"id": "st-311-2"}), qos=1)
        m = c.wait_for(lambda m: m.topic == b.topics.reply("status") and json.loads(m.payload)["id"] == "st-311-2")
        assert json.loads(m.payload)["ok"] is True
    finally:
        if c is not None:
            c.close()
        b.stop()
    lines = [r for r in caplog.records if FALLBACK in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert threads_named("mqtt-", "paho") == []


def test_auto_stays_on_v5_with_mosquitto(broker: Broker, tmp_path: Path, client_factory,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edgecam.cloud.session")
    dispatcher, cam = make_dispatcher(tmp_path)
    b = MqttBridge(mqtt_cfg(broker), "kiosk-auto5", dispatcher)
    assert b.cfg.protocol == "auto"
    b.start()
    try:
        assert b.wait_connected(10)
        assert b.session.v5 is True
        c = client_factory()
        c.sub("test/replies/#")
        r = c.request_v5(b.topics.cmd("status"), b"", "req-auto-1", "test/replies/auto")
        assert r["ok"] is True and r["id"] == "req-auto-1"
        # a restart of the broker does not change the protocol either
        broker.restart()
        assert wait_until(lambda: b.session.connects >= 2 and b.session.connected, 20)
        assert b.session.v5 is True
    finally:
        b.stop()
    assert not [r for r in caplog.records if FALLBACK in r.getMessage()]
