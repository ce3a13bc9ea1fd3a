"""A real cupsd for tests: its own config, spool and log folders, listening on a loopback port.

Why a private cupsd rather than the system one: tests must not depend on (or disturb) the
machine's printers, and must start and stop their servers in bounded time. cupsd has to run as
root (it drops to ``lp`` for filters); the cups-pdf backend reads its configuration only from
``/etc/cups/cups-pdf-<name>.conf`` (``<name>`` = the device URI's path), so a PDF queue writes a
uniquely named file there, removed again on stop.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from testkit import free_port

CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")


class CupsServer:
    def __init__(self, workdir: Path | None = None) -> None:
        missing = [t for t in ("cupsd", "lpadmin", "lp", "lpstat", "cupsenable", "cupsdisable") if not shutil.which(t)]
        if missing:
            raise RuntimeError(f"CUPS is not installed ({', '.join(missing)} missing): "
                               "apt-get install cups cups-client printer-driver-cups-pdf (scripts/setup_env.sh does)")
        if os.geteuid() != 0:
            raise RuntimeError("cupsd must be started as root for the printing tests")
        # cupsd's filters and backends run as the lp user: every folder on the way to the spool
        # must be searchable by it, which pytest's 0700 temporary folders are not
        self._own_dir = workdir is None
        self.dir = Path(tempfile.mkdtemp(prefix="edgecam-cups-")) if workdir is None else workdir
        self.dir.chmod(0o755)
        self.port = free_port()
        self.server = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._pdf_confs: list[Path] = []

    def env(self) -> dict[str, str]:
        return dict(os.environ, CUPS_SERVER=self.server, LC_ALL="C", LANG="C")

    def start(self) -> CupsServer:
        root = self.dir / "root"
        for sub in ("root", "spool/tmp", "cache", "state", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "spool" / "tmp").chmod(0o1777)
        (root / "cupsd.conf").write_text(
            f"Listen 127.0.0.1:{self.port}\nLogLevel warn\nWebInterface No\nBrowsing No\n"
            "DefaultAuthType None\nJobRetryInterval 1\n"
            "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Location /admin>\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n")
        d = self.dir
        (root / "cups-files.conf").write_text(
            f"ServerRoot {root}\nRequestRoot {d / 'spool'}\nCacheDir {d / 'cache'}\nStateDir {d / 'state'}\n"
            f"TempDir {d / 'spool' / 'tmp'}\nErrorLog {d / 'log' / 'error_log'}\n"
            f"AccessLog {d / 'log' / 'access_log'}\nPageLog {d / 'log' / 'page_log'}\n"
            "User lp\nGroup lp\nSystemGroup root\nSandboxing Relaxed\n")
        argv = ["cupsd", "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (d / "log" / "error_log")
                raise RuntimeError(f"cupsd exited: {log.read_text() if log.exists() else 'no log'}")
            r = subprocess.run(["lpstat", "-r"], env=self.env(), capture_output=True, text=True)
            if "is running" in r.stdout:
                return self
            time.sleep(0.1)
        raise RuntimeError("cupsd did not come up within 15 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
        for conf in self._pdf_confs:
            conf.unlink(missing_ok=True)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, *argv: str) -> str:
        r = subprocess.run(list(argv), env=self.env(), capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
        return r.stdout

    def add_pdf_queue(self, name: str) -> Path:
        """A cups-pdf queue whose PDFs land in a folder of their own (returned)."""
        tag = f"edgecamtest{uuid.uuid4().hex[:8]}"
        out = self.dir / f"pdf-{name}"
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o777)
        conf = Path("/etc/cups") / f"cups-pdf-{tag}.conf"
        conf.write_text(f"Out {out}\nAnonDirName {out}\n")
        self._pdf_confs.append(conf)
        self.run("lpadmin", "-p", name, "-E", "-v", f"cups-pdf:/{tag}", "-P", str(CUPS_PDF_PPD))
        return out

    def add_socket_queue(self, name: str, port: int) -> None:
        """A raw queue whose backend sends the job's bytes to 127.0.0.1:port (a network printer)."""
        self.run("lpadmin", "-p", name, "-E", "-v", f"socket://127.0.0.1:{port}", "-m", "raw")

    def completed(self, queue: str) -> list[str]:
        return [line.split()[0] for line in self.run("lpstat", "-W", "completed", "-o", queue).splitlines() if line]


class SinkPrinter:
    """A TCP "network printer" on loopback (the JetDirect/AppSocket protocol: bytes in, nothing out)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.jobs: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(10)
                chunks = []
                while True:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        break
                    if not data:
                        break
                    chunks.append(data)
                self.jobs.append(b"".join(chunks))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
