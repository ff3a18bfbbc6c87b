"""Throw-away PostgreSQL and nats-server (JetStream) instances on 127.0.0.1, for tests, benchmarks and demos.

Each server lives in its own temporary directory on a free port and is stopped by its own PID. PostgreSQL
refuses to run as root, so when we are root the cluster runs as an unprivileged user (`postgres` when the
Debian package created it, else `nobody`) through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class ServerUnavailable(RuntimeError):
    """A server binary is not installed (tests skip with this message)."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on 127.0.0.1:{port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def postgres_bindir() -> Path:
    """Return the directory holding initdb/pg_ctl (newest Debian version first, then $PATH).

    Raises:
        ServerUnavailable: no PostgreSQL server binaries are installed.
    """
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServerUnavailable("PostgreSQL server binaries not found (apt-get install postgresql)")


def nats_server_binary() -> str:
    """Return the nats-server executable.

    Raises:
        ServerUnavailable: nats-server is not installed.
    """
    found = shutil.which("nats-server") or next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if Path(p).exists()), None)
    if not found:
        raise ServerUnavailable("nats-server not found (apt-get install nats-server)")
    return found


class LocalPostgres:
    """A PostgreSQL cluster in a temp dir (or `root`, kept and reused), trust auth, listening on 127.0.0.1 only.

    `settings` are extra server parameters (`-c name=value`), e.g. a bulk-loading configuration for a benchmark.
    """

    def __init__(self, port: int | None = None, *, root: Path | None = None, settings: dict[str, str] | None = None) -> None:
        self.bindir = postgres_bindir()
        self.port = port or free_port()
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        self.root = root if root is not None else Path(tempfile.mkdtemp(prefix="liqwatch-pg-"))
        self.data = self.root / "data"
        self.settings = dict(settings or {})
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = _unprivileged_user()
            os.chmod(self.root, 0o700)
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stderr.decode(errors='replace')[-2000:]}")

    def start(self) -> LocalPostgres:
        """Create the cluster (first time) and start it; return self."""
        if not self.data.exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=100"
        opts += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"), "-w", "start")
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        with contextlib.suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """Return the libpq URL of a database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServerUnavailable("running as root and neither user 'postgres' nor 'nobody' exists to run PostgreSQL")


class LocalNats:
    """A nats-server with JetStream in a temp dir on 127.0.0.1; restartable on the same port and store."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = nats_server_binary()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="liqwatch-nats-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> LocalNats:
        """Start the server and wait until it listens; return self."""
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.root / "js")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        _wait_port(self.port, 15, self.proc)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down `down_s` seconds, and start again on the same port with the same JetStream store."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
