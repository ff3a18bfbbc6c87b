"""The HTML pages: one shell per page; data arrives from the JSON API and the live stream (no data in templates).

Every value put into a page is HTML-escaped here; the page scripts write venue strings with `textContent` only.
"""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from liqwatch.analytics.htmljson import inline_json
from liqwatch.web import params
from liqwatch.web.queries import Unavailable

router = APIRouter(include_in_schema=False)
_SLOT = re.compile(r"\{\{(title|config|nav|script|content)\}\}")
NAV = (("/", "Overview"), ("/venues", "Venues"), ("/brief", "Brief"))


@cache
def _template(name: str) -> str:
    return resources.files("liqwatch.web").joinpath("templates", name).read_text(encoding="utf-8")


def render(request: Request, template: str, *, title: str, page: str, config: dict[str, Any] | None = None, body: str = "") -> HTMLResponse:
    """Fill the layout with one page's template; `body` must already be safe HTML."""
    settings = request.app.state.settings.web
    cfg = {"page": page, "big_usd": settings.big_usd, **(config or {})}
    nav = "".join(
        f'<a href="{href}"{" class=active" if href == "/" + page.split("/")[0] or (href == "/" and page == "overview") else ""}>{label}</a>'
        for href, label in NAV
    )
    content = _template(template).replace("{{body}}", body)
    values = {
        "title": html.escape(title),
        "config": inline_json(cfg),
        "nav": nav,
        "script": html.escape(page.split("/")[0]),
        "content": content,
    }
    # one pass: a value that happens to contain "{{content}}" (a venue string in the brief) is never filled again
    page_html = _SLOT.sub(lambda m: values[m.group(1)], _template("layout.html"))
    return HTMLResponse(page_html)


@router.get("/")
def overview(
    request: Request,
    at: str | None = None,
    windows: str | None = None,
    t: str | None = None,
    coin: str | None = None,
    venue: str | None = None,
    min_usd: str | None = None,
    alert: str | None = None,
) -> HTMLResponse:
    # an alert's link: /?coin=BTC (or venue=okx)&t=<trigger time>&alert=<id>: the view at that time, pre-filtered
    when = at or t
    cfg: dict[str, Any] = {
        "at": params.time_param(when, "at", now=request.app.state.clock()) if when else None,
        "filter": {"coin": params.coin_param(coin), "venue": params.venue_param(venue), "min_usd": params.float_param(min_usd, "min_usd")},
        "alert": params.alert_param(alert),
    }
    if windows:
        cfg["windows"] = list(params.windows_param(windows, ()))
    return render(request, "overview.html", title="liqwatch — overview", page="overview", config=cfg)


@router.get("/coin/{coin}")
def coin(request: Request, coin: str, at: str | None = None, interval: str | None = None, window: str | None = None) -> HTMLResponse:
    name = params.coin_param(coin)
    params.interval_param(interval, "5m")
    params.window_param(window)
    cfg = {"coin": name, "at": params.time_param(at, "at", now=request.app.state.clock()) if at else None, "interval": interval or "5m", "window": window or "24h"}
    return render(request, "coin.html", title=f"liqwatch — {name}", page="coin", config=cfg)


@router.get("/venues")
def venues(request: Request, at: str | None = None) -> HTMLResponse:
    cfg = {"at": params.time_param(at, "at", now=request.app.state.clock()) if at else None}
    return render(request, "venues.html", title="liqwatch — venues", page="venues", config=cfg)


@router.get("/brief")
def brief(request: Request, at: str | None = None, window: str | None = None, coin: str | None = None) -> HTMLResponse:
    queries = request.app.state.queries
    try:
        result = queries.brief(at=params.time_param(at, "at", now=request.app.state.clock()), window_ns=params.window_param(window), coin=params.coin_param(coin))
    except Unavailable as exc:
        body = f'<p class="unavailable" id="brief-unavailable">The market brief is not available in this build ({html.escape(str(exc))}).</p>'
        response = render(request, "brief.html", title="liqwatch — brief", page="brief", body=body)
        response.status_code = 503
        return response
    from liqwatch.analytics.brief_html import fragment

    body = fragment(result, plotly_src="/vendor/plotly.min.js", dark=True, inline_scripts=False)  # brief.js draws the charts
    return render(request, "brief.html", title="liqwatch — brief", page="brief", body=body)
