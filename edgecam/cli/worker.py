"""``edgecam worker``: run the cloud side (shared subscription, job handlers, stored results).

Why the vision stack is optional: an archive-only worker needs no models; product_cutout and
matte_refine are registered when ``edgecam.vision.stack`` can be started (``--no-vision`` skips it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from edgecam.config import load_config

log = logging.getLogger(__name__)


def cmd_worker(args: argparse.Namespace) -> int:
    from edgecam.cloud.worker import Worker, default_handlers

    cfg = load_config(args.config)
    logging.getLogger().setLevel(cfg.logging.level)
    stack = None
    if not args.no_vision:
        try:
            from edgecam.vision.stack import VisionStack  # type: ignore[import-not-found]

            stack = VisionStack(cfg.models, cfg.vision)
            stack.start()
        except ImportError:
            log.warning("edgecam.vision.stack is not available: only archive jobs are handled")
    handlers = default_handlers(cfg.worker, stack)
    worker = Worker(cfg.mqtt, cfg.worker, handlers)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    log.warning("worker %s: %s:%s %s, handlers: %s", worker.session.client_id, cfg.mqtt.host, cfg.mqtt.port,
                worker.filter, ", ".join(handlers.kinds))
    try:
        stop.wait()
    finally:
        worker.stop()
        if stack is not None and hasattr(stack, "stop"):
            stack.stop()
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("worker", help="run a cloud worker (jobs via $share subscription)", description=__doc__)
    p.add_argument("--no-vision", action="store_true", help="do not load the models (archive jobs only)")
    p.set_defaults(func=cmd_worker)
