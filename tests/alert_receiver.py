"""A real HTTP webhook receiver on 127.0.0.1 for apprise's json:// destinations: answers, fails, or hangs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web


class Receiver:
    """Record every JSON body posted; `fail_first` requests answer 500; `hang_s` delays every answer."""

    def __init__(self, *, fail_first: int = 0, hang_s: float = 0.0, status: int = 200) -> None:
        self.fail_first = fail_first
        self.hang_s = hang_s
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.received: list[dict[str, Any]] = []  # bodies answered with success
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.requests.append(body)
        self.paths.append(request.path)
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if len(self.requests) <= self.fail_first or self.status >= 400:
            return web.Response(status=500 if self.status < 400 else self.status, text="receiver failing on purpose")
        self.received.append(body)
        return web.Response(status=200, text="ok")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def url(self, path: str = "hook/s3cretTOKEN42", scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{path}"
