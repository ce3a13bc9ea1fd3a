"""A physical shutter button on a GPIO pin (gpiozero), debounced in software, with a hold action.

Why our own debounce: gpiozero's ``bounce_time`` is not applied by every pin factory (the mock
factory ignores it) and booth operators fight phantom triggers from electrical noise by raising
debounce to ~0.8 s. A press counts only if it comes ``debounce_ms`` after the previous accepted
one; a press held for ``hold_s`` runs ``hold_action`` (pause by default) instead of the shutter.
The optional LED blinks while a shot is taken. On a Pi, gpiozero picks lgpio; in tests
``GPIOZERO_PIN_FACTORY=mock`` (or an explicit MockFactory) drives the same code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edgecam.commands import Dispatcher, Reply
from edgecam.config import GpioTriggerConfig
from edgecam.errors import ConfigError
from edgecam.events import EventBus

log = logging.getLogger(__name__)


class GpioTrigger:
    def __init__(self, cfg: GpioTriggerConfig, dispatcher: Dispatcher, events: EventBus | None = None,
                 pin_factory: Any = None, on_reply: Callable[[Reply], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.dispatcher = dispatcher
        self.events = events
        self.pin_factory = pin_factory
        self.on_reply = on_reply
        self.clock = clock
        self._button: Any = None
        self._led: Any = None
        self._last_accepted = -1e9
        self._held = False
        self._lock = threading.Lock()
        self.accepted = 0
        self.ignored = 0

    def start(self) -> None:
        try:
            from gpiozero import LED, Button
        except ImportError as e:
            raise ConfigError("triggers.gpio.enabled needs gpiozero: pip install 'edgecam[pi]'") from e
        kw = {"pin_factory": self.pin_factory} if self.pin_factory is not None else {}
        self._button = Button(self.cfg.pin, pull_up=self.cfg.pull_up, hold_time=self.cfg.hold_s, **kw)
        self._button.when_pressed = self._pressed
        self._button.when_released = self._released
        self._button.when_held = self._held_cb
        if self.cfg.led_pin is not None:
            self._led = LED(self.cfg.led_pin, **kw)

    def stop(self) -> None:
        for dev in (self._button, self._led):
            if dev is not None:
                dev.close()
        self._button = self._led = None

    def _pressed(self) -> None:
        with self._lock:
            self._held = False

    def _held_cb(self) -> None:
        with self._lock:
            self._held = True
        if self.cfg.hold_action != "none":
            self._run(self.cfg.hold_action, "hold")

    def _released(self) -> None:
        now = self.clock()
        with self._lock:
            if self._held:
                return
            if (now - self._last_accepted) * 1000.0 < self.cfg.debounce_ms:
                self.ignored += 1
                return
            self._last_accepted = now
            self.accepted += 1
        self._run("shutter", "press")

    def _run(self, command: str, kind: str) -> None:
        if self.events is not None:
            self.events.publish("button", pin=self.cfg.pin, kind=kind, command=command)
        if self._led is not None:
            self._led.blink(on_time=0.1, off_time=0.1)
        try:
            reply = self.dispatcher.dispatch(command, {}, source="gpio")
        finally:
            if self._led is not None:
                self._led.off()
        if self.on_reply is not None:
            self.on_reply(reply)
        if not reply.ok:
            log.warning("button %s: %s", kind, reply.error)
