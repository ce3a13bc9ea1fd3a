"""The MQTT topic tree, in one place.

Why a class instead of f-strings scattered over the code: the device, the cloud worker, Home
Assistant discovery, the tests and the README must agree on every topic; one definition keeps them
from drifting. Every device topic lives under ``<prefix>/<device_id>/``.
"""

from __future__ import annotations

from dataclasses import dataclass

STATE_KEYS = ("mode", "style", "camera", "printer", "outbox_depth", "last_scene", "shots", "last_latency_ms")
EVENT_KINDS = ("shot", "button", "error", "job")


def _check_level(value: str, what: str) -> str:
    if not value or any(c in value for c in "/+#\0"):
        raise ValueError(f"{what} {value!r} must be a non-empty topic level without '/', '+', '#'")
    return value


@dataclass(frozen=True)
class Topics:
    """Topics of one device (``device_id``) under ``prefix``."""

    prefix: str
    device_id: str

    def __post_init__(self) -> None:
        if not self.prefix or "+" in self.prefix or "#" in self.prefix:
            raise ValueError(f"topic prefix {self.prefix!r} must be non-empty and without wildcards")
        _check_level(self.device_id, "device id")

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    def state(self, key: str) -> str:
        return f"{self.base}/state/{_check_level(key, 'state key')}"

    def event(self, kind: str) -> str:
        return f"{self.base}/event/{_check_level(kind, 'event kind')}"

    def cmd(self, name: str) -> str:
        return f"{self.base}/cmd/{_check_level(name, 'command')}"

    @property
    def cmd_filter(self) -> str:
        return f"{self.base}/cmd/+"

    def reply(self, name: str) -> str:
        """Where replies go when the request has no MQTT v5 response topic (3.1.1 clients)."""
        return f"{self.base}/reply/{_check_level(name, 'command')}"

    def command_of(self, topic: str) -> str | None:
        """The command name of a ``cmd/<name>`` topic, else None."""
        head = f"{self.base}/cmd/"
        if not topic.startswith(head):
            return None
        name = topic[len(head):]
        return name if name and "/" not in name else None

    def jobs(self, kind: str) -> str:
        return f"{self.base}/jobs/{_check_level(kind, 'job kind')}"

    def chunk(self, job_id: str, seq: int) -> str:
        """Retained parts of a chunked job (claim check: the worker fetches them by job id)."""
        return f"{self.base}/chunks/{_check_level(job_id, 'job id')}/{seq}"

    def chunk_filter(self, job_id: str) -> str:
        return f"{self.base}/chunks/{_check_level(job_id, 'job id')}/+"

    def results(self, job_id: str) -> str:
        return f"{self.base}/results/{_check_level(job_id, 'job id')}"

    @property
    def results_filter(self) -> str:
        return f"{self.base}/results/+"


def worker_jobs_filter(prefix: str, group: str) -> str:
    """The shared subscription of the cloud workers: the broker hands each job to ONE group member."""
    return f"$share/{_check_level(group, 'worker group')}/{prefix}/+/jobs/+"


def parse_job_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """``<prefix>/<device>/jobs/<kind>`` → (device, kind), else None."""
    head = f"{prefix}/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/")
    if len(parts) != 3 or parts[1] != "jobs" or not parts[0] or not parts[2]:
        return None
    return parts[0], parts[2]


def ha_status_topic(ha_prefix: str) -> str:
    return f"{ha_prefix}/status"
