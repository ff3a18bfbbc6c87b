"""Read a DuckDB store that a running liqwatch holds, through that process; `open_reader` picks the way.

DuckDB lets one process write a file and no other process open it meanwhile, even read-only. So a read command
first opens the file itself; when the lock is held by a liqwatch that advertises itself in `<store>.runtime.json`,
it gets a `RemoteStore` instead: each store method call is sent to that process, which runs the very same method on
its own connection (under the writer's lock) and sends the result back unchanged (storage/rpc.py). Every command
then computes and prints exactly what it would from the file.
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from liqwatch import errors
from liqwatch.errors import StorageError, StoreInUse
from liqwatch.storage import EventStore, default_db_path, is_postgres_url, open_store, rpc
from liqwatch.storage.runtime import Runtime, discard_stale, live_runtime

TIMEOUT_S = 600.0  # a long read (a year's heatmap) is still a read


class RemoteStore:
    """The store of a running liqwatch: read methods are run by that process; writes are refused."""

    dialect = "duckdb"

    def __init__(self, info: Runtime, *, timeout_s: float = TIMEOUT_S) -> None:
        self.info = info
        self.path = info.db
        parts = urlsplit(info.url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise StorageError(f"the runtime file of {info.db} names no usable address ({info.url!r})")
        self._host, self._port, self._timeout = parts.hostname, parts.port, timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def __repr__(self) -> str:
        return f"RemoteStore({self.info.db!r} via pid {self.info.pid} at {self.info.url})"

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run one read method of the remote store and return its result.

        Raises:
            StorageError (or the liqwatch error the remote method raised): the read failed.
        """
        body = rpc.encode_request(rpc.Request(method, list(args), kwargs))
        headers = {"Authorization": f"Bearer {self.info.key}", "Content-Type": "application/msgpack"}
        data = b""
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile is reopened once
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
                self._conn.request("POST", "/store", body=body, headers=headers)
                data = self._conn.getresponse().read()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 2:
                    raise StorageError(
                        f"the database {self.info.db} is held by liqwatch (pid {self.info.pid}), whose read service at "
                        f"{self.info.url} does not answer ({exc or type(exc).__name__}): is it stopping?"
                    ) from None
        reply = rpc.decode_reply(data)
        if reply.error is not None:
            kind = getattr(errors, reply.kind or "", None)
            cls = kind if isinstance(kind, type) and issubclass(kind, errors.LiqwatchError) else StorageError
            raise cls(reply.error)
        return rpc.restore(method, reply.result)

    def __getattr__(self, name: str) -> Any:
        if name in rpc.READ_METHODS:
            return lambda *args, **kwargs: self.call(name, *args, **kwargs)
        if name.startswith("write"):
            return self._refuse_write
        raise AttributeError(name)

    def _refuse_write(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreInUse(
            f"the database {self.info.db} is being written by liqwatch (pid {self.info.pid}): stop it to write to "
            "it, or pass --db with another file"
        )

    def close(self) -> None:
        """Close the connection to the running process (the store stays open there)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def held_by(db: str | Path) -> Runtime | None:
    """Return the running liqwatch that advertises `db` (not this process), or None."""
    info = live_runtime(db)
    return info if info is not None and info.pid != os.getpid() else None


def open_reader(url: str | Path | None = None, *, read_only: bool = False) -> EventStore:
    """Open a store to read it: the file itself, or, while a liqwatch holds its lock, that process's store.

    Raises:
        StoreInUse: the file is locked by a process that serves no reads (another program, an older liqwatch).
        StorageError, ConfigError: as `open_store`.
    """
    text = str(url) if url else str(default_db_path())
    if is_postgres_url(text) or text == ":memory:":
        return open_store(text, read_only=read_only)
    path = text.removeprefix("duckdb://")
    try:
        store = open_store(path, read_only=read_only)
    except StoreInUse:
        info = held_by(path)
        if info is None:
            raise
        return cast(EventStore, RemoteStore(info))
    discard_stale(path)  # the lock was free: a runtime file beside it is a crashed process's
    return store


def open_writer(url: str | Path | None = None) -> EventStore:
    """Open a store to write it; when a running liqwatch holds it, say which one (reads work meanwhile).

    Raises:
        StoreInUse: another process holds the file.
    """
    try:
        return open_store(url)
    except StoreInUse as exc:
        info = held_by(str(url or default_db_path()).removeprefix("duckdb://"))
        if info is None:
            raise
        raise StoreInUse(
            f"the database {info.db} is being written by liqwatch (pid {info.pid}, since {info.started_at}): "
            "stop it to write to it (read commands work meanwhile), or pass --db with another file"
        ) from exc
