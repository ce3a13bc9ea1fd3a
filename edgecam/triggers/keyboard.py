"""The keyboard/stdin trigger: Enter takes a photo, a word runs that command.

Why stdin: the embedded default and a bench-top kiosk need a shutter without hardware; any line
goes through the same dispatcher as GPIO and MQTT (``status``, ``pause``, ``set_style noir``).
End of input stops the trigger, not the daemon (systemd gives the service /dev/null).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TextIO

from edgecam.commands import Dispatcher, Reply

log = logging.getLogger(__name__)

# A bare argument after a command name maps to this key.
POSITIONAL = {"set_style": "style", "shutter": "style", "reprint": "shot_id"}


def parse_line(line: str) -> tuple[str, dict[str, str]] | None:
    """'' → shutter; 'quit' → None; 'set_style noir' → (set_style, {style: noir}); 'k=v' pairs too."""
    words = line.strip().split()
    if not words:
        return "shutter", {}
    name, rest = words[0], words[1:]
    if name in ("q", "quit", "exit"):
        return None
    args: dict[str, str] = {}
    for w in rest:
        if "=" in w:
            k, v = w.split("=", 1)
            args[k] = v
        elif name in POSITIONAL:
            args[POSITIONAL[name]] = w
    return name, args


class KeyboardTrigger:
    def __init__(self, dispatcher: Dispatcher, stream: TextIO, on_reply: Callable[[Reply], None],
                 on_quit: Callable[[], None]) -> None:
        self.dispatcher = dispatcher
        self.stream = stream
        self.on_reply = on_reply
        self.on_quit = on_quit
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="keyboard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        # A blocked readline cannot be interrupted portably; the thread is a daemon and exits with us.
        self._stop.set()

    def _run(self) -> None:
        for line in self.stream:
            if self._stop.is_set():
                return
            parsed = parse_line(line)
            if parsed is None:
                self.on_quit()
                return
            name, args = parsed
            coerced: dict[str, object] = {k: int(v) if v.isdigit() else v for k, v in args.items()}
            self.on_reply(self.dispatcher.dispatch(name, coerced, source="keyboard"))
        log.info("stdin closed; keyboard trigger stopped")
