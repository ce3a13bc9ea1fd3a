"""Home Assistant MQTT discovery for one kiosk.

Why retained discovery messages re-sent on ``homeassistant/status = online``: Home Assistant forgets
non-retained discovery on restart and announces its return on that topic; answering it makes the
kiosk's entities reappear without a daemon restart.
"""

from __future__ import annotations

import json
from typing import Any

from edgecam.cloud.topics import Topics

SENSORS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("shots", "Shots", {"state_class": "total_increasing", "icon": "mdi:camera"}),
    ("last_scene", "Last scene", {"icon": "mdi:image-search"}),
    ("last_latency_ms", "Shot latency", {"unit_of_measurement": "ms", "state_class": "measurement",
                                         "icon": "mdi:timer-outline"}),
    ("printer", "Printer", {"icon": "mdi:printer"}),
    ("outbox_depth", "Outbox depth", {"state_class": "measurement", "icon": "mdi:tray-full"}),
)


def discovery_messages(topics: Topics, ha_prefix: str, style_options: list[str],
                       device_name: str | None = None) -> list[tuple[str, str]]:
    """(topic, JSON payload) pairs to publish retained."""
    dev_id = topics.device_id
    node = f"edgecam_{dev_id}"
    device = {"identifiers": [node], "name": device_name or f"edgecam {dev_id}", "manufacturer": "edgecam",
              "model": "AI instant camera"}
    avail = {"availability_topic": topics.availability, "payload_available": "online",
             "payload_not_available": "offline"}
    out: list[tuple[str, dict[str, Any]]] = []

    def add(component: str, object_id: str, body: dict[str, Any]) -> None:
        body = {"unique_id": f"{node}_{object_id}", "device": device, **body}
        out.append((f"{ha_prefix}/{component}/{node}/{object_id}/config", body))

    add("button", "shutter", {"name": "Shutter", "command_topic": topics.cmd("shutter"), "payload_press": "{}",
                              "icon": "mdi:camera-iris", **avail})
    # after paper-out the operator loads paper and presses this on the dashboard (CUPS keeps the queue
    # stopped otherwise; see edgecam.output.cups)
    add("button", "print_resume", {"name": "Resume printer", "command_topic": topics.cmd("print_resume"),
                                   "payload_press": "{}", "icon": "mdi:printer-check", **avail})
    add("select", "style", {"name": "Style", "command_topic": topics.cmd("set_style"),
                            "command_template": '{"style": {{ value | tojson }}}', "state_topic": topics.state("style"),
                            "value_template": "{{ value_json }}", "options": list(style_options) or ["auto"],
                            "icon": "mdi:palette", **avail})
    for key, name, extra in SENSORS:
        add("sensor", key, {"name": name, "state_topic": topics.state(key), "value_template": "{{ value_json }}",
                            **extra, **avail})
    add("binary_sensor", "online", {"name": "Online", "state_topic": topics.availability, "payload_on": "online",
                                    "payload_off": "offline", "device_class": "connectivity"})
    for action, trigger_type in (("press", "button_short_press"), ("hold", "button_long_press")):
        add("device_automation", f"button_{action}", {
            "automation_type": "trigger", "topic": topics.event("button"), "type": trigger_type,
            "subtype": "button_1", "value_template": "{{ value_json.kind }}", "payload": action})
    # device triggers carry no unique_id/name in HA's schema
    for _topic, body in out:
        if "automation_type" in body:
            body.pop("unique_id")
    return [(t, json.dumps(b, separators=(",", ":"))) for t, b in out]
