"""Wire the cloud side into a running ``App``: the outbox always, the MQTT bridge when enabled.

Why the outbox exists without a broker: with ``mqtt.enabled: false`` (the embedded default) jobs
still queue on disk after every shot and go out once a broker is configured, so enabling the
cloud later loses nothing that was shot before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgecam.cloud.outbox import Outbox, follow_shots

if TYPE_CHECKING:
    from edgecam.app import App


class OutboxService:
    """The outbox as an App service: open on start, follow shot events, close on stop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.outbox: Outbox | None = None
        self._unsub: Any = None

    def start(self) -> None:
        cfg = self.app.cfg
        assert cfg.outbox.path is not None
        self.outbox = Outbox(cfg.outbox.path, cfg.outbox)
        self.app.outbox = self.outbox
        self._unsub = follow_shots(self.outbox, self.app.events, list(cfg.outbox.jobs))

    def stop(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None
            self.app.outbox = None


class BridgeService:
    """The MQTT bridge, built at start so it sees the opened outbox and the app's style book."""

    def __init__(self, app: App, outbox: OutboxService) -> None:
        self.app = app
        self.outbox = outbox
        self.bridge: Any = None

    def start(self) -> None:
        from edgecam.cloud.bridge import MqttBridge

        app = self.app
        store = app.store
        self.bridge = MqttBridge(
            app.cfg.mqtt, app.cfg.device_id, app.dispatcher, app.events,
            outbox=self.outbox.outbox,
            apply_result=lambda job, meta, files: store.attach_result(job.shot_id, job.job_id, job.kind, files, meta),
            style_options=lambda: ["auto", *app.book.names()],
        )
        self.bridge.start()
        self.bridge.publish_state(**app.state())

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None


def wire(app: App) -> None:
    """Add the outbox (always) and the MQTT bridge (if ``mqtt.enabled``) to ``app``'s services."""
    outbox = OutboxService(app)
    app.add_service(outbox)
    if app.cfg.mqtt.enabled:
        if app.cfg.mqtt.allow_commands is not None:
            app.dispatcher.set_allow(app.cfg.mqtt.allow_commands)
        app.add_service(BridgeService(app, outbox))
