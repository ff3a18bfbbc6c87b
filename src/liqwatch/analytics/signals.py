"""Evaluate the signal rules on closed bars from the store, and read stored signals back.

`evaluate` looks only at bars that closed in (since, until]: a bar closing at `e` covers [e − timeframe, e). It reads
liquidation bars from the per-minute rollup, OI snapshots through `open_interest_at` and closes from the price
source's 1m candles, and hands the numbers to the pure rules in `analytics.rules`. Signals are keyed by
(kind, coin, venue, timeframe, bar close), so evaluating the same bars twice stores each signal once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from liqwatch.analytics import rules
from liqwatch.analytics.open_interest import OiPoint, change, value_rows
from liqwatch.analytics.price import DEFAULT_VENUES, MINUTE_NS, day_start, price_context, price_source
from liqwatch.config import LevelRules, SignalSettings
from liqwatch.model import Signal
from liqwatch.model.time import ns_to_iso, parse_duration_ns
from liqwatch.storage.base import EventStore

DAY_NS = 86_400 * 10**9


def bar_closes(since: int, until: int, bar_ns: int) -> list[int]:
    """Return the bar close times e (multiples of bar_ns) with since < e <= until."""
    first = (since // bar_ns + 1) * bar_ns
    return list(range(first, until + 1, bar_ns))


class _Snapshots:
    """OI snapshots per time, loaded once and shared by every coin."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._cache: dict[int, list[OiPoint]] = {}

    def at(self, t: int, coin: str) -> list[OiPoint]:
        if t not in self._cache:
            self._cache[t] = value_rows(self.store.open_interest_at(t))
        return [p for p in self._cache[t] if p.coin == coin]

    def change(self, coin: str, start: int, end: int) -> dict[str, Any]:
        return change(self.at(start, coin), self.at(end, coin), start_at=start, end_at=end)


def _close_at(store: EventStore, src: dict[str, Any] | None, t: int) -> float | None:
    if src is None:
        return None
    bars = store.candle_bars(venue=src["venue"], symbol=src["symbol"], since=t - 10 * MINUTE_NS, until=t)
    return float(bars[-1]["close"]) if bars else None


def _coins(store: EventStore, params: SignalSettings, bars: Iterable[dict[str, Any]], at: int) -> list[str]:
    if params.coins:
        return sorted({c.upper() for c in params.coins})
    found = {str(b["coin"]) for b in bars} | {c.upper() for c in params.levels}
    found |= {str(r["coin"]) for r in store.open_interest_at(at)}
    return sorted(found)


def evaluate(
    store: EventStore,
    params: SignalSettings,
    *,
    since: int,
    until: int,
    ts_recv: int,
    price_venues: Sequence[str] = DEFAULT_VENUES,
) -> list[Signal]:
    """Return every signal of the bars that closed in (since, until]."""
    tf_label = params.timeframe
    tf = parse_duration_ns(tf_label)
    closes = bar_closes(since, until, tf)
    if not closes:
        return []
    lookback = params.cluster_lookback_bars
    bars = store.liquidation_bars(since=closes[0] - tf * (lookback + 1), until=closes[-1], bar_ns=tf)
    by_coin: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for b in bars:
        by_coin[str(b["coin"])][int(b["bar"])] = b
    snapshots = _Snapshots(store)
    out: list[Signal] = []
    for coin in _coins(store, params, bars, closes[-1]):
        src = price_source(store, coin=coin, at=closes[-1], venues=price_venues)
        level_rules = params.levels.get(coin) or params.levels.get(coin.lower()) or LevelRules()
        for e in closes:
            out += _clusters(coin, tf_label, tf, e, by_coin[coin], params, ts_recv)
            out += _oi_rules(store, snapshots, src, coin, e, tf, params, ts_recv)
            out += _levels(store, src, coin, tf_label, tf, e, level_rules, ts_recv)
            if e % DAY_NS == 0 and level_rules.daily_close:
                out += _daily(store, coin, e, price_venues, ts_recv)
    return out


def _clusters(
    coin: str, label: str, tf: int, e: int, bars: dict[int, dict[str, Any]], params: SignalSettings, ts_recv: int
) -> list[Signal]:
    current = bars.get(e - tf)
    if current is None:
        return []
    # bars with no liquidation at all are treated as gaps in collection, not as quiet bars
    history = [bars[s] for s in range(e - tf * (params.cluster_lookback_bars + 1), e - tf, tf) if s in bars]
    return rules.liquidation_clusters(
        coin=coin,
        timeframe=label,
        bar_close=e,
        long_usd=float(current["long_usd"]),
        short_usd=float(current["short_usd"]),
        lookback_long=[float(b["long_usd"]) for b in history],
        lookback_short=[float(b["short_usd"]) for b in history],
        params=params,
        ts_recv=ts_recv,
    )


def _oi_rules(
    store: EventStore, snapshots: _Snapshots, src: dict[str, Any] | None, coin: str, e: int, tf: int, params: SignalSettings,
    ts_recv: int,
) -> list[Signal]:
    # OI rules look back over a window longer than a bar: they fire on the bar that enters the condition, not on
    # every later bar whose window still contains the same move
    out: list[Signal] = []
    flush_w = parse_duration_ns(params.flush_window)
    fired = [
        rules.leverage_flush(
            coin=coin, window=params.flush_window, at=t, oi_change=snapshots.change(coin, t - flush_w, t), params=params,
            ts_recv=ts_recv,
        )
        for t in (e - tf, e)
    ]
    if fired[1] is not None and fired[0] is None:
        out.append(fired[1])
    div_w = parse_duration_ns(params.divergence_window)
    divs = []
    for t in (e - tf, e):
        oi = snapshots.change(coin, t - div_w, t)
        now_px, then_px = _close_at(store, src, t), _close_at(store, src, t - div_w)
        price_change = now_px / then_px - 1.0 if now_px is not None and then_px else oi["price_change"]
        divs.append(
            rules.divergence(
                coin=coin, window=params.divergence_window, at=t, price_change=price_change,
                coin_oi_change=oi["coin_change"], params=params, ts_recv=ts_recv,
            )
        )
    if divs[1] is not None and (divs[0] is None or _variant(divs[0]) != _variant(divs[1])):
        out.append(divs[1])
    return out


def _variant(s: Signal) -> str:
    return str(msgspec.json.decode(s.inputs).get("variant"))


def _levels(
    store: EventStore, src: dict[str, Any] | None, coin: str, label: str, tf: int, e: int, level_rules: LevelRules, ts_recv: int
) -> list[Signal]:
    if not level_rules.levels and not level_rules.zones:
        return []
    close, prev = _close_at(store, src, e), _close_at(store, src, e - tf)
    if close is None or prev is None:
        return []
    return rules.level_rules(coin=coin, timeframe=label, bar_close=e, prev_close=prev, close=close, rules=level_rules, ts_recv=ts_recv)


def _daily(store: EventStore, coin: str, e: int, venues: Sequence[str], ts_recv: int) -> list[Signal]:
    ctx = price_context(store, coin=coin, at=e, venues=venues)
    if ctx["day_close"] is None:
        return []
    return rules.daily_close(
        coin=coin, day_end=e, day=ns_to_iso(day_start(e))[:10], close=ctx["day_close"],
        prior_high=ctx["prior_day_high"], prior_low=ctx["prior_day_low"], ts_recv=ts_recv,
    )


def evaluate_and_store(
    store: EventStore, params: SignalSettings, *, since: int, until: int, ts_recv: int, price_venues: Sequence[str] = DEFAULT_VENUES
) -> list[Signal]:
    """Evaluate (since, until], store the signals and return those not stored before."""
    signals = evaluate(store, params, since=since, until=until, ts_recv=ts_recv, price_venues=price_venues)
    if not signals:
        return []
    before = {(s["kind"], s["coin"], s["timeframe"], s["ts_event"]) for s in store.signal_rows(since=since, until=until + DAY_NS)}
    store.write(signals)
    return [s for s in signals if (s.kind, s.coin, s.timeframe, s.ts_event) not in before]


def signal_dict(row: dict[str, Any]) -> dict[str, Any]:
    """Return a stored signal row as JSON-ready: inputs decoded, times in ISO-8601."""
    out = dict(row)
    try:
        out["inputs"] = msgspec.json.decode(row["inputs"]) if row.get("inputs") else {}
    except msgspec.DecodeError:
        out["inputs"] = {"raw": row["inputs"]}
    out["ts"] = ns_to_iso(int(row["ts_event"]))
    return out


def recent_signals(store: EventStore, *, since: int, until: int, coin: str | None = None) -> list[dict[str, Any]]:
    """Return stored signals with since < ts_event <= until, newest first, inputs decoded."""
    return [signal_dict(r) for r in store.signal_rows(since=since, until=until, coin=coin)]
