"""`<store>.runtime.json`: how to reach the process that holds a DuckDB file, written beside it while it runs.

`liqwatch up` (and `demo`, `record`) write it once their read service listens, mode 0600 (it holds the key that
authorises reads), and remove it on a clean exit. A file whose pid is not alive is stale (a crash, a kill -9):
readers ignore and remove it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import msgspec

SUFFIX = ".runtime.json"


class Runtime(msgspec.Struct, frozen=True):
    """What a reader needs to ask the running process."""

    pid: int
    url: str  # the read service, http://127.0.0.1:PORT
    key: str  # sent as a bearer token; only the owner of this 0600 file can read it
    db: str  # the store's absolute path
    started_at: str  # ISO-8601 UTC
    dashboard: str | None = None  # the dashboard's URL when it serves one


def runtime_path(db: str | Path) -> Path:
    """Return the runtime file of a DuckDB store path."""
    path = Path(db).expanduser()
    return path.with_name(path.name + SUFFIX)


def write_runtime(db: str | Path, info: Runtime) -> Path:
    """Write the runtime file atomically, readable by its owner only."""
    path = runtime_path(db)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, msgspec.json.encode(info) + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def remove_runtime(db: str | Path, info: Runtime) -> None:
    """Remove the runtime file if it is still this process's (a newer process may have replaced it)."""
    path = runtime_path(db)
    if read_runtime(path) == info:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_runtime(path: Path) -> Runtime | None:
    """Return the runtime file's content; None when there is none or it is unreadable (counted as absent)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=Runtime)
    except (OSError, msgspec.DecodeError, json.JSONDecodeError):
        return None


def pid_alive(pid: int) -> bool:
    """Return whether a process with this id exists."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        return True
    return True


def live_runtime(db: str | Path) -> Runtime | None:
    """Return the runtime file of the process holding `db`; a stale one (dead pid) is removed and None returned."""
    path = runtime_path(db)
    info = read_runtime(path)
    if info is None:
        return None
    if not pid_alive(info.pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return info


def discard_stale(db: str | Path) -> None:
    """Remove a runtime file beside a store whose lock this process just took: no one else can be serving it."""
    path = runtime_path(db)
    info = read_runtime(path)
    if info is not None and info.pid != os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
