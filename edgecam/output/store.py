"""The photo store: styled JPEG, original, sidecar JSON, and the gallery index.

Why this order of writes: every file is written atomically first, and only then is the shot
inserted into the SQLite index (WAL, synchronous=FULL) in one transaction. The index is the
acknowledgement: a row in it always points at complete files, whatever moment a ``kill -9`` or a
power cut hits. Files of a shot that died before its index row are orphans, never half-files;
``open()`` removes stale temp files and reports orphans.

Cloud results (a better cut-out, a refined matte, an archive receipt) are attached through
``attach_result``, which is idempotent by job id: a redelivered result changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgecam.errors import StorageError
from edgecam.output.atomic import TMP_PREFIX, atomic_write, remove_stale_temps
from edgecam.output.exif import exif_bytes, insert_exif

SCHEMA = """
CREATE TABLE IF NOT EXISTS shots (
  id TEXT PRIMARY KEY, ts REAL NOT NULL, day TEXT NOT NULL, styled TEXT NOT NULL, original TEXT,
  sidecar TEXT NOT NULL, scene TEXT, style TEXT, total_ms REAL, upgraded TEXT
);
CREATE TABLE IF NOT EXISTS results (
  job_id TEXT PRIMARY KEY, shot_id TEXT NOT NULL, kind TEXT NOT NULL, files TEXT NOT NULL,
  meta TEXT NOT NULL, ts REAL NOT NULL
);
"""


@dataclass(frozen=True)
class SavedShot:
    shot_id: str
    styled: Path
    original: Path | None
    sidecar: Path


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StorageError("JPEG encoding failed")
    return buf.tobytes()


def swap_rb_in_place(img: np.ndarray, band_rows: int = 128) -> None:
    """RGB ↔ BGR in place, in row bands: OpenCV's in-place conversion of a whole frame allocates a
    frame-sized temporary (37 MB at 12 MP); per band it is ~1.5 MB."""
    for y in range(0, img.shape[0], band_rows):
        view = img[y:y + band_rows]
        cv2.cvtColor(view, cv2.COLOR_RGB2BGR, dst=view)


def encode_jpeg_low_memory(rgb: np.ndarray, quality: int, work_dir: Path) -> bytes:
    """Encode a large RGB frame with ~1 MB of extra memory instead of ~2 frame sizes.

    Why: ``cv2.imencode`` sizes its output buffer like the raw image (37 MB for 12 MP) and needs a
    BGR copy (another 37 MB). Here the channels are swapped in place, libjpeg writes straight to a
    temporary file, and the channels are swapped back; the compressed bytes are read back. The
    caller must hold the frame exclusively until this returns; a read-only or non-contiguous frame
    goes through ``encode_jpeg``.
    """
    if not (rgb.flags.writeable and rgb.flags.c_contiguous and rgb.ndim == 3):
        return encode_jpeg(rgb, quality)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + "original.", suffix=".jpg", dir=work_dir)
    os.close(fd)
    try:
        swap_rb_in_place(rgb)
        try:
            ok = cv2.imwrite(tmp, rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
        finally:
            swap_rb_in_place(rgb)
        if not ok:
            raise StorageError(f"{work_dir}: JPEG encoding of the original failed")
        return Path(tmp).read_bytes()
    except OSError as e:
        raise StorageError(f"{work_dir}: cannot encode the original: {e.strerror or e}") from e
    finally:
        Path(tmp).unlink(missing_ok=True)


class PhotoStore:
    """One folder per day under ``root``; ``gallery.sqlite`` indexes every acknowledged shot."""

    def __init__(self, root: Path, jpeg_quality: int = 92, min_free_mb: int = 0, device: str = "edgecam",
                 camera_model: str = "edgecam") -> None:
        self.root = Path(root)
        self.jpeg_quality = jpeg_quality
        self.min_free_mb = min_free_mb
        self.device = device
        self.camera_model = camera_model
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    # lifecycle -------------------------------------------------------------------------------
    def open(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise StorageError(f"output.dir {self.root}: not writable ({e.strerror or e}); "
                               "create it and give the service user write access") from e
        remove_stale_temps(self.root)
        db = sqlite3.connect(str(self.root / "gallery.sqlite"), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError("photo store is not open")
        return self._db

    # writing ---------------------------------------------------------------------------------
    def check_space(self) -> None:
        if self.min_free_mb <= 0:
            return
        free_mb = shutil.disk_usage(self.root).free / 2**20
        if free_mb < self.min_free_mb:
            raise StorageError(f"{self.root}: only {free_mb:.0f} MB free (output.min_free_mb {self.min_free_mb})")

    def paths_for(self, shot_id: str, when: datetime) -> tuple[Path, Path, Path]:
        day = self.root / when.strftime("%Y-%m-%d")
        return day / f"{shot_id}.jpg", day / f"{shot_id}_original.jpg", day / f"{shot_id}.json"

    def save_shot(
        self,
        shot_id: str,
        when: datetime,
        styled_jpeg: bytes,
        original_jpeg: bytes | None,
        sidecar: dict[str, Any],
    ) -> SavedShot:
        """Write the files atomically, then acknowledge the shot in the index (one transaction)."""
        self.check_space()
        styled_p, orig_p, side_p = self.paths_for(shot_id, when)
        exif = exif_bytes(when, self.device, self.camera_model, comment=f"edgecam shot {shot_id}")
        written: list[Path] = []
        try:
            written.append(atomic_write(styled_p, insert_exif(styled_jpeg, exif)))
            if original_jpeg is not None:
                written.append(atomic_write(orig_p, insert_exif(original_jpeg, exif)))
            side = dict(sidecar)
            side["files"] = {"styled": styled_p.name, "original": orig_p.name if original_jpeg else None}
            written.append(atomic_write(side_p, json.dumps(side, indent=2, default=str).encode()))
            with self._lock:
                self.db.execute(
                    "INSERT INTO shots (id, ts, day, styled, original, sidecar, scene, style, total_ms)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    (shot_id, when.timestamp(), when.strftime("%Y-%m-%d"), str(styled_p.relative_to(self.root)),
                     str(orig_p.relative_to(self.root)) if original_jpeg else None,
                     str(side_p.relative_to(self.root)), sidecar.get("scene", {}).get("label"),
                     sidecar.get("style", {}).get("name"), sidecar.get("timings_ms", {}).get("total")),
                )
        except (StorageError, sqlite3.Error, OSError) as e:
            for p in written:  # nothing acknowledged: leave no files behind either
                p.unlink(missing_ok=True)
            if isinstance(e, StorageError):
                raise
            raise StorageError(f"{self.root}: saving shot {shot_id} failed: {e}") from e
        return SavedShot(shot_id, styled_p, orig_p if original_jpeg else None, side_p)

    # reading ---------------------------------------------------------------------------------
    def get(self, shot_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.db.execute(
                "SELECT id, ts, styled, original, sidecar, scene, style, total_ms, upgraded FROM shots WHERE id = ?",
                (shot_id,),
            ).fetchone()
        return None if row is None else self._row(row)

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.db.execute(
                "SELECT id, ts, styled, original, sidecar, scene, style, total_ms, upgraded FROM shots"
                " ORDER BY ts DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [self._row(r) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT COUNT(*) FROM shots").fetchone()[0])

    def _row(self, r: tuple[Any, ...]) -> dict[str, Any]:
        return {
            "id": r[0], "ts": r[1], "styled": str(self.root / r[2]),
            "original": str(self.root / r[3]) if r[3] else None, "sidecar": str(self.root / r[4]),
            "scene": r[5], "style": r[6], "total_ms": r[7], "upgraded": json.loads(r[8]) if r[8] else [],
        }

    # cloud results ---------------------------------------------------------------------------
    def attach_result(self, shot_id: str, job_id: str, kind: str, files: dict[str, bytes],
                      meta: dict[str, Any]) -> bool:
        """Store a cloud job's result beside the shot and note it in the index, exactly once.

        Returns False (and changes nothing) when this job id was applied before.
        """
        shot = self.get(shot_id)
        if shot is None:
            raise StorageError(f"result {job_id}: unknown shot {shot_id}")
        with self._lock:
            if self.db.execute("SELECT 1 FROM results WHERE job_id = ?", (job_id,)).fetchone():
                return False
        folder = Path(shot["styled"]).parent
        names: dict[str, str] = {}
        for name, data in files.items():
            safe = "".join(c for c in name if c.isalnum() or c in "._-") or "result.bin"
            target = folder / f"{shot_id}_{kind}_{safe}"
            atomic_write(target, data)
            names[name] = target.name
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                if self.db.execute("SELECT 1 FROM results WHERE job_id = ?", (job_id,)).fetchone():
                    self.db.execute("ROLLBACK")
                    return False
                self.db.execute(
                    "INSERT INTO results (job_id, shot_id, kind, files, meta, ts) VALUES (?,?,?,?,?,?)",
                    (job_id, shot_id, kind, json.dumps(names), json.dumps(meta, default=str), time.time()),
                )
                row = self.db.execute("SELECT upgraded FROM shots WHERE id = ?", (shot_id,)).fetchone()
                upgraded = json.loads(row[0]) if row and row[0] else []
                upgraded.append({"job_id": job_id, "kind": kind, "files": names})
                self.db.execute("UPDATE shots SET upgraded = ? WHERE id = ?", (json.dumps(upgraded), shot_id))
                self.db.execute("COMMIT")
            except sqlite3.Error as e:
                self.db.execute("ROLLBACK")
                raise StorageError(f"result {job_id}: index update failed: {e}") from e
        return True
