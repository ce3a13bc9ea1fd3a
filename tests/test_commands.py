from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from edgecam.commands import Dispatcher, RequestLedger
from edgecam.errors import EdgecamError


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = 1


def make(tmp_path: Path, allow: list[str] | None = None) -> tuple[Dispatcher, list[int]]:
    calls: list[int] = []
    d = Dispatcher(RequestLedger(tmp_path / "req.sqlite"), allow=allow)

    def shoot(a: Args, src: str) -> dict[str, int]:
        calls.append(a.n)
        return {"n": a.n}

    def boom(a: Args, src: str) -> dict[str, int]:
        raise EdgecamError("printer on fire")

    d.register("shutter", shoot, Args)
    d.register("boom", boom, Args)
    return d, calls


def test_ok_and_validation(tmp_path: Path) -> None:
    d, calls = make(tmp_path)
    assert d.dispatch("shutter", {"n": 3}).result == {"n": 3}
    r = d.dispatch("shutter", {"n": "x"})
    assert not r.ok and r.error and r.error["code"] == "bad_args" and "n" in r.error["message"]
    r = d.dispatch("shutter", {"extra": 1})
    assert not r.ok and r.error and r.error["code"] == "bad_args"
    assert calls == [3]


def test_unknown_and_not_allowed(tmp_path: Path) -> None:
    d, _ = make(tmp_path, allow=["boom"])
    r = d.dispatch("fly")
    assert r.error and r.error["code"] == "unknown_command" and "shutter" in r.error["message"]
    r = d.dispatch("shutter", source="mqtt")
    assert r.error and r.error["code"] == "not_allowed"
    assert d.dispatch("shutter", source="gpio").ok  # the kiosk's own button is never locked out


def test_handler_errors_become_replies(tmp_path: Path) -> None:
    d, _ = make(tmp_path)
    r = d.dispatch("boom")
    assert not r.ok and r.error == {"code": "EdgecamError", "message": "printer on fire"}


def test_same_request_id_runs_once_even_across_restarts(tmp_path: Path) -> None:
    d, calls = make(tmp_path)
    first = d.dispatch("shutter", {"n": 1}, request_id="abc")
    again = d.dispatch("shutter", {"n": 1}, request_id="abc")
    assert calls == [1] and again.duplicate and again.result == first.result
    d2, calls2 = make(tmp_path)  # a new process with the same ledger file
    assert d2.dispatch("shutter", {"n": 1}, request_id="abc").duplicate
    assert calls2 == []


def test_concurrent_duplicates_run_once(tmp_path: Path) -> None:
    d, calls = make(tmp_path)
    threads = [threading.Thread(target=d.dispatch, args=("shutter", {"n": 1}), kwargs={"request_id": "same"})
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]


def test_dispatch_json(tmp_path: Path) -> None:
    d, calls = make(tmp_path)
    assert d.dispatch_json("shutter", b'{"n": 2, "id": "j1"}', source="mqtt").request_id == "j1"
    assert d.dispatch_json("shutter", b"{nope", source="mqtt").error["code"] == "bad_json"  # type: ignore[index]
    assert d.dispatch_json("shutter", b"[1]", source="mqtt").error["code"] == "bad_args"  # type: ignore[index]
    assert d.dispatch_json("shutter", b"\xff\xfe", source="mqtt").error["code"] == "bad_json"  # type: ignore[index]
    big = b'{"n": 1, "pad": "' + b"x" * 70000 + b'"}'
    assert d.dispatch_json("shutter", big, source="mqtt").error["code"] == "too_large"  # type: ignore[index]
    assert calls == [2]
