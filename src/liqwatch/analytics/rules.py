"""Signal rules: pure functions from closed-bar numbers to `Signal` events (no I/O, no clock).

Kinds (the alerts engine matches on these):
- `long-cluster` / `short-cluster`: one side's liquidated USD in a bar above the given percentile of the lookback bars,
  that side's share of the bar at least `cluster_share`, and at least `cluster_min_usd`;
- `leverage-flush`: coin-terms OI fell by more than `flush_drop_pct` over `flush_window`;
- `oi-price-divergence`: price up while coin-terms OI fell, or price down while it rose (inputs name which);
- `level-cross`: a bar closed on the other side of a configured level than the bar before;
- `zone-reclaim` / `zone-lost`: a close above a zone's high after one at or below it / below its low after one at or above;
- `close-below-prior-low` / `close-above-prior-high`: a UTC daily close beyond the prior day's low/high.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from liqwatch.config import LevelRules, SignalSettings
from liqwatch.model import Signal

KINDS = (
    "long-cluster",
    "short-cluster",
    "leverage-flush",
    "oi-price-divergence",
    "level-cross",
    "zone-reclaim",
    "zone-lost",
    "close-below-prior-low",
    "close-above-prior-high",
)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _signal(kind: str, coin: str, timeframe: str, direction: str, message: str, inputs: dict[str, Any], ts: int, ts_recv: int) -> Signal:
    return Signal(
        kind=kind,
        coin=coin,
        timeframe=timeframe,
        direction=direction,
        message=message,
        inputs=msgspec.json.encode(inputs).decode(),
        ts_event=ts,
        ts_recv=ts_recv,
    )


def _usd(x: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:,.2f}{suffix}"
    return f"${x:,.0f}"


def liquidation_clusters(
    *,
    coin: str,
    timeframe: str,
    bar_close: int,
    long_usd: float,
    short_usd: float,
    lookback_long: Sequence[float],
    lookback_short: Sequence[float],
    params: SignalSettings,
    ts_recv: int,
) -> list[Signal]:
    """Return a long-cluster and/or short-cluster signal for one closed bar against its lookback bars."""
    if len(lookback_long) < params.cluster_min_bars:
        return []
    total = long_usd + short_usd
    out = []
    for side, usd, history, kind, direction, name in (
        ("long", long_usd, lookback_long, "long-cluster", "bearish", "capitulation"),
        ("short", short_usd, lookback_short, "short-cluster", "bullish", "squeeze"),
    ):
        threshold = percentile(history, params.cluster_percentile)
        share = usd / total if total else 0.0
        if usd > threshold and usd >= params.cluster_min_usd and share >= params.cluster_share:
            inputs = {
                f"{side}_usd": usd,
                "total_usd": total,
                f"{side}_share": share,
                "percentile": params.cluster_percentile,
                "threshold_usd": threshold,
                "lookback_bars": len(history),
                "min_usd": params.cluster_min_usd,
                "min_share": params.cluster_share,
            }
            message = (
                f"{coin} {side} liquidation cluster ({name}): {_usd(usd)} {side}s liquidated in the {timeframe} bar, "
                f"{share:.0%} of the bar, above the p{params.cluster_percentile:g} of {len(history)} bars ({_usd(threshold)})"
            )
            out.append(_signal(kind, coin, timeframe, direction, message, inputs, bar_close, ts_recv))
    return out


def leverage_flush(
    *, coin: str, window: str, at: int, oi_change: dict[str, Any], params: SignalSettings, ts_recv: int
) -> Signal | None:
    """Return a leverage-flush signal when coin-terms OI fell more than `flush_drop_pct` (an `open_interest.change`)."""
    coin_change = oi_change.get("coin_change")
    if coin_change is None or coin_change * 100.0 > -params.flush_drop_pct:
        return None
    inputs = {k: oi_change.get(k) for k in ("oi_coin_from", "oi_coin_to", "coin_change", "usd_change", "price_change", "symbols", "venues")}
    inputs["drop_pct_threshold"] = params.flush_drop_pct
    message = (
        f"{coin} leverage flush: open interest fell {-coin_change:.1%} in coin terms over {window} "
        f"({inputs['symbols']} symbols on {inputs['venues']} venues)"
    )
    return _signal("leverage-flush", coin, window, "neutral", message, inputs, at, ts_recv)


def divergence(
    *, coin: str, window: str, at: int, price_change: float | None, coin_oi_change: float | None, params: SignalSettings, ts_recv: int
) -> Signal | None:
    """Return an oi-price-divergence signal when price and coin-terms OI moved in opposite directions by the thresholds."""
    if price_change is None or coin_oi_change is None:
        return None
    p, o = price_change * 100.0, coin_oi_change * 100.0
    if p >= params.divergence_price_pct and o <= -params.divergence_oi_pct:
        variant, text = "price-up-oi-down", "price rose while open interest fell (a rally on closing positions)"
    elif p <= -params.divergence_price_pct and o >= params.divergence_oi_pct:
        variant, text = "price-down-oi-up", "price fell while open interest rose (new positions into the drop)"
    else:
        return None
    inputs = {
        "variant": variant,
        "price_change": price_change,
        "coin_oi_change": coin_oi_change,
        "price_pct_threshold": params.divergence_price_pct,
        "oi_pct_threshold": params.divergence_oi_pct,
    }
    message = f"{coin} OI/price divergence over {window}: {text}: price {p:+.2f}%, OI {o:+.2f}% in coin terms"
    return _signal("oi-price-divergence", coin, window, "neutral", message, inputs, at, ts_recv)


def level_rules(
    *, coin: str, timeframe: str, bar_close: int, prev_close: float, close: float, rules: LevelRules, ts_recv: int
) -> list[Signal]:
    """Return level-cross, zone-reclaim and zone-lost signals for one closed bar given the previous bar's close."""
    out = []
    for level in rules.levels:
        if prev_close < level <= close or prev_close >= level > close:
            up = close >= level
            inputs = {"level": level, "prev_close": prev_close, "close": close}
            message = f"{coin} closed the {timeframe} bar {'above' if up else 'below'} {level:,.6g} ({prev_close:,.6g} → {close:,.6g})"
            out.append(_signal("level-cross", coin, timeframe, "bullish" if up else "bearish", message, inputs, bar_close, ts_recv))
    for low, high in (tuple(z) for z in rules.zones):
        inputs = {"zone_low": low, "zone_high": high, "prev_close": prev_close, "close": close}
        if prev_close <= high < close:
            message = f"{coin} reclaimed the {low:,.6g}–{high:,.6g} zone: {timeframe} close {close:,.6g} above {high:,.6g}"
            out.append(_signal("zone-reclaim", coin, timeframe, "bullish", message, inputs, bar_close, ts_recv))
        elif prev_close >= low > close:
            message = f"{coin} lost the {low:,.6g}–{high:,.6g} zone: {timeframe} close {close:,.6g} below {low:,.6g}"
            out.append(_signal("zone-lost", coin, timeframe, "bearish", message, inputs, bar_close, ts_recv))
    return out


def daily_close(
    *, coin: str, day_end: int, day: str, close: float, prior_high: float | None, prior_low: float | None, ts_recv: int
) -> list[Signal]:
    """Return close-below-prior-low / close-above-prior-high for a UTC daily close."""
    inputs = {"day": day, "close": close, "prior_day_high": prior_high, "prior_day_low": prior_low}
    if prior_low is not None and close < prior_low:
        message = f"{coin} daily close {close:,.6g} on {day} below the prior day's low {prior_low:,.6g}"
        return [_signal("close-below-prior-low", coin, "1d", "bearish", message, inputs, day_end, ts_recv)]
    if prior_high is not None and close > prior_high:
        message = f"{coin} daily close {close:,.6g} on {day} above the prior day's high {prior_high:,.6g}"
        return [_signal("close-above-prior-high", coin, "1d", "bullish", message, inputs, day_end, ts_recv)]
    return []
