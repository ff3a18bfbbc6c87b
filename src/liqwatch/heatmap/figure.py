"""Plotly figures a trader recognises: price candles over the liquidation heat, and the map's bars and curves.

HTML embeds plotly.js from the installed `plotly` package (works offline); PNG goes through `kaleido`, which
drives a local Chromium (Debian's /usr/bin/chromium works). Both are the `charts` extra, imported lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liqwatch.errors import ConfigError

COLORSCALE = [[0.0, "rgba(40,0,70,0)"], [0.02, "#3b0f70"], [0.3, "#2c7fb8"], [0.6, "#41b6c4"], [0.85, "#c7e9b4"],
              [1.0, "#ffff33"]]


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ConfigError("figures need plotly: pip install 'liqwatch[charts]'") from None
    return go


def heatmap_figure(grid: dict[str, Any]) -> Any:
    """Return a figure: the modelled active liquidation USD per time × price, with the reference candles on top."""
    go = _go()
    fig = go.Figure()
    if not grid.get("empty", True) or grid.get("candles"):
        x_axis, y_axis = grid["x_axis"], grid["y_axis"]
        z = [[None] * len(x_axis) for _ in y_axis]
        for x, y, usd in grid["cells"]:
            z[y][x] = usd
        bucket = grid["bucket"]
        fig.add_trace(go.Heatmap(
            x=x_axis, y=[p + bucket / 2 for p in y_axis], z=z, colorscale=COLORSCALE, zmin=0,
            colorbar={"title": "USD (modelled)"}, hovertemplate="%{x}<br>%{y:,.2f}<br>$%{z:,.0f}<extra></extra>",
        ))
        candles = grid.get("candles") or []
        fig.add_trace(go.Candlestick(
            x=[x_axis[c[0]] for c in candles], open=[c[1] for c in candles], high=[c[2] for c in candles],
            low=[c[3] for c in candles], close=[c[4] for c in candles], name=grid.get("reference", "price"),
            increasing_line_color="#26a69a", decreasing_line_color="#ef5350",
        ))
        lows = [c[3] for c in candles] or [y_axis[0]]
        highs = [c[2] for c in candles] or [y_axis[-1]]
        pad = (max(highs) - min(lows)) * 0.6 or bucket * 10
        fig.update_yaxes(range=[min(lows) - pad, max(highs) + pad])
    a = grid["assumptions"]
    tiers = ", ".join(f"{t['leverage']:g}x {t['share']:.0%}" for t in a["tiers"])
    fig.update_layout(
        title=f"{grid['coin']} liquidation heatmap (OI-delta model), {grid.get('since', '')[:16]} → {grid.get('until', '')[:16]} UTC"
              f"<br><sup>tiers {tiers}; entry {a['entry_proxy']}; split {a['long_share']}; {a['mmr_source']}</sup>",
        template="plotly_dark", xaxis_rangeslider_visible=False, yaxis_title="price", height=700, width=1200,
    )
    return fig


def map_figure(m: dict[str, Any]) -> Any:
    """Return a figure: USD per price bucket (longs below price, shorts above) and the cumulative curves."""
    go = _go()
    fig = go.Figure()
    buckets = m.get("buckets") or []
    fig.add_trace(go.Bar(x=[b["price"] for b in buckets], y=[b["long_usd"] for b in buckets], name="long levels",
                         marker_color="#ef5350"))
    fig.add_trace(go.Bar(x=[b["price"] for b in buckets], y=[b["short_usd"] for b in buckets], name="short levels",
                         marker_color="#26a69a"))
    for key, name, color in (("cumulative_long", "cumulative longs", "#ff8a80"), ("cumulative_short", "cumulative shorts", "#a7ffeb")):
        curve = m.get(key) or []
        fig.add_trace(go.Scatter(x=[p for p, _ in curve], y=[c for _, c in curve], name=name, yaxis="y2",
                                 line={"color": color}))
    if m.get("price"):
        fig.add_vline(x=m["price"], line_dash="dash", annotation_text=f"price {m['price']:,.2f}")
    fig.update_layout(
        title=f"{m['coin']} liquidation map at {m.get('at', '')[:16]} UTC (modelled, relative)", template="plotly_dark",
        barmode="overlay", yaxis={"title": "USD per bucket"}, xaxis={"title": "price"}, height=600, width=1200,
        yaxis2={"title": "cumulative USD", "overlaying": "y", "side": "right", "rangemode": "tozero"},
    )
    return fig


def save(fig: Any, path: Path) -> None:
    """Write a figure as HTML (plotly.js embedded, offline) or PNG (kaleido + a local Chromium), by suffix."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        fig.write_html(str(path), include_plotlyjs=True, full_html=True)
        return
    if suffix != ".png":
        raise ConfigError(f"figure file {path} must end in .html or .png")
    try:
        fig.write_image(str(path), scale=1)
    except Exception as exc:  # kaleido missing, or no Chromium it can start
        raise ConfigError(
            f"PNG export failed ({type(exc).__name__}: {exc}); install kaleido (pip install 'liqwatch[charts]') and "
            "a Chromium (Debian: apt install chromium), or write --html instead"
        ) from None
