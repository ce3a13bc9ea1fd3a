"""Give freed heap memory back to the OS after a shot.

Why: a shot allocates tens of MB of short-lived native buffers (a 12 MP frame is 37 MB; ONNX
Runtime and OpenCV allocate through malloc). glibc keeps freed chunks in its heaps, so RSS ratchets
up to the largest shot ever taken and stays there for weeks; ``malloc_trim(0)`` returns the free
pages. It costs well under a millisecond and is a no-op where glibc is not the allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable


def _load_trim() -> Callable[[], None]:
    if not sys.platform.startswith("linux"):
        return lambda: None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> None:
        trim(0)

    return release


release_free_memory = _load_trim()
