"""MqttBridge: the device's MQTT side — commands in, replies/state/events out, cloud jobs out, results in.

Why this shape:
- Commands go through the same :class:`~edgecam.commands.Dispatcher` as GPIO and the CLI, so the
  allow-list, argument validation and idempotency by request id (a QoS 1 redelivery never shoots
  twice) are identical for every trigger. The request id is the MQTT v5 correlation data, or the
  JSON ``id`` field under 3.1.1.
- paho's network thread never runs a command or touches the disk: messages are handed to our own
  threads (bounded queue for commands, so a flood of garbage cannot exhaust memory — overflow is
  answered ``busy``), keeping keep-alives flowing while a shot takes seconds.
- Availability is retained with a last will ``offline`` and re-published on *every* reconnect
  (zigbee2mqtt #4854); retained state and Home Assistant discovery are re-published too, so a broker
  that lost its store is repaired on reconnect.
- Jobs are only published while connected and are driven from the outbox, not paho's memory queue: a
  job is re-sent after its ack timeout until a result arrives, and the result is applied exactly once
  (``Outbox.mark_done`` is conditional; results are handled on one thread).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgecam.cloud.discovery import discovery_messages
from edgecam.cloud.jobs import CodecError, Job, JobTooLarge, Reassembler, pack, split, unpack
from edgecam.cloud.outbox import Outbox
from edgecam.cloud.session import MqttSession
from edgecam.cloud.topics import Topics, ha_status_topic
from edgecam.commands import Dispatcher, Reply
from edgecam.config import MqttConfig
from edgecam.events import Event, EventBus

log = logging.getLogger(__name__)

ApplyResult = Callable[[Job, dict[str, Any], dict[str, bytes]], bool]
PUBLISHED_EVENTS = ("shot", "button", "error", "job", "printer")
_STOP = object()


class _Lane:
    """One daemon-free worker thread fed by a bounded queue; ``stop()`` joins it."""

    def __init__(self, name: str, fn: Callable[[Any], None], maxsize: int = 0) -> None:
        self.name = name
        self._fn = fn
        self._q: queue.Queue[Any] = queue.Queue(maxsize)
        self._t: threading.Thread | None = None

    def start(self) -> None:
        self._t = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._t.start()

    def offer(self, item: Any) -> bool:
        try:
            self._q.put_nowait(item)
            return True
        except queue.Full:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self._t is None:
            return
        self._q.put(_STOP)
        self._t.join(timeout)
        self._t = None

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            try:
                self._fn(item)
            except Exception:
                log.exception("%s: handler failed", self.name)


class MqttBridge:
    """Bridges MQTT ↔ dispatcher/event bus/outbox for one device. ``start()``/``stop()``."""

    def __init__(
        self,
        cfg: MqttConfig,
        device_id: str,
        dispatcher: Dispatcher,
        bus: EventBus | None = None,
        *,
        outbox: Outbox | None = None,
        apply_result: ApplyResult | None = None,
        style_options: Callable[[], list[str]] | None = None,
        client_id: str | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        if outbox is not None and apply_result is None:
            raise ValueError("an outbox needs apply_result to upgrade photos with the results")
        self.cfg = cfg
        self.topics = Topics(cfg.topic_prefix, device_id)
        self.dispatcher = dispatcher
        self.bus = bus
        self.outbox = outbox
        self.apply_result = apply_result
        self.style_options = style_options or (lambda: [])
        self.session = MqttSession(cfg, client_id or cfg.client_id or f"edgecam-{device_id}",
                                   will=(self.topics.availability, b"offline", 1, True), environ=environ)
        self._commands = _Lane(f"mqtt-cmd-{device_id}", self._run_command, maxsize=1024)
        self._results = _Lane(f"mqtt-results-{device_id}", self._handle_result)
        self._sender: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._state: dict[str, Any] = {}
        self._state_lock = threading.Lock()
        self._depth_dirty = threading.Event()
        self._reassembler = Reassembler()
        self._unsub: Callable[[], None] | None = None
        self.stats = {"commands": 0, "busy": 0, "jobs_sent": 0, "results_applied": 0, "results_duplicate": 0,
                      "results_bad": 0}

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self._commands.start()
        self._results.start()
        self.session.on_connect(self._on_connected)
        self.session.subscribe(self.topics.cmd_filter, self._on_command, qos=1)
        if self.cfg.homeassistant.enabled:
            self.session.subscribe(ha_status_topic(self.cfg.homeassistant.prefix), self._on_ha_status, qos=1)
        if self.outbox is not None:
            self.session.subscribe(self.topics.results_filter, self._on_result, qos=1)
            self.outbox.on_change(self._on_outbox_change)
            self._depth_dirty.set()
            self._sender = threading.Thread(target=self._send_loop, name="mqtt-outbox-sender", daemon=True)
            self._sender.start()
        if self.bus is not None:
            self._unsub = self.bus.subscribe(self._on_event)
        self.session.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Say ``offline`` (retained), drain our threads, disconnect cleanly, join paho's thread."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        self._stopping.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout)
            self._sender = None
        self._commands.stop(timeout)
        self._results.stop(timeout)
        if self.session.connected:
            self.session.publish_wait(self.topics.availability, b"offline", qos=1, retain=True, timeout=2.0)
        self.session.stop()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.session.wait_connected(timeout)

    # --- state and events ------------------------------------------------------------------------
    def publish_state(self, **values: Any) -> None:
        """Retained ``state/<key>`` (JSON); remembered and re-published after every reconnect."""
        with self._state_lock:
            self._state.update(values)
        for key, value in values.items():
            self.session.publish(self.topics.state(key), json.dumps(value, default=str), qos=1, retain=True)

    def _on_event(self, ev: Event) -> None:
        if ev.kind == "state":
            self.publish_state(**ev.data)
        elif ev.kind in PUBLISHED_EVENTS:
            body = dict(ev.data, ts=ev.ts)
            self.session.publish(self.topics.event(ev.kind), json.dumps(body, default=str), qos=1)
            if ev.kind == "shot":
                st: dict[str, Any] = {}
                if "scene" in ev.data:
                    st["last_scene"] = ev.data["scene"]
                total = (ev.data.get("timings_ms") or {}).get("total")
                if isinstance(total, (int, float)):
                    st["last_latency_ms"] = total
                if st:
                    self.publish_state(**st)

    def _on_connected(self, _session_present: bool) -> None:
        """Runs on paho's thread after every (re)connect: announce ourselves again."""
        self.session.publish(self.topics.availability, b"online", qos=1, retain=True)
        with self._state_lock:
            state = dict(self._state)
        for key, value in state.items():
            self.session.publish(self.topics.state(key), json.dumps(value, default=str), qos=1, retain=True)
        if self.cfg.homeassistant.enabled:
            self.publish_discovery()
        self._depth_dirty.set()
        self._wake.set()

    def publish_discovery(self) -> None:
        try:
            options = list(self.style_options())
        except Exception:
            log.exception("style_options() failed; discovery without style options")
            options = []
        for topic, payload in discovery_messages(self.topics, self.cfg.homeassistant.prefix, options):
            self.session.publish(topic, payload, qos=1, retain=True)

    def _on_ha_status(self, msg: mqtt.MQTTMessage) -> None:
        if msg.payload.strip().lower() == b"online":
            self.publish_discovery()

    # --- commands --------------------------------------------------------------------------------
    def _on_command(self, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        item = (msg.topic, bytes(msg.payload), response_topic, correlation)
        if not self._commands.offer(item):
            self.stats["busy"] += 1
            name = self.topics.command_of(msg.topic) or "?"
            reply = Reply(ok=False, command=name, error={"code": "busy", "message": "command queue is full"})
            self._reply(name, reply, response_topic, correlation)

    def _run_command(self, item: tuple[str, bytes, str | None, bytes | None]) -> None:
        topic, payload, response_topic, correlation = item
        name = self.topics.command_of(topic)
        if name is None:
            return
        self.stats["commands"] += 1
        request_id = None
        if correlation:
            try:
                request_id = bytes(correlation).decode("utf-8")
            except UnicodeDecodeError:
                request_id = bytes(correlation).hex()
        reply = self.dispatcher.dispatch_json(name, payload, source="mqtt", max_bytes=self.cfg.max_payload_bytes,
                                              request_id=request_id)
        self._reply(name, reply, response_topic, correlation)

    def _reply(self, name: str, reply: Reply, response_topic: str | None, correlation: bytes | None) -> None:
        if response_topic and not any(c in response_topic for c in "+#"):
            self.session.publish(response_topic, reply.to_json(), qos=1,
                                 properties=self.session.reply_properties(correlation))
        else:
            safe = name if name and not any(c in name for c in "/+#\0") else "_invalid"
            self.session.publish(self.topics.reply(safe), reply.to_json(), qos=1,
                                 properties=self.session.reply_properties(correlation) if self.session.v5 else None)

    # --- outbox: sending -------------------------------------------------------------------------
    def _on_outbox_change(self) -> None:
        self._depth_dirty.set()
        self._wake.set()

    def _send_loop(self) -> None:
        assert self.outbox is not None
        while not self._stopping.is_set():
            if self._depth_dirty.is_set() and self.session.connected:
                self._depth_dirty.clear()
                self.publish_state(outbox_depth=self.outbox.depth())
            sent = 0
            if self.session.connected:
                self.outbox.expire()
                for job in self.outbox.due(self.outbox.cfg.send_batch):
                    if self._stopping.is_set() or not self.session.connected:
                        break
                    self._send(job)
                    sent += 1
            if sent:
                continue
            nxt = self.outbox.next_due_in()
            self._wake.wait(1.0 if nxt is None else min(1.0, max(0.02, nxt)))
            self._wake.clear()

    def encode_job(self, job: Job) -> bytes:
        files: dict[str, bytes] = {}
        total = 0
        for name, path in job.files.items():
            size = Path(path).stat().st_size
            total += size
            if total > self.outbox.cfg.max_job_bytes:  # type: ignore[union-attr]
                raise JobTooLarge(f"job {job.job_id}: files exceed outbox.max_job_bytes "
                                  f"({self.outbox.cfg.max_job_bytes} bytes)")  # type: ignore[union-attr]
            files[name] = Path(path).read_bytes()
        header = {"type": "job", "job_id": job.job_id, "kind": job.kind, "device_id": self.topics.device_id,
                  "shot_id": job.shot_id, "meta": job.meta, "reply_to": self.topics.results(job.job_id)}
        return pack(header, files)

    def _send(self, job: Job) -> None:
        assert self.outbox is not None
        try:
            frame = self.encode_job(job)
        except (OSError, JobTooLarge) as e:
            msg = f"{type(e).__name__}: {e}"
            log.error("cloud job %s refused: %s", job.job_id, msg)
            self.outbox.mark_error(job.job_id, msg, retry=False)
            return
        topic = self.topics.jobs(job.kind)
        if len(frame) <= self.cfg.max_packet_bytes:
            self.session.publish(topic, frame, qos=1)
        else:
            # claim check: shared subscriptions hand each message to a different worker, so the
            # parts go to retained per-job topics that the worker holding the manifest fetches
            chunks = split(frame, job.job_id, self.cfg.max_packet_bytes)
            for seq, chunk in enumerate(chunks):
                self.session.publish(self.topics.chunk(job.job_id, seq), chunk, qos=1, retain=True)
            ref = {"type": "job_ref", "job_id": job.job_id, "kind": job.kind, "device_id": self.topics.device_id,
                   "chunks": len(chunks), "reply_to": self.topics.results(job.job_id)}
            self.session.publish(topic, pack(ref), qos=1)
        self.outbox.mark_sent(job.job_id)
        self.stats["jobs_sent"] += 1
        if self.bus is not None:
            self.bus.publish("job", job_id=job.job_id, kind=job.kind, shot_id=job.shot_id, state="sent",
                             attempt=job.attempts + 1)

    # --- outbox: results ---------------------------------------------------------------------------
    def _on_result(self, msg: mqtt.MQTTMessage) -> None:
        self._results.offer((msg.topic, bytes(msg.payload)))

    def _handle_result(self, item: tuple[str, bytes]) -> None:
        assert self.outbox is not None and self.apply_result is not None
        topic, payload = item
        job_id = topic.rsplit("/", 1)[-1]
        try:
            header, files = unpack(payload)
            if header.get("type") == "chunk":
                if header.get("job_id") != job_id:
                    raise CodecError("chunk job id does not match its topic")
                blob = self._reassembler.add(header, files)
                if blob is None:
                    return
                header, files = unpack(blob)
            if header.get("type") != "result" or header.get("job_id") != job_id:
                raise CodecError("not a result for this topic's job")
        except CodecError as e:
            self.stats["results_bad"] += 1
            log.warning("bad result on %s: %s", topic, e)
            return
        job = self.outbox.get(job_id)
        if job is None or job.state == "done":
            self.stats["results_duplicate"] += 1
            return
        meta = header.get("meta") if isinstance(header.get("meta"), dict) else {}
        if not header.get("ok"):
            err = str(header.get("error") or "worker failed")
            after = self.outbox.mark_error(job_id, f"worker: {err}", retry=bool(header.get("retryable")))
            self._job_event(job, "failed", error=err)
            if after is not None and after.state == "failed":
                # not re-sent unless an operator retries it (which publishes the parts again)
                self._clear_chunks(job_id, header.get("chunks"))
            return
        try:
            self.apply_result(job, meta, files)
        except Exception as e:  # the store could not take it (disk full…): try again later
            log.exception("applying result of %s failed", job_id)
            self.outbox.mark_error(job_id, f"apply: {type(e).__name__}: {e}", retry=True)
            return
        if self.outbox.mark_done(job_id, meta):
            self.stats["results_applied"] += 1
            self._job_event(job, "done")
        self._clear_chunks(job_id, header.get("chunks"))

    def _clear_chunks(self, job_id: str, chunks: Any) -> None:
        """Delete the retained parts of a chunked job (an empty retained publish clears a topic)."""
        if isinstance(chunks, int) and 0 < chunks <= 100000:
            for seq in range(chunks):
                self.session.publish(self.topics.chunk(job_id, seq), b"", qos=1, retain=True)

    def _job_event(self, job: Job, state: str, **extra: Any) -> None:
        if self.bus is not None:
            self.bus.publish("job", job_id=job.job_id, kind=job.kind, shot_id=job.shot_id, state=state, **extra)
