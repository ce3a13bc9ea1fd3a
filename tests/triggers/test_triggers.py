from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from edgecam.commands import Dispatcher, NoArgs, RequestLedger
from edgecam.config import GpioTriggerConfig
from edgecam.events import EventBus
from edgecam.triggers.gpio import GpioTrigger
from edgecam.triggers.keyboard import KeyboardTrigger, parse_line


def dispatcher(tmp_path: Path) -> tuple[Dispatcher, list[str]]:
    calls: list[str] = []
    d = Dispatcher(RequestLedger(tmp_path / "r.sqlite"))
    d.register("shutter", lambda a, src: calls.append("shutter") or {}, NoArgs)
    d.register("pause", lambda a, src: calls.append("pause") or {}, NoArgs)
    d.register("status", lambda a, src: calls.append("status") or {"mode": "ready"}, NoArgs)
    return d, calls


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()
    Device.pin_factory = None


def test_button_press_shoots_and_bounces_are_ignored(tmp_path: Path, factory: MockFactory) -> None:
    d, calls = dispatcher(tmp_path)
    now = [100.0]
    events = EventBus()
    seen: list[str] = []
    events.subscribe(lambda e: seen.append(e.kind))
    trig = GpioTrigger(GpioTriggerConfig(enabled=True, pin=17, debounce_ms=300), d, events,
                       pin_factory=factory, clock=lambda: now[0])
    trig.start()
    pin = factory.pin(17)
    try:
        for dt in (0.0, 0.01, 0.02, 0.05):  # one press with contact bounce
            now[0] = 100.0 + dt
            pin.drive_low()
            pin.drive_high()
        now[0] = 101.0  # a real second press
        pin.drive_low()
        pin.drive_high()
    finally:
        trig.stop()
    assert calls == ["shutter", "shutter"] and trig.ignored == 3 and seen.count("button") == 2


def test_button_hold_runs_hold_action_not_shutter(tmp_path: Path, factory: MockFactory) -> None:
    d, calls = dispatcher(tmp_path)
    trig = GpioTrigger(GpioTriggerConfig(enabled=True, pin=5, hold_s=0.1, hold_action="pause"), d,
                       pin_factory=factory)
    trig.start()
    pin = factory.pin(5)
    try:
        pin.drive_low()
        time.sleep(0.4)
        pin.drive_high()
    finally:
        trig.stop()
    assert calls == ["pause"]


def test_keyboard_lines_go_through_the_dispatcher(tmp_path: Path) -> None:
    d, calls = dispatcher(tmp_path)
    replies = []
    quit_called = []
    lines = io.StringIO("\nstatus\nfly\nquit\nshutter\n")
    kb = KeyboardTrigger(d, lines, replies.append, lambda: quit_called.append(1))
    kb._run()
    assert calls == ["shutter", "status"] and quit_called == [1]
    assert replies[2].error and replies[2].error["code"] == "unknown_command"


def test_parse_line() -> None:
    assert parse_line("") == ("shutter", {})
    assert parse_line("set_style noir") == ("set_style", {"style": "noir"})
    assert parse_line("reprint copies=2") == ("reprint", {"copies": "2"})
    assert parse_line("q") is None
