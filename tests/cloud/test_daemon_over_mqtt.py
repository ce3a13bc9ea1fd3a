"""The real daemon (App: replay camera, real models, store) driven over a real mosquitto, with real
workers running the vision jobs: shutter → reply + event/shot → jobs → results upgrade the photo."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from cloudkit import Broker, mqtt_cfg, wait_until, worker_cfg

from edgecam.app import App
from edgecam.cloud.wiring import wire
from edgecam.cloud.worker import Worker, default_handlers
from edgecam.config import Config
from edgecam.vision.stack import VisionStack

pytestmark = pytest.mark.timeout(180)


def test_mqtt_shutter_shoots_once_and_cloud_results_upgrade_the_photo(
        broker: Broker, client_factory, cfg: Config, tmp_path: Path, samples: Path) -> None:
    portraits = tmp_path / "portraits"  # a camera that always sees a person: every job has work to do
    portraits.mkdir()
    (portraits / "grace_hopper.jpg").write_bytes((samples / "grace_hopper.jpg").read_bytes())
    cfg.camera.source = str(portraits)
    cfg.mqtt = mqtt_cfg(broker)
    cfg.device_id = "booth7"
    cfg.outbox.jobs = ["archive", "product_cutout", "matte_refine"]
    cfg.outbox.retry_min_s = 0.2
    app = App(cfg)
    wire(app)
    stack = VisionStack(cfg.models, cfg.vision)
    stack.start()
    w = Worker(mqtt_cfg(broker), worker_cfg(tmp_path / "worker"), default_handlers(worker_cfg(tmp_path / "worker"),
                                                                                    stack), client_id="w1")
    w.start()
    app.start()
    try:
        c = client_factory()
        c.sub("edgecam/booth7/event/#")
        c.sub("edgecam/booth7/state/#")
        c.sub("edgecam/booth7/availability")
        c.sub("test/#")
        c.wait_for(lambda m: m.topic == "edgecam/booth7/availability" and m.payload == b"online", timeout=20)
        reply = c.request_v5("edgecam/booth7/cmd/shutter", json.dumps({"style": "studio"}), "req-42",
                             "test/replies", timeout=60)
        assert reply["ok"], reply
        shot_id = reply["result"]["shot_id"]
        again = c.request_v5("edgecam/booth7/cmd/shutter", json.dumps({"style": "studio"}), "req-42",
                             "test/replies2", timeout=30)
        assert again["duplicate"] and again["result"]["shot_id"] == shot_id
        assert app.store.count() == 1

        ev = c.wait_for(lambda m: m.topic == "edgecam/booth7/event/shot", timeout=10)
        assert json.loads(ev.payload)["shot_id"] == shot_id

        def upgraded() -> list:
            row = app.store.get(shot_id)
            return row["upgraded"] if row else []

        assert wait_until(lambda: len(upgraded()) == 3, timeout=90), app.outbox.counts()
        kinds = sorted(u["kind"] for u in upgraded())
        assert kinds == ["archive", "matte_refine", "product_cutout"]
        folder = Path(app.store.get(shot_id)["styled"]).parent
        original = cv2.imread(str(folder / f"{shot_id}_original.jpg"))
        for kind in ("product_cutout", "matte_refine"):
            up = next(u for u in upgraded() if u["kind"] == kind)
            rgba = cv2.imread(str(folder / next(iter(up["files"].values()))), cv2.IMREAD_UNCHANGED)
            assert rgba is not None and rgba.shape[2] == 4 and rgba.shape[:2] == original.shape[:2]
            assert 0 < (rgba[:, :, 3] > 127).mean() < 1, kind  # a real cut-out: part subject, part background
        assert app.outbox.depth() == 0
    finally:
        app.stop()
        w.stop()
        stack.close()


def test_matte_refine_without_a_person_is_a_result_not_a_failure(cfg: Config, samples: Path) -> None:
    from edgecam.cloud.worker import WorkerJob, vision_handlers

    stack = VisionStack(cfg.models, cfg.vision)
    stack.start()
    try:
        handlers = vision_handlers(stack)
        job = WorkerJob("j1", "matte_refine", "booth7", "s1", {}, {"original": (samples / "coffee.jpg").read_bytes()})
        out = handlers["matte_refine"](job)
    finally:
        stack.close()
    assert out.meta["faces"] == 0 and out.files == {}
