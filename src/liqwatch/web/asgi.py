"""The ASGI app: `create_app(store, bus, status_provider, settings)` → FastAPI (Starlette) app, and `serve()` on uvicorn.

Routes live in `api.py` (JSON, SSE, metrics) and `pages.py` (HTML); queries in `queries.py`; no business logic here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from liqwatch.analytics.live import LiveAnalytics
from liqwatch.analytics.numbers import json_bytes
from liqwatch.bus.local import Bus
from liqwatch.config import Settings
from liqwatch.errors import LiqwatchError
from liqwatch.model.time import now_ns
from liqwatch.storage.base import EventStore
from liqwatch.web import api, pages, views
from liqwatch.web.auth import TokenAuth
from liqwatch.web.guard import Guard
from liqwatch.web.live import LiveHub
from liqwatch.web.params import BadRequest
from liqwatch.web.queries import Queries, Unavailable

logger = logging.getLogger(__name__)
StatusProvider = Callable[[], dict[str, Any]]


class TidyJSONResponse(JSONResponse):
    """The API's JSON: floats rounded in the one place liqwatch rounds them (`liqwatch.analytics.numbers`)."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


MAX_ERROR = 300  # characters of a 400's one-line error (params.show already cuts the value it quotes)


def plotly_js() -> Path:
    """Return the path of plotly.min.js inside the installed `plotly` package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(
    store: EventStore,
    bus: Bus,
    status_provider: StatusProvider,
    settings: Settings,
    *,
    store_lock: threading.Lock | None = None,
    analytics: LiveAnalytics | None = None,
    clock: Callable[[], int] | None = None,
) -> FastAPI:
    """Return the dashboard and API over `store` (read-only), live from `bus`; `store_lock` is the writer's lock.

    With `analytics` (the process's `LiveAnalytics`, fed by the same bus) the live totals pushed to browsers come from
    it; without, they are re-read from the store. History (`/api/stats`, `/api/overview` …) always reads the store.
    `clock` is the market's "now" (`App.market_now_ns`; default the wall clock): every absent `at`/`until` of the API
    and the pages, and the live totals' window end, follow it (the demo's scenario time, not today's date).
    """
    market_now = clock or now_ns
    queries = Queries(store, store_lock, settings)
    if analytics is not None:
        live = analytics
        hub = LiveHub(
            bus,
            push_interval_s=settings.web.push_interval_s,
            totals=lambda: views.live_totals(live, at=market_now()),
            settle_s=2.0,
            totals_blocking=False,
            max_clients=settings.web.max_live_clients,
        )
    else:
        hub = LiveHub(
            bus,
            push_interval_s=settings.web.push_interval_s,
            totals=lambda: views.totals(queries, at=market_now()),
            settle_s=settings.store.flush_interval_s + 2.0,
            max_clients=settings.web.max_live_clients,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(
        title="liqwatch",
        summary="Liquidations and open interest from the exchanges' own feeds (read-only).",
        version=_version(),
        docs_url=None,  # the Swagger UI loads its assets from a CDN; the OpenAPI document is enough
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        default_response_class=TidyJSONResponse,
    )
    app.state.queries = queries
    app.state.hub = hub
    app.state.settings = settings
    app.state.clock = market_now
    app.state.status_provider = status_provider
    _errors(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("liqwatch.web", "static")]), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_file() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    if settings.web.token:
        app.add_middleware(TokenAuth, token=settings.web.token)
    # outermost (added last): a Host not served is refused before the token is looked at; headers on every response
    app.add_middleware(Guard, bind=settings.web.host, allowed_hosts=settings.web.allowed_hosts)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(exc)[:MAX_ERROR]}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg')}" for e in exc.errors()]
        return JSONResponse({"error": ("; ".join(parts) or "invalid request")[:MAX_ERROR]}, status_code=400)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"error": f"{exc}"}, status_code=503)

    @app.exception_handler(LiqwatchError)
    async def liqwatch_error(request: Request, exc: LiqwatchError) -> JSONResponse:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": "reading the store failed; the server log has the details"}, status_code=500)


def _version() -> str:
    from liqwatch import __version__

    return __version__


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the caller (liqwatch up) owns SIGINT/SIGTERM
        yield


class WebServer:
    """uvicorn serving an app inside the caller's event loop (`liqwatch up`), on `[web] host:port`."""

    def __init__(self, app: FastAPI, *, host: str, port: int) -> None:
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1
        )
        self.server = _Server(self.config)
        self._task: asyncio.Task[None] | None = None

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit:
            # uvicorn calls sys.exit() on a bind error after logging it. Raised from a task, SystemExit is not kept
            # in the task: asyncio re-raises it out of the event loop, which stopped all of `liqwatch up` instead of
            # running on without the dashboard. Turn it into the error start() reports.
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}") from None

    async def start(self) -> None:
        """Start serving; return once the socket is bound.

        Raises:
            OSError: the address is in use (or cannot be bound).
            LiqwatchError: the server stopped before it was listening.
        """
        self._task = asyncio.create_task(self._serve(), name="web")
        while not self.server.started:
            if self._task.done():
                self._task.result()  # OSError from _serve
                raise LiqwatchError(f"the web server on {self.config.host}:{self.config.port} did not start")
            await asyncio.sleep(0.02)

    @property
    def port(self) -> int:
        """Return the bound port (useful with port 0)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.config.port

    @property
    def url(self) -> str:
        host = self.config.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    async def stop(self) -> None:
        """Stop serving and close open streams.

        The live streams end first (`LiveHub.close_streams`), so uvicorn's graceful shutdown finds no response still
        running and never cancels one (a browser connected at Ctrl-C printed a CancelledError traceback per stream).
        """
        hub = getattr(getattr(self.config.app, "state", None), "hub", None)
        if hub is not None:
            hub.close_streams()
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)
