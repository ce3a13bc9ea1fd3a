"""systemd notification (``Type=notify``): READY, WATCHDOG, STATUS, STOPPING.

Why hand-written: the protocol is one datagram on the unix socket named by ``$NOTIFY_SOCKET``
(``@`` = abstract namespace); a dependency for ten lines is not worth it on a kiosk. Without the
variable (a terminal, the tests) every call is a no-op.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, **fields: str | int) -> bool:
        if not self.address:
            return False
        addr = self.address
        if addr.startswith("@"):
            addr = "\0" + addr[1:]
        msg = "\n".join(f"{k.upper()}={v}" for k, v in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.connect(addr)
                s.sendall(msg)
            return True
        except OSError:
            return False

    def watchdog_interval_s(self) -> float | None:
        """Half of ``WatchdogSec`` (systemd passes it as WATCHDOG_USEC), or None when not enabled."""
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec or not usec.isdigit():
            return None
        return int(usec) / 2e6
