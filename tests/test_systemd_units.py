"""The shipped systemd units pass ``systemd-analyze verify`` and stay hardened (exposure score)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = sorted((Path(__file__).resolve().parent.parent / "systemd").glob("*.service"))
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_verifies_and_is_hardened(unit: Path, tmp_path: Path) -> None:
    text = unit.read_text()
    assert "Restart=" in text and "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text
    # verify checks that ExecStart exists: point it at this environment's edgecam
    exe = Path(sys.executable).parent / "edgecam"
    local = tmp_path / unit.name
    local.write_text(re.sub(r"^ExecStart=\S+( edgecam)?", f"ExecStart={exe}", text, flags=re.M))
    r = subprocess.run([ANALYZE, "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    r = subprocess.run([ANALYZE, "security", "--offline=true", str(local)], capture_output=True, text=True,
                       timeout=60)
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr).group(1))
    assert score <= 2.5, f"{unit.name} exposure {score}"


def test_daemon_unit_uses_notify_and_watchdog() -> None:
    text = (UNITS[0].parent / "edgecam.service").read_text()
    assert "Type=notify" in text and re.search(r"^WatchdogSec=\d+", text, re.M)
