"""TLS and username/password against a real mosquitto with its own CA, and a wrong password."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from cloudkit import Broker, make_dispatcher, mqtt_cfg

from edgecam.cloud.bridge import MqttBridge

pytestmark = pytest.mark.timeout(90)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def secure_broker(tmp_path: Path):
    d = tmp_path / "tls"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edgecam test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
            "-out", "server.csr", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=d)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "kiosk", "s3cret-pw"], check=True,
                   capture_output=True, timeout=30)
    b = Broker(tmp_path / "broker")
    conf = b.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
    conf += (f"password_file {d / 'passwd'}\ncafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\n"
             f"keyfile {d / 'server.key'}\n")
    b.conf.write_text(conf)
    b.start()
    yield b, d
    b.stop()


def test_tls_with_password_from_file_and_from_systemd_credential(secure_broker, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    broker, d = secure_broker
    (tmp_path / "pw").write_text("s3cret-pw\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("s3cret-pw")
    caplog.set_level(logging.DEBUG)
    for password_file, environ in ((tmp_path / "pw", {}), ("credential:mqtt-password",
                                                           {"CREDENTIALS_DIRECTORY": str(creds)})):
        cfg = mqtt_cfg(broker, tls=True, ca_file=d / "ca.pem", username="kiosk", password_file=password_file)
        dispatcher, _ = make_dispatcher(tmp_path / f"disp{len(str(password_file))}")
        bridge = MqttBridge(cfg, "secure1", dispatcher, environ=environ)
        bridge.start()
        try:
            assert bridge.wait_connected(15)
        finally:
            bridge.stop()
    assert "s3cret-pw" not in caplog.text


def test_wrong_password_is_refused_and_retried_without_crashing(secure_broker, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    broker, d = secure_broker
    (tmp_path / "pw").write_text("wrong-pw")
    cfg = mqtt_cfg(broker, tls=True, ca_file=d / "ca.pem", username="kiosk", password_file=tmp_path / "pw")
    dispatcher, _ = make_dispatcher(tmp_path / "disp")
    caplog.set_level(logging.DEBUG)
    bridge = MqttBridge(cfg, "secure2", dispatcher)
    bridge.start()
    try:
        assert not bridge.wait_connected(4)
    finally:
        bridge.stop()
    assert "wrong-pw" not in caplog.text
