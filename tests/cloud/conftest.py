"""pytest fixtures for the cloud tests (helpers live in cloudkit.py so test modules can import them)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cloudkit import amqtt_broker, broker, client_factory  # noqa: E402,F401  (fixtures)
