from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgecam.config import Config, dump_config, load_config
from edgecam.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["default.yaml", "pi5-camera-module.yaml", "jetson-csi.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    cfg = load_config(REPO / "configs" / name, environ={})
    assert isinstance(cfg, Config)


def test_unknown_key_names_file_path_and_allowed(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("camera:\n  kind: replay\n  fsp: 5\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, environ={})
    msg = str(e.value)
    assert str(f) in msg and "camera.fsp" in msg and "allowed here:" in msg and "fps" in msg


def test_bad_value_names_key_and_allowed_values(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("camera:\n  kind: webcam\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, environ={})
    assert "camera.kind" in str(e.value) and "'replay'" in str(e.value) and "webcam" in str(e.value)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("camera:\n  kind: [replay\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(f, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_env_overrides_are_typed_and_validated(tmp_path: Path) -> None:
    cfg = load_config(REPO / "configs" / "default.yaml",
                      environ={"EDGECAM_CAMERA__FPS": "12", "EDGECAM_MQTT__ENABLED": "true"})
    assert cfg.camera.fps == 12.0 and cfg.mqtt.enabled is True
    with pytest.raises(ConfigError, match=r"camera\.fps \[set by EDGECAM_CAMERA__FPS\]"):
        load_config(REPO / "configs" / "default.yaml", environ={"EDGECAM_CAMERA__FPS": "-3"})


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    f = tmp_path / "sub" / "c.yaml"
    f.parent.mkdir()
    f.write_text("output:\n  dir: photos\n")
    cfg = load_config(f, environ={})
    assert cfg.output.dir == tmp_path / "sub" / "photos"
    assert cfg.outbox.path == tmp_path / "sub" / "photos" / "outbox.sqlite"


def test_password_cannot_be_inline(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("mqtt:\n  password: hunter2\n")
    with pytest.raises(ConfigError, match="mqtt.password"):
        load_config(f, environ={})


def test_dump_round_trips() -> None:
    cfg = load_config(REPO / "configs" / "default.yaml", environ={})
    assert "camera:" in dump_config(cfg)


def test_config_check_cli_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("output:\n  jpeg_quality: 7\n")
    r = subprocess.run([sys.executable, "-m", "edgecam.cli", "config", "check", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "output.jpeg_quality" in r.stderr and str(bad) in r.stderr
    r = subprocess.run([sys.executable, "-m", "edgecam.cli", "config", "check", str(REPO / "configs/default.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "device_id: kiosk" in r.stdout


def test_style_background_image_is_relative_to_the_config(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("styles:\n  presets:\n    beach:\n      background: {mode: image, image: bg/beach.jpg}\n")
    cfg = load_config(f, environ={})
    assert cfg.styles.presets["beach"].background.image == tmp_path / "bg" / "beach.jpg"


def test_cli_override_is_validated_and_moves_the_default_outbox(tmp_path: Path) -> None:
    from edgecam.config import apply_override

    cfg = load_config(REPO / "configs" / "default.yaml", environ={})
    moved = apply_override(cfg, f"output.dir={tmp_path}")
    assert moved.output.dir == tmp_path and moved.outbox.path == tmp_path / "outbox.sqlite"
    assert apply_override(cfg, "camera.fps=9").camera.fps == 9
    with pytest.raises(ConfigError, match="camera.fps"):
        apply_override(cfg, "camera.fps=-1")
    with pytest.raises(ConfigError, match="no section"):
        apply_override(cfg, "nope.x=1")
    with pytest.raises(ConfigError, match="KEY.PATH=VALUE"):
        apply_override(cfg, "camera.fps")
