"""The cloud side: `edgecam worker` runs the heavier jobs kiosks offload.

Why a shared subscription and no scheduler of our own: ``$share/<group>/<prefix>/+/jobs/+`` makes the
broker hand each job to exactly one member of the group, so N workers split the load, a worker that
dies simply stops receiving, and its unacknowledged jobs stay in its persistent session. Why results
on disk: a job is redelivered (broker restart, device re-send after its ack timeout) — the stored
result is sent again instead of recomputing, so a job id always has ONE result.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgecam.cloud.bridge import _Lane
from edgecam.cloud.jobs import CodecError, Reassembler, pack, peek_job_id, split, unpack
from edgecam.cloud.session import MqttSession
from edgecam.cloud.topics import Topics, parse_job_topic, worker_jobs_filter
from edgecam.config import MqttConfig, WorkerConfig

log = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
PRUNE_EVERY_S = 600.0
RECENT_IDS = 10_000


@dataclass
class WorkerJob:
    """A job as the worker sees it: decoded files, the sender's device id and metadata."""

    job_id: str
    kind: str
    device_id: str
    shot_id: str
    meta: dict[str, Any]
    files: dict[str, bytes]


@dataclass
class JobOutput:
    """What a handler returns: metadata for the gallery and files to attach to the shot."""

    meta: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


JobHandler = Callable[[WorkerJob], JobOutput]


class PermanentJobError(Exception):
    """A job that can never succeed (bad input): reported as failed, not retryable."""


class JobHandlers:
    """Registry of job handlers keyed by kind; the worker refuses kinds it has no handler for."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    def get(self, kind: str) -> JobHandler | None:
        return self._handlers.get(kind)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file + fsync + rename, so a crash never leaves half a result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def archive_handler(root: Path) -> JobHandler:
    """``archive``: keep the original and styled photo under ``root/<device>/<shot>/``."""

    def run(job: WorkerJob) -> JobOutput:
        if not _SAFE.match(job.shot_id) or not _SAFE.match(job.device_id):
            raise PermanentJobError("unsafe shot or device id")
        stored = []
        for name, data in job.files.items():
            safe = "".join(c for c in name if c.isalnum() or c in "._-") or "file"
            atomic_write(root / job.device_id / job.shot_id / safe, data)
            stored.append(safe)
        return JobOutput(meta={"archived": sorted(stored), "bytes": sum(len(b) for b in job.files.values())})

    return run


def vision_handlers(stack: Any) -> dict[str, JobHandler]:
    """``product_cutout`` and ``matte_refine`` backed by a started ``edgecam.vision`` VisionStack.

    The result is an RGBA PNG of the original with the computed alpha. ``matte_refine`` runs the
    heavy two-model ensemble on the full-size original: what the shot could not afford on-device.
    """
    import cv2
    import numpy as np

    def decode(job: WorkerJob) -> np.ndarray:
        data = job.files.get("original") or job.files.get("styled")
        if data is None:
            raise PermanentJobError("job carries no photo")
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise PermanentJobError("photo cannot be decoded")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def rgba_png(rgb: np.ndarray, alpha: np.ndarray) -> bytes:
        a = alpha if alpha.dtype == np.uint8 else np.clip(alpha * 255.0, 0, 255).astype(np.uint8)
        if a.shape[:2] != rgb.shape[:2]:
            a = cv2.resize(a, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        bgra = np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), a.reshape(rgb.shape[:2])])
        ok, buf = cv2.imencode(".png", bgra)
        if not ok:
            raise RuntimeError("PNG encoding failed")
        return buf.tobytes()

    def cutout(job: WorkerJob) -> JobOutput:
        rgb = decode(job)
        png = rgba_png(rgb, stack.product_cutout(rgb))
        return JobOutput({"size": [rgb.shape[1], rgb.shape[0]]}, {"cutout.png": png})

    def matte(job: WorkerJob) -> JobOutput:
        rgb = decode(job)
        faces = stack.detect_faces(rgb)
        alpha = stack.matte(rgb, faces, quality="high")
        if alpha is None:  # portrait matting is gated on a face: nothing to refine is a result too
            return JobOutput({"faces": 0, "matte": "no person found"}, {})
        return JobOutput({"faces": len(faces)}, {"matte.png": rgba_png(rgb, alpha)})

    return {"product_cutout": cutout, "matte_refine": matte}


class Worker:
    """Consumes jobs from the shared subscription, runs handlers, stores and publishes results."""

    def __init__(self, mqtt_cfg: MqttConfig, worker_cfg: WorkerConfig, handlers: JobHandlers, *,
                 client_id: str | None = None, environ: dict[str, str] | None = None) -> None:
        self.mqtt_cfg = mqtt_cfg
        self.cfg = worker_cfg
        self.handlers = handlers
        self.results_dir = Path(worker_cfg.results_dir)
        cid = client_id or worker_cfg.client_id or f"edgecam-worker-{socket.gethostname()}"
        self.session = MqttSession(mqtt_cfg, cid, environ=environ)
        self.filter = worker_jobs_filter(mqtt_cfg.topic_prefix, worker_cfg.group)
        self._lanes = [_Lane(f"worker-{i}", self._handle) for i in range(worker_cfg.threads)]
        # the latest job ids (tests, metrics), bounded: a worker runs for months
        self.computed: deque[str] = deque(maxlen=RECENT_IDS)  # ran a handler
        self.replayed: deque[str] = deque(maxlen=RECENT_IDS)  # answered from the stored result
        self.failed: deque[str] = deque(maxlen=RECENT_IDS)
        self._next_prune = 0.0

    def prune_results(self, now: float | None = None) -> int:
        """Delete stored results older than ``worker.result_retention_h``; returns how many went.

        Why: a worker runs for months and every job leaves a result file (a cut-out PNG can be
        megabytes). A result is only needed to answer a redelivery of the same job, which the
        kiosk's outbox stops doing within hours, so old ones are dead weight on the disk.
        """
        cutoff = (time.time() if now is None else now) - self.cfg.result_retention_h * 3600.0
        removed = 0
        for path in self.results_dir.glob("*/*.result"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        if removed:
            log.info("pruned %d stored results older than %g h", removed, self.cfg.result_retention_h)
        return removed

    def _maybe_prune(self) -> None:
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
            try:
                self.prune_results()
            except OSError as e:  # a full or read-only disk must not stop the jobs
                log.warning("pruning %s failed: %s", self.results_dir, e)

    def start(self) -> None:
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self._maybe_prune()
        for lane in self._lanes:
            lane.start()
        self.session.subscribe(self.filter, self._on_job, qos=1)
        self.session.start()

    def stop(self, timeout: float = 10.0) -> None:
        for lane in self._lanes:
            lane.stop(timeout)
        self.session.stop()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.session.wait_connected(timeout)

    def _on_job(self, msg: mqtt.MQTTMessage) -> None:
        # the same job id always goes to the same lane, so a redelivery waits for the first run
        # and then finds its stored result instead of computing it a second time
        payload = bytes(msg.payload)
        lane = self._lanes[hash(peek_job_id(payload)) % len(self._lanes)]
        lane.offer((msg.topic, payload))

    def _result_path(self, device_id: str, job_id: str) -> Path:
        return self.results_dir / device_id / f"{job_id}.result"

    def _handle(self, item: tuple[str, bytes]) -> None:
        topic, payload = item
        parsed = parse_job_topic(self.mqtt_cfg.topic_prefix, topic)
        if parsed is None:
            return
        device_id, kind = parsed
        try:
            header, files = unpack(payload)
        except CodecError as e:
            log.warning("malformed job on %s: %s", topic, e)
            return
        job_id = str(header.get("job_id", ""))
        if not _SAFE.match(job_id) or not _SAFE.match(device_id):
            log.warning("job with an unsafe id on %s dropped", topic)
            return
        topics = Topics(self.mqtt_cfg.topic_prefix, device_id)
        stored = self._result_path(device_id, job_id)
        if stored.exists():
            self.replayed.append(job_id)
            self._publish_result(topics, job_id, stored.read_bytes())
            return
        self._maybe_prune()
        # failure results carry the part count too, so the kiosk can clear the retained parts of
        # a job that will not be retried
        chunks = 0
        try:
            if header.get("type") == "job_ref":
                chunks = int(header.get("chunks", 0))
                header, files = self._fetch_chunks(topics, job_id, chunks)
            if header.get("type") != "job" or header.get("job_id") != job_id:
                raise CodecError("not a job frame for this id")
        except (CodecError, TimeoutError, ValueError) as e:
            log.warning("job %s from %s: %s", job_id, device_id, e)
            self._publish_result(topics, job_id, pack({"type": "result", "job_id": job_id, "ok": False,
                                                       "retryable": True, "error": str(e), "chunks": chunks}))
            return
        handler = self.handlers.get(kind)
        job = WorkerJob(job_id, kind, device_id, str(header.get("shot_id", "")),
                        header.get("meta") if isinstance(header.get("meta"), dict) else {}, files)
        try:
            if handler is None:
                known = ", ".join(self.handlers.kinds)
                raise PermanentJobError(f"this worker has no handler for {kind!r} (has: {known})")
            out = handler(job)
        except Exception as e:
            permanent = isinstance(e, PermanentJobError)
            if not permanent:
                log.exception("job %s (%s) failed", job_id, kind)
            self.failed.append(job_id)
            self._publish_result(topics, job_id, pack({"type": "result", "job_id": job_id, "ok": False,
                                                       "retryable": not permanent, "error": str(e),
                                                       "chunks": chunks}))
            return
        frame = pack({"type": "result", "job_id": job_id, "ok": True, "kind": kind, "meta": out.meta,
                      "chunks": chunks}, out.files)
        atomic_write(stored, frame)
        self.computed.append(job_id)
        self._publish_result(topics, job_id, frame)

    def _fetch_chunks(self, topics: Topics, job_id: str, total: int) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Collect the retained parts of a chunked job, reassemble and verify them."""
        if total <= 0:
            raise CodecError("job_ref without chunks")
        done = threading.Event()
        box: list[bytes] = []
        asm = Reassembler()

        def on_chunk(msg: mqtt.MQTTMessage) -> None:
            if not msg.payload or done.is_set():
                return
            try:
                h, f = unpack(bytes(msg.payload))
                blob = asm.add(h, f)
            except CodecError as e:
                log.warning("bad chunk of %s: %s", job_id, e)
                return
            if blob is not None:
                box.append(blob)
                done.set()

        flt = topics.chunk_filter(job_id)
        self.session.subscribe(flt, on_chunk, qos=1)
        try:
            if not done.wait(self.cfg.chunk_wait_s):
                raise TimeoutError(f"parts of {job_id} did not arrive within {self.cfg.chunk_wait_s}s")
        finally:
            self.session.unsubscribe(flt)
        return unpack(box[0])

    def _publish_result(self, topics: Topics, job_id: str, frame: bytes) -> None:
        topic = topics.results(job_id)
        if len(frame) <= self.mqtt_cfg.max_packet_bytes:
            self.session.publish(topic, frame, qos=1)
        else:
            for chunk in split(frame, job_id, self.mqtt_cfg.max_packet_bytes):
                self.session.publish(topic, chunk, qos=1)


def default_handlers(worker_cfg: WorkerConfig, stack: Any | None = None) -> JobHandlers:
    """archive always; product_cutout/matte_refine when a vision stack is given."""
    reg = JobHandlers()
    reg.register("archive", archive_handler(Path(worker_cfg.results_dir) / "archive"))
    if stack is not None:
        for kind, fn in vision_handlers(stack).items():
            reg.register(kind, fn)
    return reg
