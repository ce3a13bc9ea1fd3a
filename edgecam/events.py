"""In-process event bus: the pipeline and triggers publish, MQTT/logging/UI subscribe.

Why a bus instead of direct calls: the shot pipeline must not know whether a broker, a printer
or nobody is listening, and a slow or failing subscriber must never break a shot. Subscribers
are called synchronously on the publisher's thread and their exceptions are logged, not raised;
anything slow (network) must hand off to its own thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """kind: shot | error | button | state | job; data must be JSON-serialisable."""

    kind: str
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subs.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subs:
                    self._subs.remove(fn)

        return unsubscribe

    def publish(self, kind: str, /, **data: Any) -> Event:
        ev = Event(kind, data)
        with self._lock:
            subs = list(self._subs)
        for fn in subs:
            try:
                fn(ev)
            except Exception:  # a broken subscriber must not break the publisher
                log.exception("event subscriber %r failed on %s", fn, kind)
        return ev
