"""Availability (last will, re-publish on reconnect), retained state, events and HA discovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cloudkit import Broker, Client, make_dispatcher, mqtt_cfg, wait_until

from edgecam.cloud.bridge import MqttBridge
from edgecam.events import EventBus

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]


def test_last_will_fires_when_the_daemon_is_killed(broker: Broker, tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from edgecam.cloud.bridge import MqttBridge
        from edgecam.commands import Dispatcher
        from edgecam.config import MqttConfig
        b = MqttBridge(MqttConfig(enabled=True, port={broker.port}), "victim", Dispatcher())
        b.start()
        assert b.wait_connected(10)
        print("ready", flush=True)
        time.sleep(60)
    """)
    c = Client(broker)
    c.sub("edgecam/victim/availability")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        c.wait_for(lambda m: m.payload == b"online")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        m = c.wait_for(lambda m: m.payload == b"offline", timeout=10)
        assert m.topic == "edgecam/victim/availability"
        late = Client(broker)  # the offline is retained for whoever looks later
        late.sub("edgecam/victim/availability")
        assert late.wait_for(lambda m: True).payload == b"offline"
        late.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        c.close()


def test_availability_and_state_republished_after_broker_lost_everything(broker: Broker, tmp_path: Path) -> None:
    dispatcher, _ = make_dispatcher(tmp_path)
    b = MqttBridge(mqtt_cfg(broker), "kiosk1", dispatcher, EventBus())
    b.start()
    try:
        assert b.wait_connected(10)
        b.publish_state(mode="ready", style="noir")
        broker.stop()
        for f in (broker.dir / "data").glob("*"):
            f.unlink()  # a broker that lost its retained store
        broker.start()
        assert wait_until(lambda: b.session.connects >= 2, 20)
        c = Client(broker)
        c.sub("edgecam/kiosk1/#")
        av = c.wait_for(lambda m: m.topic == b.topics.availability)
        assert av.payload == b"online" and av.retain
        st = c.wait_for(lambda m: m.topic == b.topics.state("style"))
        assert json.loads(st.payload) == "noir"
        c.close()
    finally:
        b.stop()
    c = Client(broker)  # clean stop → retained offline
    c.sub(b.topics.availability)
    assert c.wait_for(lambda m: True).payload == b"offline"
    c.close()


def test_events_state_and_home_assistant_discovery(broker: Broker, tmp_path: Path) -> None:
    dispatcher, _ = make_dispatcher(tmp_path)
    bus = EventBus()
    b = MqttBridge(mqtt_cfg(broker), "kiosk1", dispatcher, bus, style_options=lambda: ["auto", "vintage"])
    c = Client(broker)
    c.sub("edgecam/#")
    c.sub("homeassistant/#")
    b.start()
    try:
        assert b.wait_connected(10)
        cfg_topic = "homeassistant/select/edgecam_kiosk1/style/config"
        sel = json.loads(c.wait_for(lambda m: m.topic == cfg_topic).payload)
        assert sel["options"] == ["auto", "vintage"] and sel["command_topic"] == "edgecam/kiosk1/cmd/set_style"
        resume = json.loads(c.wait_for(
            lambda m: m.topic == "homeassistant/button/edgecam_kiosk1/print_resume/config").payload)
        assert resume["command_topic"] == "edgecam/kiosk1/cmd/print_resume"
        for t in ("button/edgecam_kiosk1/shutter", "sensor/edgecam_kiosk1/outbox_depth",
                  "sensor/edgecam_kiosk1/last_latency_ms", "binary_sensor/edgecam_kiosk1/online",
                  "device_automation/edgecam_kiosk1/button_press"):
            c.wait_for(lambda m, t=t: m.topic == f"homeassistant/{t}/config")
        n_before = sum(1 for m in c.msgs if m.topic == cfg_topic)
        c.c.publish("homeassistant/status", b"online", qos=1)
        assert wait_until(lambda: sum(1 for m in c.msgs if m.topic == cfg_topic) > n_before, 10)
        bus.publish("shot", shot_id="s1", scene="beach", timings_ms={"total": 812.5})
        bus.publish("button", pin=17, kind="press", command="shutter")
        bus.publish("state", mode="paused", printer="idle")
        shot = json.loads(c.wait_for(lambda m: m.topic == "edgecam/kiosk1/event/shot").payload)
        assert shot["shot_id"] == "s1" and "ts" in shot
        assert json.loads(c.wait_for(lambda m: m.topic == "edgecam/kiosk1/event/button").payload)["kind"] == "press"
        assert json.loads(c.wait_for(lambda m: m.topic == "edgecam/kiosk1/state/last_scene").payload) == "beach"
        assert json.loads(c.wait_for(lambda m: m.topic == "edgecam/kiosk1/state/last_latency_ms").payload) == 812.5
        assert json.loads(c.wait_for(lambda m: m.topic == "edgecam/kiosk1/state/mode").payload) == "paused"
    finally:
        b.stop()
        c.close()
