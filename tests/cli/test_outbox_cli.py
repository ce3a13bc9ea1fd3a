"""`edgecam outbox list | retry | purge` against a real outbox file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgecam.cli import main
from edgecam.cloud.outbox import Outbox
from edgecam.config import load_config


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Outbox]:
    conf = tmp_path / "edgecam.yaml"
    conf.write_text("outbox:\n  path: outbox.sqlite\n  max_attempts: 1\n")
    cfg = load_config(conf)
    ob = Outbox(cfg.outbox.path, cfg.outbox)
    ob.enqueue("archive", "s1", {"original": "/x/o.jpg"}, job_id="s1.archive")
    ob.enqueue("archive", "s2", {"original": "/x/o.jpg"}, job_id="s2.archive")
    ob.enqueue("product_cutout", "s3", {"original": "/x/o.jpg"}, job_id="s3.cut")
    ob.mark_done("s1.archive", {})
    ob.mark_sent("s2.archive")
    ob.mark_error("s2.archive", "worker: boom")
    return conf, ob


def test_list_retry_purge(setup, capsys) -> None:
    conf, ob = setup
    assert main(["--config", str(conf), "outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert "s2.archive" in out and "failed" in out and "worker: boom" in out
    assert "1 queued, 0 sent, 1 done, 1 failed" in out
    assert main(["--config", str(conf), "outbox", "list", "--json", "--state", "failed"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [j["job_id"] for j in data["jobs"]] == ["s2.archive"]
    assert main(["--config", str(conf), "outbox", "retry", "s2.archive"]) == 0
    assert ob.get("s2.archive").state == "queued" and ob.get("s2.archive").attempts == 0
    assert main(["--config", str(conf), "outbox", "retry", "nosuch"]) == 1
    assert main(["--config", str(conf), "outbox", "retry"]) == 2
    ob.mark_sent("s2.archive")
    ob.mark_error("s2.archive", "again")
    assert main(["--config", str(conf), "outbox", "retry", "--all-failed"]) == 0
    assert "1 job(s) queued again" in capsys.readouterr().out
    assert main(["--config", str(conf), "outbox", "purge", "--done"]) == 0
    assert ob.counts()["done"] == 0 and ob.depth() == 2
    assert main(["--config", str(conf), "outbox", "purge", "--all"]) == 0
    assert ob.list() == []
    ob.close()
