"""Small helpers every server-backed test needs: a free loopback port and a bounded wait.

Importable as ``testkit`` from any test module (pytest puts ``tests/`` on sys.path for the root
conftest), so the broker, cupsd and printer kits share one copy.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    """A loopback port that was free a moment ago (bound, then closed: a connect to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(pred: Callable[[], Any], timeout: float, step: float = 0.05) -> bool:
    """Poll ``pred`` until it is true or ``timeout`` s have passed; one last check at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())
