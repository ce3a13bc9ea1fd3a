"""The daemon end to end: replay camera → dispatcher → pipeline → store, on the real models."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import cv2
import pytest

from edgecam.app import App
from edgecam.config import Config
from edgecam.events import Event


@pytest.fixture
def app(cfg: Config):
    cfg.printer.kind = "file"
    cfg.printer.spool_dir = cfg.output.dir.parent / "spool"
    a = App(cfg)
    events: list[Event] = []
    a.events.subscribe(events.append)
    a.start()
    a.test_events = events  # type: ignore[attr-defined]
    yield a
    a.stop()


def test_shutter_produces_a_complete_styled_shot(app: App) -> None:
    r = app.dispatcher.dispatch("shutter", {}, source="test")
    assert r.ok, r.error
    res = r.result
    styled = cv2.imread(res["styled"])
    assert styled is not None and styled.shape[0] > 500
    assert cv2.imread(res["original"]) is not None
    side = json.loads(Path(res["styled"]).with_suffix(".json").read_text())
    assert side["scene"]["label"] == res["scene"] and side["scene"]["reasons"]
    assert set(side["timings_ms"]) >= {"faces", "scene", "crop", "matte", "render"}
    assert all(len(m["sha256"]) == 64 for m in side["models"].values())
    for stage in ("faces", "scene", "crop", "matte", "render", "save", "total"):
        assert res["timings_ms"][stage] >= 0
    assert any(e.kind == "shot" and e.data["shot_id"] == res["shot_id"] for e in app.test_events)  # type: ignore
    assert app.store.get(res["shot_id"]) is not None


def test_style_commands_pause_resume_and_reprint(app: App) -> None:
    assert not app.dispatcher.dispatch("set_style", {"style": "no-such"}).ok
    assert app.dispatcher.dispatch("set_style", {"style": "noir"}).ok
    r = app.dispatcher.dispatch("shutter", {"copies": 2})
    assert r.ok and r.result["style"] == "noir" and len(r.result.get("print_jobs", [])) == 2, r.result
    assert app.dispatcher.dispatch("pause").ok
    r = app.dispatcher.dispatch("shutter")
    assert not r.ok and "paused" in r.error["message"]  # type: ignore[index]
    assert app.dispatcher.dispatch("resume").ok
    r = app.dispatcher.dispatch("reprint", {"copies": 1})
    assert r.ok and len(r.result["print_jobs"]) == 1
    st = app.dispatcher.dispatch("status").result
    assert st["mode"] == "ready" and st["shots"] == 1 and "noir" in st["styles"]


def test_redelivered_shutter_shoots_once(app: App) -> None:
    a = app.dispatcher.dispatch("shutter", {}, request_id="req-1")
    b = app.dispatcher.dispatch("shutter", {}, request_id="req-1")
    assert a.ok and b.duplicate and b.result["shot_id"] == a.result["shot_id"]
    assert app.store.count() == 1


def test_unknown_style_in_shutter_is_an_error_reply_and_daemon_keeps_running(app: App) -> None:
    r = app.dispatcher.dispatch("shutter", {"style": "psychedelic"})
    assert not r.ok and r.error["code"] == "UnknownStyleError" and "known styles" in r.error["message"]  # type: ignore
    assert app.dispatcher.dispatch("shutter").ok


def test_unwritable_output_fails_at_start(cfg: Config, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    cfg.output.dir = tmp_path / "blocker" / "photos"
    from edgecam.errors import StorageError

    with pytest.raises(StorageError, match="not writable"):
        App(cfg).start()


def test_sd_notify_ready_and_stopping(cfg: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock_path = tmp_path / "notify.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(str(sock_path))
    srv.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    a = App(cfg)
    a.start()
    a.stop()
    msgs = []
    try:
        while True:
            msgs.append(srv.recv(4096).decode())
    except TimeoutError:
        pass
    finally:
        srv.close()
    assert any("READY=1" in m for m in msgs) and any("STOPPING=1" in m for m in msgs)


@pytest.mark.parametrize("on_device", [False, True])
def test_product_cutout_on_device_or_offloaded(cfg: Config, samples: Path, on_device: bool) -> None:
    from edgecam.camera.replay import load_photo
    from edgecam.vision.types import SceneResult

    cfg.vision.product_cutout_on_device = on_device
    with App(cfg, use_camera=False) as a:
        product = SceneResult("product", {"product": 1.0}, ["forced for the test"])
        a.vision.classify_scene = lambda rgb, faces: product  # type: ignore[method-assign]
        r = a.shoot_frame(load_photo(samples / "coffee.jpg"), "studio")
    assert r.applied["matte"] == ("product" if on_device else "product:offloaded")


def test_reload_config_applies_styles_and_printer(cfg: Config, tmp_path: Path) -> None:
    f = tmp_path / "kiosk.yaml"
    f.write_text(f"output: {{dir: {cfg.output.dir}, min_free_mb: 0}}\ncamera: {{fps: 50}}\n")
    from edgecam.config import load_config

    a = App(load_config(f, environ={}), f)
    with a:
        assert not a.dispatcher.dispatch("reprint").ok  # no printer yet
        assert a.dispatcher.dispatch("shutter").ok
        f.write_text(f.read_text() + f"printer: {{kind: file, spool_dir: {tmp_path / 'spool'}}}\n"
                     "styles: {default: noir}\n")
        r = a.dispatcher.dispatch("reload_config")
        assert r.ok and "styles" in r.result["reloaded"]
        assert a.dispatcher.dispatch("reprint").ok and len(list((tmp_path / "spool").iterdir())) == 1
        assert a.dispatcher.dispatch("shutter").result["style"] == "noir"
        f.write_text("camera: {kind: webcam}\n")
        bad = a.dispatcher.dispatch("reload_config")
        assert not bad.ok and "camera.kind" in bad.error["message"]  # type: ignore[index]
        assert a.dispatcher.dispatch("status").result["mode"] == "ready"


def test_pi_kiosk_models_on_litert_take_a_shot(cfg: Config, samples: Path) -> None:
    """The Pi 5 example runs face detection and segmentation on LiteRT: the same shot works there."""
    from edgecam.camera.replay import load_photo
    from edgecam.config import load_config

    pi = load_config(Path(__file__).resolve().parent.parent / "configs" / "pi5-camera-module.yaml", environ={})
    cfg.models = pi.models
    with App(cfg, use_camera=False) as a:
        used = a.vision.models_used()
        assert used[pi.models.face_detection.name]["runtime"] == "tflite"
        r = a.shoot_frame(load_photo(samples / "grace_hopper.jpg"), "portrait_soft")
    assert len(r.scene.faces) == 1 and r.applied["matte"] == "portrait"


def test_frame_already_at_print_size_keeps_its_colours(cfg: Config) -> None:
    """The archive encoder swaps the frame's channels in place while the card renders; a frame
    whose crop is the print area itself must not be rendered from those swapped pixels."""
    import numpy as np

    from edgecam.camera.base import Frame

    with App(cfg, use_camera=False) as a:
        w, h = a.renderer.area_size("classic")
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[:, :, 0] = 230  # red
        for _ in range(3):
            r = a.shoot_frame(Frame(rgb, 0, 0.0, "test"), "classic")
            card = cv2.imread(str(r.saved.styled))
            cy, cx = card.shape[0] // 3, card.shape[1] // 2
            b, g, red = card[cy, cx].astype(int)
            assert red > 150 and b < 90, card[cy, cx]
        assert rgb[:, :, 0].min() == 230 and rgb[:, :, 2].max() == 0  # restored after encoding


def test_set_style_auto_chooses_by_scene_even_when_the_config_default_is_fixed(cfg: Config, samples: Path) -> None:
    from edgecam.camera.replay import load_photo

    cfg.styles.default = "noir"
    with App(cfg, use_camera=False) as a:
        assert a.shoot_frame(load_photo(samples / "chelsea.jpg")).style == "noir"
        assert a.dispatcher.dispatch("set_style", {"style": "auto"}).ok
        r = a.shoot_frame(load_photo(samples / "chelsea.jpg"))
        assert r.style == a.book.for_scene(r.scene.label) and r.style != "noir"
