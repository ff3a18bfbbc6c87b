"""The brief as one standalone HTML page: takeaways, two figures, the disclaimer; plotly.js inlined from the package."""

from __future__ import annotations

import html
import importlib.util
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liqwatch.analytics.htmljson import inline_json

if TYPE_CHECKING:
    from liqwatch.analytics.brief import Brief

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.6em}li{margin:.35em 0}.meta,.caveat{color:#666}.chart{height:420px}footer{margin-top:2em;color:#666}"
)


@cache
def _plotly_js() -> str | None:
    spec = importlib.util.find_spec("plotly")  # the file only; importing plotly's Python side is not needed
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path.read_text(encoding="utf-8") if path.exists() else None


def _figures(d: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    charts, figs = d["charts"], []
    if charts["candles"] or charts["liquidations"]:
        c, lq = charts["candles"], charts["liquidations"]
        traces = [
            {"type": "candlestick", "name": f"{charts['coin']} 15m", "x": [b["t"] for b in c], "open": [b["open"] for b in c],
             "high": [b["high"] for b in c], "low": [b["low"] for b in c], "close": [b["close"] for b in c], "yaxis": "y"},
            {"type": "bar", "name": "longs liquidated", "x": [b["t"] for b in lq], "y": [b["long_usd"] for b in lq],
             "marker": {"color": "#d62728"}, "yaxis": "y2", "opacity": 0.6},
            {"type": "bar", "name": "shorts liquidated", "x": [b["t"] for b in lq], "y": [b["short_usd"] for b in lq],
             "marker": {"color": "#2ca02c"}, "yaxis": "y2", "opacity": 0.6},
        ]
        layout = {"title": {"text": f"{charts['coin']} today: price and liquidations (15m)"}, "barmode": "stack",
                  "xaxis": {"rangeslider": {"visible": False}}, "yaxis": {"title": {"text": "price"}, "domain": [0.35, 1]},
                  "yaxis2": {"title": {"text": "USD liquidated"}, "domain": [0, 0.3]}}
        figs.append(("day", {"data": traces, "layout": layout}))
    by_coin = d["stats"]["by_coin"]
    if by_coin:
        coins = list(by_coin)[:10]
        traces = [
            {"type": "bar", "name": "longs", "x": coins, "y": [by_coin[c]["long_usd"] for c in coins], "marker": {"color": "#d62728"}},
            {"type": "bar", "name": "shorts", "x": coins, "y": [by_coin[c]["short_usd"] for c in coins], "marker": {"color": "#2ca02c"}},
        ]
        figs.append(("coins", {"data": traces, "layout": {"title": {"text": f"Liquidations by coin and side, {d['window']}"}, "barmode": "group", "yaxis": {"title": {"text": "USD"}}}}))
    return figs


_DARK = {"paper_bgcolor": "#11151c", "plot_bgcolor": "#11151c", "font": {"color": "#cfd6e4"}}


# Draws every figure of the page from its JSON block (`script.figure-spec`, never executed): inlined in a standalone
# brief; the dashboard's brief page runs the same loop from /static/brief.js (its CSP allows no inline script).
DRAW_JS = (
    "document.querySelectorAll('script.figure-spec').forEach(function(s){var f=JSON.parse(s.textContent);"
    "Plotly.newPlot(s.dataset.target,f.data,f.layout,{responsive:true});});"
)


def fragment(brief: Brief, *, plotly_src: str | None = None, dark: bool = False, inline_scripts: bool = True, nonce: str | None = None) -> str:
    """Return the brief's content (headline, takeaways, coverage, charts, disclaimer) to place inside a page's body.

    `plotly_src` is the URL of plotly.min.js to load (the dashboard's `/vendor/plotly.min.js`); None inlines the file
    from the installed package (a standalone page that works offline). `dark` colours the charts for the dashboard.
    Each figure is a JSON block (through `inline_json`: no venue string can end it); with `inline_scripts` an inline
    script draws them (`nonce` set on it and on inlined plotly.js), without it the page's own script must (`DRAW_JS`).
    """
    d = brief.data
    parts = [
        f"<h1>{html.escape(brief.headline)}</h1>",
        f"<p class='meta'>{html.escape(d['window'])} to {html.escape(d['until'])}</p>",
        "<h2>Key takeaways</h2><ul class='takeaways'>",
        *[f"<li>{html.escape(t)}</li>" for t in brief.takeaways],
        "</ul>",
    ]
    if brief.caveats:
        parts += ["<h2>Coverage</h2><ul>", *[f"<li class='caveat'>{html.escape(c)}</li>" for c in brief.caveats], "</ul>"]
    figs = _figures(d)
    js = None if plotly_src else _plotly_js()
    attr = f" nonce='{html.escape(nonce, quote=True)}'" if nonce else ""
    if figs and (js or plotly_src):
        parts.append(f"<script src='{html.escape(plotly_src, quote=True)}'></script>" if plotly_src else f"<script{attr}>{js}</script>")
        for name, fig in figs:
            if dark:
                fig = {**fig, "layout": {**fig["layout"], **_DARK}}
            parts.append(
                f"<div id='fig-{name}' class='chart'></div>"
                f"<script type='application/json' class='figure-spec' data-target='fig-{name}'>{inline_json(fig)}</script>"
            )
        if inline_scripts:
            parts.append(f"<script{attr}>{DRAW_JS}</script>")
    elif figs:
        parts.append("<p class='caveat'>Charts need the plotly package (pip install plotly).</p>")
    from liqwatch.analytics.brief import DISCLAIMER

    parts.append(f"<footer>{html.escape(DISCLAIMER)}</footer>")
    return "\n".join(parts)


def render(brief: Brief, *, nonce: str | None = None) -> str:
    """Return the brief as a standalone HTML document (plotly.js inlined: it opens offline, from a file).

    `nonce` marks its inline scripts for a Content-Security-Policy `script-src 'nonce-…'` (the dashboard's API).
    """
    return "\n".join([
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(brief.headline)}</title><style>{_STYLE}</style></head><body>",
        fragment(brief, nonce=nonce),
        "</body></html>",
    ])
