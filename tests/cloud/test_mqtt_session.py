"""Credentials and topic helpers (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgecam.cloud.session import _routing_filter, read_password
from edgecam.cloud.topics import Topics, parse_job_topic, worker_jobs_filter
from edgecam.config import MqttConfig
from edgecam.errors import ConfigError


def test_password_from_file_and_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    assert read_password(MqttConfig(password_file=tmp_path / "pw")) == "s3cret"
    cfg = MqttConfig(password_file=Path("credential:mqtt-password"))
    (tmp_path / "mqtt-password").write_text("fromcred")
    assert read_password(cfg, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == "fromcred"
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY") as e:
        read_password(cfg, {})
    assert "fromcred" not in str(e.value)
    with pytest.raises(ConfigError, match="cannot read"):
        read_password(MqttConfig(password_file=tmp_path / "missing"))


def test_topics() -> None:
    t = Topics("edgecam", "kiosk1")
    assert t.cmd("shutter") == "edgecam/kiosk1/cmd/shutter" and t.command_of("edgecam/kiosk1/cmd/status") == "status"
    assert t.command_of("edgecam/other/cmd/status") is None
    assert worker_jobs_filter("edgecam", "g") == "$share/g/edgecam/+/jobs/+"
    assert _routing_filter("$share/g/edgecam/+/jobs/+") == "edgecam/+/jobs/+"
    assert parse_job_topic("edgecam", "edgecam/kiosk1/jobs/archive") == ("kiosk1", "archive")
    with pytest.raises(ValueError):
        Topics("edgecam", "a/b")
