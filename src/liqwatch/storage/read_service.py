"""The read service of a process that holds a DuckDB store: other processes' read commands run through it.

It listens on 127.0.0.1 (an ephemeral port), whatever the dashboard does (on, off, another host, a token), and
answers `POST /store` with one store read (storage/rpc.py) run on this process's store under the writer's lock,
in a worker thread so the event loop keeps collecting. A random key, written only to the 0600 runtime file beside
the store (storage/runtime.py), authorises a request: other users of the machine cannot read through it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from typing import Any

import msgspec
from aiohttp import web

from liqwatch.errors import LiqwatchError
from liqwatch.model.time import now_ns, ns_to_iso
from liqwatch.storage import rpc
from liqwatch.storage.runtime import Runtime, remove_runtime, write_runtime

logger = logging.getLogger(__name__)


class ReadServer:
    """Serve reads of `store` to other processes while this one holds it."""

    def __init__(self, store: Any, lock: threading.Lock, *, db: str, dashboard: str | None = None) -> None:
        self.store = store
        self.lock = lock
        self.db = db
        self.dashboard = dashboard
        self.key = secrets.token_urlsafe(32)
        self.info: Runtime | None = None
        self.served = 0
        self.refused = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str | None:
        return self.info.url if self.info is not None else None

    async def start(self) -> None:
        """Listen on 127.0.0.1 and write the runtime file. Raises: OSError: cannot listen or write it."""
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/store", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.info = Runtime(
            pid=os.getpid(), url=f"http://127.0.0.1:{port}", key=self.key, db=os.path.abspath(os.path.expanduser(self.db)),
            started_at=ns_to_iso(now_ns()), dashboard=self.dashboard,
        )
        try:
            write_runtime(self.db, self.info)
        except OSError:
            await self.stop()
            raise

    def set_dashboard(self, url: str | None) -> None:
        """Advertise the dashboard's URL too (it starts after the read service)."""
        if self.info is not None and url != self.info.dashboard:
            old, self.info = self.info, msgspec.structs.replace(self.info, dashboard=url)
            try:
                write_runtime(self.db, self.info)
            except OSError as exc:
                logger.warning("could not update %s: %s", self.db, exc)
                self.info = old

    async def stop(self) -> None:
        """Remove the runtime file, then stop listening."""
        if self.info is not None:
            try:
                remove_runtime(self.db, self.info)
            except OSError as exc:
                logger.warning("could not remove the runtime file of %s: %s", self.db, exc)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {self.key}".encode()):
            self.refused += 1
            return _reply(rpc.Reply(error="not authorised: the key is in the store's runtime file", kind="StorageError"), 401)
        try:
            req = rpc.decode_request(await request.read())
            rpc.check_request(req)
        except LiqwatchError as exc:
            self.refused += 1
            return _reply(rpc.Reply(error=str(exc), kind=type(exc).__name__), 400)
        return await asyncio.to_thread(self._run, req)

    def _run(self, req: rpc.Request) -> web.Response:
        try:
            with self.lock:
                result = getattr(self.store, req.method)(*req.args, **req.kwargs)
            body = rpc.encode_reply(rpc.Reply(result=result))
        except LiqwatchError as exc:
            return _reply(rpc.Reply(error=str(exc), kind=type(exc).__name__), 400)
        except Exception as exc:  # a read that fails here must not stop anything: the caller gets the reason
            logger.exception("store read %s failed", req.method)
            return _reply(rpc.Reply(error=f"{req.method} failed in the running liqwatch: {exc}", kind="StorageError"), 500)
        self.served += 1
        return web.Response(body=body, content_type="application/msgpack")


def _reply(reply: rpc.Reply, status: int) -> web.Response:
    return web.Response(body=rpc.encode_reply(reply), status=status, content_type="application/msgpack")
