"""``edgecam outbox list | retry [ID|--all-failed] | purge [--done|--all]``: the cloud job queue.

Why a CLI on the SQLite file and not a command to the daemon: an operator must be able to see and
fix the queue while the daemon is stopped (or crash-looping); SQLite in WAL mode lets both work on
the file at once.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from edgecam.cloud.outbox import Outbox
from edgecam.config import load_config


def _open(args: argparse.Namespace) -> Outbox:
    cfg = load_config(args.config)
    assert cfg.outbox.path is not None
    return Outbox(cfg.outbox.path, cfg.outbox)


def cmd_list(args: argparse.Namespace) -> int:
    ob = _open(args)
    try:
        jobs = ob.list(state=args.state, limit=args.limit)
        if args.json:
            print(json.dumps({"counts": ob.counts(), "jobs": [j.to_dict() for j in jobs]}, indent=2, default=str))
            return 0
        now = time.time()
        print(f"{'JOB':40} {'KIND':15} {'STATE':7} {'TRIES':>5} {'NEXT':>8}  ERROR")
        for j in jobs:
            nxt = "-" if j.state in ("done", "failed") else f"{max(0.0, j.next_attempt_at - now):.0f}s"
            print(f"{j.job_id[:40]:40} {j.kind:15} {j.state:7} {j.attempts:>5} {nxt:>8}  {j.last_error or ''}")
        c = ob.counts()
        print(f"-- {c['queued']} queued, {c['sent']} sent, {c['done']} done, {c['failed']} failed")
        return 0
    finally:
        ob.close()


def cmd_retry(args: argparse.Namespace) -> int:
    if not args.job_id and not args.all_failed:
        print("edgecam outbox retry: give a job id or --all-failed")
        return 2
    ob = _open(args)
    try:
        n = ob.retry(args.job_id, all_failed=args.all_failed)
        print(f"{n} job(s) queued again")
        return 0 if n or args.all_failed else 1
    finally:
        ob.close()


def cmd_purge(args: argparse.Namespace) -> int:
    ob = _open(args)
    try:
        n = ob.purge(done_only=not args.all)
        print(f"{n} job(s) removed")
        return 0
    finally:
        ob.close()


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("outbox", help="list, retry or purge cloud jobs", description=__doc__)
    sub = p.add_subparsers(dest="outbox_command", metavar="{list,retry,purge}")
    sub.required = True
    pl = sub.add_parser("list", help="jobs with state, attempts, next attempt, last error")
    pl.add_argument("--state", choices=["queued", "sent", "done", "failed"], default=None)
    pl.add_argument("--limit", type=int, default=1000)
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_list)
    pr = sub.add_parser("retry", help="queue a failed (or stuck) job again, now")
    pr.add_argument("job_id", nargs="?", default=None)
    pr.add_argument("--all-failed", action="store_true", help="every failed job")
    pr.set_defaults(func=cmd_retry)
    pp = sub.add_parser("purge", help="delete done jobs (default) or every job")
    g = pp.add_mutually_exclusive_group()
    g.add_argument("--done", action="store_true", help="only done jobs (the default)")
    g.add_argument("--all", action="store_true", help="every job, pending ones too")
    pp.set_defaults(func=cmd_purge)
