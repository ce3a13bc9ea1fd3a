"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

Why: a kiosk loses power and gets ``kill -9``'d by watchdogs. A photo that was acknowledged must be
on disk complete, and a half-written file must never appear under a real name. ``os.replace`` is
atomic within a filesystem, and fsync of the folder makes the rename itself durable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from edgecam.errors import StorageError

TMP_PREFIX = ".tmp-"


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it becomes ``path``, on any error it disappears."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes | Callable[[BinaryIO], None]) -> Path:
    """Write bytes (or let a writer callback fill the file) atomically; StorageError on failure."""
    try:
        with atomic_open(path) as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
    except OSError as e:
        raise StorageError(f"{path}: write failed: {e.strerror or e}") from e
    return path


def remove_stale_temps(folder: Path) -> int:
    """Delete temp files left by a crash mid-write (they were never acknowledged)."""
    n = 0
    if not folder.exists():
        return 0
    for p in folder.rglob(TMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n
