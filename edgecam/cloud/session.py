"""One MQTT session (paho-mqtt 2.x): protocol, TLS, credentials, persistent session, reconnect.

Why a wrapper: the bridge and the cloud worker need the same things from a connection — MQTT v5 with a
3.1.1 fallback, a *persistent* session (``clean_start=False`` + SessionExpiryInterval, so QoS 1
messages for us are kept by the broker while we are away), reconnect with capped exponential backoff,
and subscriptions that are re-made on every reconnect (in case the broker lost the session). With
``protocol: auto`` a broker that does not take the v5 CONNECT (CONNACK 0x84 / return code 1, or no
CONNACK at all: amqtt misreads the v5 properties as the client id length and waits for bytes that never
come, until paho's keep-alive closes the socket) gets a rebuilt 3.1.1 client, once, before the first
successful connection. paho's own quirks are hidden here: a QoS 1 publish while disconnected returns
rc=4 but *is* queued and sent after reconnect, and ``MQTTMessageInfo.is_published()`` may raise, so
delivery is tracked via ``on_publish``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgecam.config import MqttConfig
from edgecam.errors import ConfigError

log = logging.getLogger(__name__)

MessageHandler = Callable[[mqtt.MQTTMessage], None]
ConnectHook = Callable[[bool], None]  # (session_present) -> None
_UNSUPPORTED_PROTOCOL = 0x84


def read_password(cfg: MqttConfig, environ: dict[str, str] | None = None) -> str | None:
    """The broker password from ``password_file`` or ``credential:NAME`` ($CREDENTIALS_DIRECTORY/NAME).

    Never from YAML and never logged: a config file is often shared or pasted into a bug report.
    """
    if cfg.password_file is None:
        return None
    env = os.environ if environ is None else environ
    spec = str(cfg.password_file)
    if spec.startswith("credential:"):
        name = spec[len("credential:"):]
        creds = env.get("CREDENTIALS_DIRECTORY")
        if not creds or not name or "/" in name:
            raise ConfigError(f"mqtt.password_file: {spec}: $CREDENTIALS_DIRECTORY is not set or the name is invalid"
                              " (use LoadCredential= in the systemd unit)")
        path = Path(creds) / name
    else:
        path = Path(spec)
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as e:
        raise ConfigError(f"mqtt.password_file: cannot read {path}: {e.strerror}") from None


def _no_delay(client: mqtt.Client) -> None:
    """Disable Nagle: paho leaves it on, and small replies then wait ~40 ms for a delayed ACK (measured:
    a loopback command round trip drops from ~88 ms to ~1 ms)."""
    sock = client.socket()
    try:
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def _routing_filter(topic_filter: str) -> str:
    """Messages of a shared subscription arrive under the plain topic: route on the filter without
    ``$share/<group>/``."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        return parts[2] if len(parts) == 3 else topic_filter
    return topic_filter


class MqttSession:
    """A paho client with our session policy. ``start()`` connects in the background; ``stop()`` joins."""

    def __init__(self, cfg: MqttConfig, client_id: str, *, will: tuple[str, bytes, int, bool] | None = None,
                 environ: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.client_id = client_id
        # "auto" starts with v5; the protocol is fixed by the first CONNACK that is not "Unsupported protocol
        # version" (the broker parsed our CONNECT), so a later reconnect never changes it
        self.v5 = cfg.protocol != "3.1.1"
        self._protocol_fixed = cfg.protocol != "auto"
        self._falling_back = False
        self._will = will
        self._password = read_password(cfg, environ) if cfg.username else None
        self._subs: dict[str, int] = {}
        self._routes: dict[str, Callable[[Any, Any, mqtt.MQTTMessage], None]] = {}
        self._hooks: list[ConnectHook] = []
        self._published: dict[int, threading.Event] = {}
        self._acked: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()
        self._swap_lock = threading.Lock()  # start/stop vs. the 3.1.1 rebuild
        self._connected = threading.Event()
        self._ready = threading.Event()  # connected AND our subscriptions acknowledged
        self._sub_mid: int | None = None
        self._started = False
        self.connects = 0
        self._client = self._make_client(self.v5)

    def _make_client(self, v5: bool) -> mqtt.Client:
        """A paho client with every setting of this session (the 3.1.1 fallback builds a second one)."""
        cfg = self.cfg
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
        )
        client.reconnect_delay_set(max(1, round(cfg.reconnect_min_s)), max(1, round(cfg.reconnect_max_s)))
        client.max_queued_messages_set(0)  # unlimited: the outbox bounds what we queue
        if cfg.username:
            client.username_pw_set(cfg.username, self._password)
        if cfg.tls:
            client.tls_set(
                ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
                certfile=str(cfg.cert_file) if cfg.cert_file else None,
                keyfile=str(cfg.key_file) if cfg.key_file else None,
            )
        if self._will is not None:
            topic, payload, qos, retain = self._will
            client.will_set(topic, payload, qos=qos, retain=retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_unrouted
        return client

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        with self._swap_lock:
            self._started = True
            self._connect(self._client, self.v5)

    def _connect(self, client: mqtt.Client, v5: bool) -> None:
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.cfg.session_expiry_s
            client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s, clean_start=False,
                                 properties=props)
        else:
            client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s)
        client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly (no last will) and join paho's network thread."""
        with self._swap_lock:
            if not self._started:
                return
            self._started = False
            self._connected.clear()  # a deliberate disconnect is not worth a warning
            self._ready.clear()
            try:
                self._client.disconnect()
            finally:
                self._client.loop_stop()
                self._connected.clear()

    # --- protocol fallback (protocol: auto) ------------------------------------------------------
    def _fall_back(self, why: str) -> None:
        """The broker did not take our v5 CONNECT: rebuild the client for 3.1.1 on a helper thread
        (called on paho's thread, which ``loop_stop()`` joins — doing it here would deadlock)."""
        with self._lock:
            if self._falling_back or self._protocol_fixed or not self.v5:
                return
            self._falling_back = True
        threading.Thread(target=self._rebuild_311, args=(why,), name="mqtt-fallback", daemon=True).start()

    def _rebuild_311(self, why: str) -> None:
        with self._swap_lock:
            if not self._started:
                return
            log.info("MQTT broker %s:%s did not accept MQTT v5 (%s): falling back to MQTT 3.1.1"
                     " (set mqtt.protocol to skip the v5 attempt)", self.cfg.host, self.cfg.port, why)
            old = self._client
            try:
                old.disconnect()
            finally:
                old.loop_stop()
            new = self._make_client(v5=False)
            with self._lock:
                routes = dict(self._routes)
                self._client = new
                self.v5 = False
                self._protocol_fixed = True  # 3.1.1 from now on, across reconnects
            for flt, cb in routes.items():
                new.message_callback_add(flt, cb)
            self._connect(new, False)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected and the broker acknowledged our subscriptions (nothing sent to us is lost)."""
        return self._ready.wait(timeout)

    # --- subscriptions and hooks -----------------------------------------------------------------
    def on_connect(self, hook: ConnectHook) -> None:
        """Run ``hook(session_present)`` after every (re)connect, on paho's thread: keep it short."""
        self._hooks.append(hook)

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1) -> None:
        """Route messages matching ``topic_filter`` to ``handler`` and keep the subscription across reconnects."""
        flt = _routing_filter(topic_filter)

        def route(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
            handler(msg)

        with self._lock:
            self._subs[topic_filter] = qos
            self._routes[flt] = route
            client = self._client
        client.message_callback_add(flt, route)
        if self.connected:
            client.subscribe(topic_filter, qos)

    def unsubscribe(self, topic_filter: str) -> None:
        flt = _routing_filter(topic_filter)
        with self._lock:
            self._subs.pop(topic_filter, None)
            self._routes.pop(flt, None)
            client = self._client
        client.message_callback_remove(flt)
        if self.connected:
            client.unsubscribe(topic_filter)

    # --- publishing --------------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
                properties: Properties | None = None) -> int | None:
        """Publish (queued by paho when offline, for QoS ≥ 1). Returns the message id, or None if refused."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish to %s refused: %s", topic, mqtt.error_string(info.rc))
            return None
        return info.mid

    def publish_wait(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
                     timeout: float = 5.0) -> bool:
        """Publish and wait for the broker's acknowledgement (tracked via on_publish, not is_published).

        paho calls on_publish while holding its own mutex, which publish() also takes, so our lock is
        never held across ``publish()``; an acknowledgement that beats the registration lands in
        ``_acked`` instead.
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            return False
        if qos == 0:
            return info.rc == mqtt.MQTT_ERR_SUCCESS
        ev = threading.Event()
        with self._lock:
            if info.mid in self._acked:
                del self._acked[info.mid]
                return True
            self._published[info.mid] = ev
        ok = ev.wait(timeout)
        with self._lock:
            self._published.pop(info.mid, None)
        return ok

    @staticmethod
    def reply_properties(correlation: bytes | None) -> Properties | None:
        if correlation is None:
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = correlation
        return props

    # --- paho callbacks (network thread) ---------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if client is not self._client:
            return
        if reason.is_failure and self.v5 and not self._protocol_fixed and reason.value == _UNSUPPORTED_PROTOCOL:
            # 0x84, or a 3.1.1 broker's return code 1, which paho reports as the same reason
            self._fall_back(f"CONNACK: {reason}")
            return
        self._protocol_fixed = True  # the broker parsed our CONNECT: it speaks this protocol
        if reason.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.cfg.host, self.cfg.port, reason)
            return
        self.connects += 1
        _no_delay(client)
        with self._lock:
            subs = list(self._subs.items())
        if subs:
            self._sub_mid = client.subscribe(subs)[1]
        else:
            self._ready.set()
        session_present = bool(getattr(flags, "session_present", False))
        log.info("MQTT connected to %s:%s as %s (session present: %s)", self.cfg.host, self.cfg.port,
                 self.client_id, session_present)
        self._connected.set()
        for hook in list(self._hooks):
            try:
                hook(session_present)
            except Exception:
                log.exception("MQTT on-connect hook failed")

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if client is not self._client:
            return
        if self.v5 and not self._protocol_fixed and self._started:
            # closed (or timed out by paho's keep-alive) after our v5 CONNECT without any CONNACK: a
            # 3.1.1-only broker that could not parse it; a refused TCP connection never gets here
            self._fall_back(f"no CONNACK, {reason}")
        if self._connected.is_set():
            log.warning("MQTT disconnected: %s (reconnecting with backoff)", reason)
        self._connected.clear()
        self._ready.clear()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _p: Any) -> None:
        if mid == self._sub_mid:
            self._ready.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        with self._lock:
            ev = self._published.get(mid)
            if ev is None:
                self._acked[mid] = None
                while len(self._acked) > 1024:
                    self._acked.popitem(last=False)
        if ev is not None:
            ev.set()

    def _on_unrouted(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        log.debug("MQTT message on %s matched no handler", msg.topic)
