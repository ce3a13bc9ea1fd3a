"""Cloud jobs: the Job record and the wire codec (envelope, chunking, reassembly).

Why a binary envelope and not JSON with base64: photos are megabytes, and base64 costs a third more
on a kiosk's uplink. A frame is ``MAGIC | u32 header length | JSON header | file bytes``; the header
lists every file with its size and sha256, so a truncated or corrupted message is detected, never
applied. Frames larger than ``mqtt.max_packet_bytes`` are split into chunk frames (job id, seq, total,
sha256 + size of the whole) that a receiver reassembles and verifies before decoding.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edgecam.errors import EdgecamError

JobKind = Literal["product_cutout", "matte_refine", "archive"]
JOB_KINDS: tuple[str, ...] = ("product_cutout", "matte_refine", "archive")
JobState = Literal["queued", "sent", "done", "failed"]

MAGIC = b"ECJ1"
_HEAD = len(MAGIC) + 4
MAX_HEADER = 1 << 20


class CodecError(EdgecamError):
    """A job/result frame is malformed, truncated, or fails its checksum."""


class JobTooLarge(EdgecamError):
    """A job is over ``outbox.max_job_bytes`` (the hard cap): it is refused, not chunked."""


@dataclass
class Job:
    """One row of the outbox. ``files`` maps a name (original, styled) to a path on the device."""

    job_id: str
    kind: str
    shot_id: str
    files: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    state: JobState = "queued"
    attempts: int = 0
    next_attempt_at: float = 0.0
    created_at: float = field(default_factory=time.time)
    sent_at: float | None = None
    done_at: float | None = None
    last_error: str | None = None
    result_meta: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(header: Mapping[str, Any], files: Mapping[str, bytes] | None = None) -> bytes:
    """One frame: the header (plus a manifest of ``files``) and the files' bytes in order."""
    files = files or {}
    h = dict(header)
    h["files"] = [{"name": n, "size": len(b), "sha256": sha256(b)} for n, b in files.items()]
    hj = json.dumps(h, separators=(",", ":")).encode()
    return b"".join([MAGIC, len(hj).to_bytes(4, "big"), hj, *files.values()])


def unpack(frame: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Inverse of :func:`pack`; raises CodecError on anything inconsistent."""
    if len(frame) < _HEAD or frame[: len(MAGIC)] != MAGIC:
        raise CodecError("not an edgecam frame (bad magic)")
    hlen = int.from_bytes(frame[len(MAGIC):_HEAD], "big")
    if hlen > MAX_HEADER or _HEAD + hlen > len(frame):
        raise CodecError("frame header length out of range")
    try:
        header = json.loads(frame[_HEAD:_HEAD + hlen])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CodecError(f"frame header is not JSON: {e}") from None
    if not isinstance(header, dict) or not isinstance(header.get("files", []), list):
        raise CodecError("frame header must be an object with a files list")
    pos = _HEAD + hlen
    files: dict[str, bytes] = {}
    for entry in header.get("files", []):
        try:
            name, size, digest = str(entry["name"]), int(entry["size"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            raise CodecError("bad file entry in frame header") from None
        if size < 0 or pos + size > len(frame):
            raise CodecError(f"file {name!r} is truncated")
        data = frame[pos:pos + size]
        if sha256(data) != digest:
            raise CodecError(f"file {name!r} fails its sha256")
        files[name] = data
        pos += size
    if pos != len(frame):
        raise CodecError("trailing bytes after the last file")
    return header, files


def peek_job_id(frame: bytes) -> str:
    """The job id in a frame's header without verifying its files (cheap enough for paho's thread)."""
    try:
        hlen = int.from_bytes(frame[len(MAGIC):_HEAD], "big")
        if frame[: len(MAGIC)] != MAGIC or hlen > MAX_HEADER:
            return ""
        return str(json.loads(frame[_HEAD:_HEAD + hlen]).get("job_id", ""))
    except (ValueError, AttributeError, RecursionError):
        return ""


def split(blob: bytes, job_id: str, max_bytes: int) -> list[bytes]:
    """Chunk frames of ``blob`` (each at most ~``max_bytes``); one chunk frame if it already fits."""
    overhead = 512 + len(job_id)
    step = max(256, max_bytes - overhead)
    total = max(1, -(-len(blob) // step))
    whole = sha256(blob)
    return [
        pack({"type": "chunk", "job_id": job_id, "seq": i, "total": total, "sha256": whole, "size": len(blob)},
             {"part": blob[i * step:(i + 1) * step]})
        for i in range(total)
    ]


class Reassembler:
    """Collects chunk frames per job id; returns the whole blob once complete and verified.

    Incomplete sets expire after ``ttl_s`` so a sender that died mid-stream cannot pin memory forever;
    the outbox re-sends the whole job after its ack timeout anyway.
    """

    def __init__(self, ttl_s: float = 600.0, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self._parts: dict[str, tuple[float, int, str, int, dict[int, bytes]]] = {}
        self._lock = threading.Lock()

    def add(self, header: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes | None:
        try:
            job_id, seq, total = str(header["job_id"]), int(header["seq"]), int(header["total"])
            whole, size = str(header["sha256"]), int(header["size"])
            part = files["part"]
        except (KeyError, TypeError, ValueError):
            raise CodecError("bad chunk header") from None
        if not (0 <= seq < total) or size > self.max_bytes or total > size + 1:
            raise CodecError(f"chunk {seq}/{total} of {job_id} out of range")
        now = time.monotonic()
        with self._lock:
            for k in [k for k, v in self._parts.items() if now - v[0] > self.ttl_s]:
                del self._parts[k]
            entry = self._parts.get(job_id)
            if entry is None or entry[1] != total or entry[2] != whole:
                entry = (now, total, whole, size, {})
                self._parts[job_id] = entry
            entry[4][seq] = bytes(part)
            if len(entry[4]) < total:
                return None
            del self._parts[job_id]
        blob = b"".join(entry[4][i] for i in range(total))
        if len(blob) != size or sha256(blob) != whole:
            raise CodecError(f"reassembled {job_id} fails its sha256")
        return blob

    def pending(self) -> int:
        with self._lock:
            return len(self._parts)
