"""Read-only JSON endpoints: thin wrappers that parse parameters and call `views`/`queries`."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from liqwatch.web import metrics, params, views
from liqwatch.web.guard import csp
from liqwatch.web.queries import Queries

router = APIRouter()


def _q(request: Request) -> Queries:
    return request.app.state.queries  # type: ignore[no-any-return]


def _now(request: Request) -> int:
    """Return the market's "now" (`App.market_now_ns`): what every absent `at`/`until` defaults to."""
    return request.app.state.clock()  # type: ignore[no-any-return]


def _status(request: Request) -> dict[str, Any]:
    return request.app.state.status_provider()  # type: ignore[no-any-return]


@router.get("/api/stats", tags=["liquidations"], summary="Totals over a window (= liqwatch stats --json)")
def stats(request: Request, window: str | None = None, at: str | None = None) -> dict[str, Any]:
    until = params.time_param(at, "at", now=_now(request))
    result = _q(request).stats(since=until - params.window_param(window), until=until)
    return {**result, "window": window or "24h"}


@router.get("/api/overview", tags=["liquidations"], summary="Totals for 1h, 4h, 12h and 24h (or ?windows=…)")
def overview(request: Request, at: str | None = None, windows: str | None = None) -> dict[str, Any]:
    labels = params.windows_param(windows, views.OVERVIEW_WINDOWS)
    return views.totals(_q(request), at=params.time_param(at, "at", now=_now(request)), windows=labels)


@router.get("/api/liquidation-series", tags=["liquidations"], summary="Longs and shorts liquidated per interval over a window")
def liquidation_series(
    request: Request, window: str | None = None, at: str | None = None, coin: str | None = None, interval: str | None = None
) -> dict[str, Any]:
    """Return the overview's chart: liquidated USD per bar and side over the window ending at `at` (default: the
    market's now), for one coin or all; `interval` 1m, 5m, 15m, 1h, 4h or 1d (default: at most 120 bars). The bars add
    up to `/api/stats` over the same window (`long_usd`, `short_usd`, `count` are their sums)."""
    until = params.time_param(at, "at", now=_now(request))
    length = params.window_param(window)
    interval_s = params.interval_param(interval) if interval else views.series_interval(length)
    return views.liquidation_series(
        _q(request), since=until - length, until=until, interval_s=interval_s, coin=params.coin_param(coin)
    )


@router.get("/api/liquidations", tags=["liquidations"], summary="Stored liquidations, newest first")
def liquidations(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    window: str | None = None,
    venue: str | None = None,
    coin: str | None = None,
    min_usd: str | None = None,
    limit: str | None = None,
) -> list[dict[str, Any]]:
    start, end = params.range_params(since, until, window, now=_now(request))
    return _q(request).liquidations(
        since=start,
        until=end,
        venue=params.venue_param(venue),
        coin=params.coin_param(coin),
        min_usd=params.float_param(min_usd, "min_usd"),
        limit=params.limit_param(limit),
    )


@router.get("/api/top", tags=["liquidations"], summary="The largest liquidations of a window")
def top(request: Request, window: str | None = None, at: str | None = None, coin: str | None = None, limit: str | None = None) -> list[dict[str, Any]]:
    until = params.time_param(at, "at", now=_now(request))
    return _q(request).top(
        since=until - params.window_param(window), until=until, limit=params.limit_param(limit, 10), coin=params.coin_param(coin)
    )


@router.get("/api/coins", tags=["market"], summary="Per-coin table: price, liquidations, OI and funding")
def coins(request: Request, at: str | None = None) -> dict[str, Any]:
    when = params.time_param(at, "at", now=_now(request))
    return {"at_ns": when, "coins": views.coin_table(_q(request), at=when)}


@router.get("/api/oi", tags=["open interest"], summary="Open interest per venue and coin (= liqwatch oi --json)")
def oi(request: Request, coin: str | None = None, at: str | None = None) -> dict[str, Any]:
    return _q(request).oi(at=params.time_param(at, "at", now=_now(request)), coin=params.coin_param(coin))


@router.get("/api/candles", tags=["market"], summary="Coin chart series: candles, liquidation bars, OI, signals, levels")
def candles(
    request: Request,
    coin: str,
    interval: str | None = None,
    window: str | None = None,
    at: str | None = None,
    venue: str | None = None,
    symbol: str | None = None,
) -> dict[str, Any]:
    """Return one reference market's candles (`market`), liquidated USD per bucket and side across venues
    (`liquidations`), total one-sided OI (`open_interest`), the window's stored `signals`, and the coin's configured
    level rules (`levels`: `levels` prices, `zones` as [low, high], `daily_close`, from `[signals.levels.COIN]`)."""
    name = params.coin_param(coin, "coin")
    if name is None:
        raise params.BadRequest("coin must not be empty")
    until = params.time_param(at, "at", now=_now(request))
    if symbol is not None and not params.coin_param(symbol, "symbol"):
        raise params.BadRequest("symbol must not be empty")
    venue_name = params.venue_param(venue)
    return views.coin_chart(
        _q(request),
        coin=name,
        since=until - params.window_param(window),
        until=until,
        interval_s=params.interval_param(interval, "5m"),
        venue=venue_name,
        symbol=symbol,
    )


@router.get("/api/price", tags=["market"], summary="Price context: price, changes, drawdown from ATH")
def price(request: Request, coin: str, at: str | None = None) -> dict[str, Any]:
    name = params.coin_param(coin)
    if name is None:
        raise params.BadRequest("coin must not be empty")
    return _q(request).price(coin=name, at=params.time_param(at, "at", now=_now(request)))


@router.get("/api/signals", tags=["signals"], summary="Signals that fired in a window")
def signals(
    request: Request, since: str | None = None, until: str | None = None, window: str | None = None, coin: str | None = None
) -> list[dict[str, Any]]:
    start, end = params.range_params(since, until, window, now=_now(request))
    return _q(request).signals(since=start, until=end, coin=params.coin_param(coin))


@router.get("/api/alerts", tags=["alerts"], summary="Alerts fired in a window, newest first (= liqwatch alerts recent --json)")
def alerts(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    window: str | None = None,
    coin: str | None = None,
    venue: str | None = None,
    limit: str | None = None,
) -> list[dict[str, Any]]:
    """Return stored alerts with since < trigger time <= until: rule, subject (coin, or venue for feed rules), title,
    body, the numbers behind it (`values`), delivery counts, and `view`, the dashboard link the alert carried (overview
    pre-filtered to its coin or venue at its trigger time) on this host; `coin_page` for coin alerts."""
    start, end = params.range_params(since, until, window or "7d", now=_now(request))
    return _q(request).alerts(
        since=start, until=end, coin=params.coin_param(coin), venue=params.venue_param(venue), limit=params.limit_param(limit, 50)
    )


@router.get("/api/heatmap", tags=["market"], summary="Liquidation heatmap grid and current liquidation map")
def heatmap(request: Request, coin: str, window: str | None = None, at: str | None = None) -> dict[str, Any]:
    """Return `grid` (= `liqwatch heatmap --json`: modelled liquidation USD per time column and price row over the
    window) and `current` (= `liqwatch map --json` at the window's end: `buckets` with `price`, `long_usd`, `short_usd`
    per price bucket, clusters, cumulative curves, max pain), both with the model's `assumptions` ([heatmap] config)."""
    name = params.coin_param(coin)
    if name is None:
        raise params.BadRequest("coin must not be empty")
    until = params.time_param(at, "at", now=_now(request))
    return _q(request).heatmap(coin=name, since=until - params.window_param(window), until=until)


@router.get("/api/venues", tags=["venues"], summary="Per venue and connection: state, age, rate, reconnects, skipped")
def venues(request: Request, at: str | None = None) -> dict[str, Any]:
    return views.venues(_q(request), _status(request), at=params.time_param(at, "at", now=_now(request)))


@router.get("/api/brief", tags=["brief"], summary="The market brief (format=json, markdown or html)")
def brief(
    request: Request, at: str | None = None, window: str | None = None, coin: str | None = None, format: str = "json"
) -> Any:
    format = params.choice_param(format, "format", ("json", "markdown", "html"), "json")
    result = _q(request).brief(at=params.time_param(at, "at", now=_now(request)), window_ns=params.window_param(window), coin=params.coin_param(coin))
    if format == "markdown":
        return PlainTextResponse(result.to_markdown(), media_type="text/markdown")
    if format == "html":  # the standalone page: plotly.js and the drawing script inline, allowed by a nonce
        nonce = secrets.token_urlsafe(18)
        return HTMLResponse(result.to_html(nonce=nonce), headers={"Content-Security-Policy": csp(f"'nonce-{nonce}'")})
    return result.to_dict()


@router.get("/api/stream", tags=["live"], summary="Server-sent events: batched liquidations, feed status, totals")
async def stream(request: Request) -> StreamingResponse:
    hub = request.app.state.hub
    hub.start()
    return StreamingResponse(
        hub.stream(request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/metrics", tags=["operators"], summary="Prometheus metrics", response_class=PlainTextResponse)
def prometheus(request: Request) -> Response:
    text = metrics.render(_status(request), request.app.state.hub.stats())
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
