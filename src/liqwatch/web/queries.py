"""Every query the web layer makes, in one place: the same functions as the CLI, behind one store lock.

Price context, signals, the brief and the heatmap are the same functions the CLI calls (`liqwatch price`,
`signals`, `brief`, `heatmap`/`map`). `Unavailable` (answered with 503) is kept for a backend that cannot run.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import quote, urlencode, urlsplit

from liqwatch.alerts.history import EventStore as AlertStore
from liqwatch.alerts.history import recent_alerts
from liqwatch.analytics.brief import Brief, build_brief
from liqwatch.analytics.funding import funding_summary
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.analytics.open_interest import EOD_TOLERANCE_NS, STALE_NS, open_interest_summary
from liqwatch.analytics.price import price_context
from liqwatch.analytics.signals import recent_signals
from liqwatch.config import Settings
from liqwatch.heatmap import Assumptions, MarginBracket, current_map, heatmap_grid
from liqwatch.heatmap.series import SqlStore
from liqwatch.model.time import NS_PER_S, ns_to_iso
from liqwatch.storage.base import EventStore
from liqwatch.storage.dialect import dialect_of

NS_PER_H = 3600 * NS_PER_S
DAY_NS = 24 * NS_PER_H
MAX_ALERTS = 2000  # read at most this many before filtering by coin or venue


class Unavailable(Exception):
    """A backing function is not part of this build."""



class Queries:
    """Read-only queries over one store; `lock` is shared with the writer (one DuckDB connection)."""

    def __init__(self, store: EventStore, lock: threading.Lock | None = None, settings: Settings | None = None) -> None:
        self.store = store
        self.lock = lock or threading.Lock()
        self.settings = settings or Settings()
        self.sql = dialect_of(store)  # the same SQL on DuckDB and PostgreSQL, but for these spellings

    @contextmanager
    def _locked(self) -> Iterator[EventStore]:
        with self.lock:
            yield self.store

    def _sql(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._locked() as store:
            return store.execute(sql, params)  # type: ignore[attr-defined, no-any-return]

    # -- what the CLI shows ---------------------------------------------------------------------------------
    def stats(self, *, since: int, until: int) -> dict[str, Any]:
        """Return `liqwatch stats --json` for (since, until]."""
        with self._locked() as store:
            return liquidation_stats(store, since=since, until=until)

    def liquidations(self, **filters: Any) -> list[dict[str, Any]]:
        """Return stored liquidations (newest first) as `liqwatch liquidations --json` rows."""
        with self._locked() as store:
            rows = store.liquidations(**filters, newest_first=True)
        return [{**r, "ts": ns_to_iso(r["ts_event"])} for r in rows]

    def top(self, *, since: int, until: int, limit: int, coin: str | None) -> list[dict[str, Any]]:
        """Return the largest liquidations of the window."""
        with self._locked() as store:
            rows = store.top_liquidations(since=since, until=until, limit=limit, coin=coin)
        return [{**r, "ts": ns_to_iso(r["ts_event"])} for r in rows]

    def liquidation_series(self, *, since: int, until: int, bar_ns: int, coin: str | None) -> list[dict[str, Any]]:
        """Return long/short USD and counts per bar of (since, until] (`store.liquidation_series`: they add up to `stats`)."""
        with self._locked() as store:
            return store.liquidation_series(since=since, until=until, bar_ns=bar_ns, coin=coin)

    def oi(self, *, at: int, coin: str | None) -> dict[str, Any]:
        """Return `liqwatch oi --json` at `at`."""
        with self._locked() as store:
            return open_interest_summary(store, at=at, coin=coin)

    def venue_activity(self, *, since: int, until: int) -> list[dict[str, Any]]:
        """Return per venue the stored liquidations and outages of the window."""
        with self._locked() as store:
            return store.venues_active(since=since, until=until)

    # -- coin page series ---------------------------------------------------------------------------------------
    def coins(self, *, until: int) -> list[str]:
        """Return coins with liquidations, OI or candles in the last 24 h before `until`, most liquidated first."""
        rows = self._sql(
            "SELECT coin, sum(n) FROM ("
            " SELECT coin, sum(notional_usd) AS n FROM liquidations WHERE ts_event > ? AND ts_event <= ? GROUP BY coin"
            " UNION ALL SELECT coin, 0 FROM open_interest WHERE ts_event > ? AND ts_event <= ? GROUP BY coin"
            " UNION ALL SELECT coin, 0 FROM candles WHERE ts_event > ? AND ts_event <= ? GROUP BY coin"
            ") u GROUP BY coin ORDER BY 2 DESC, coin",
            [until - DAY_NS, until] * 3,
        )
        return [str(r[0]) for r in rows]

    def reference_market(self, coin: str, *, since: int, until: int) -> tuple[str, str] | None:
        """Return the (venue, symbol) with the most 1m candles of `coin` in the window (the price series shown)."""
        rows = self._sql(
            "SELECT venue, symbol, count(*) AS n FROM candles WHERE coin = ? AND interval_s = 60 "
            "AND ts_event > ? AND ts_event <= ? GROUP BY venue, symbol "
            "ORDER BY n DESC, (max(market) LIKE '%-USDT-PERP') DESC, venue, symbol LIMIT 1",
            [coin, since, until],
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def candles(self, *, venue: str, symbol: str, since: int, until: int, bucket_ns: int) -> list[dict[str, Any]]:
        """Return OHLCV bars of one market aggregated from stored 1m candles into `bucket_ns` buckets."""
        rows = self._sql(
            f"SELECT ts_event - ts_event % ? AS t, {self.sql.first('open', 'ts_event')}, max(high), min(low), "
            f"{self.sql.last('close', 'ts_event')}, sum(volume) FROM candles WHERE venue = ? AND symbol = ? AND interval_s = 60 "
            "AND ts_event > ? AND ts_event <= ? GROUP BY t ORDER BY t",
            [bucket_ns, venue, symbol, since, until],
        )
        return [
            {"ts": ns_to_iso(int(r[0])), "ts_ns": int(r[0]), "open": r[1], "high": r[2], "low": r[3], "close": r[4], "volume": r[5]}
            for r in rows
        ]

    def liquidation_bars(self, *, coin: str, since: int, until: int, bucket_ns: int) -> list[dict[str, Any]]:
        """Return liquidated USD per bucket and side for one coin across venues."""
        rows = self._sql(
            "SELECT ts_event - ts_event % ? AS t, "
            "coalesce(sum(notional_usd) FILTER (WHERE position_side = 'long'), 0), "
            "coalesce(sum(notional_usd) FILTER (WHERE position_side = 'short'), 0), count(*) "
            "FROM liquidations WHERE coin = ? AND ts_event > ? AND ts_event <= ? GROUP BY t ORDER BY t",
            [bucket_ns, coin, since, until],
        )
        return [
            {"ts": ns_to_iso(int(r[0])), "ts_ns": int(r[0]), "long_usd": float(r[1]), "short_usd": float(r[2]), "count": int(r[3])}
            for r in rows
        ]

    def oi_series(self, *, coin: str, since: int, until: int, bucket_ns: int) -> list[dict[str, Any]]:
        """Return total one-sided OI (coin units) per bucket: each (venue, symbol)'s last value, carried forward."""
        rows = self._sql(
            f"SELECT venue, symbol, ts_event - ts_event % ? AS t, {self.sql.last('open_interest', 'ts_event')}, "
            f"{self.sql.last('open_interest_usd', 'ts_event')} "
            "FROM open_interest WHERE coin = ? AND ts_event > ? AND ts_event <= ? GROUP BY venue, symbol, t ORDER BY t, venue, symbol",
            [bucket_ns, coin, since, until],
        )
        by_bucket: dict[int, list[tuple[str, float, float | None]]] = defaultdict(list)
        for venue, symbol, t, oi, oi_usd in rows:
            by_bucket[int(t)].append((f"{venue}\x1f{symbol}", float(oi), None if oi_usd is None else float(oi_usd)))
        # Each symbol starts from its value as of `since` (if still current then: 1 h, an end-of-day import 4 days),
        # so the line does not jump up where a symbol's first point inside the window happens to fall.
        before = self._sql(
            f"SELECT venue, symbol, {self.sql.last('open_interest', 'ts_event')}, "
            f"{self.sql.last('open_interest_usd', 'ts_event')}, max(ts_event), {self.sql.last('origin', 'ts_event')} "
            "FROM open_interest WHERE coin = ? AND ts_event > ? AND ts_event <= ? GROUP BY venue, symbol",
            [coin, since - EOD_TOLERANCE_NS, since],
        )
        latest: dict[str, tuple[float, float | None]] = {
            f"{venue}\x1f{symbol}": (float(oi), None if oi_usd is None else float(oi_usd))
            for venue, symbol, oi, oi_usd, ts, origin in sorted(before, key=lambda r: (str(r[0]), str(r[1])))
            if int(ts) > since - (EOD_TOLERANCE_NS if str(origin) == "import" else STALE_NS)
        }
        out = []
        for t in sorted(by_bucket):
            for key, oi, usd in by_bucket[t]:
                latest[key] = (oi, usd)
            usd_values = [u for _, u in latest.values() if u is not None]
            out.append(
                {
                    "ts": ns_to_iso(t),
                    "ts_ns": t,
                    "oi_coin": sum(o for o, _ in latest.values()),
                    "oi_usd_reported": sum(usd_values) if usd_values else None,
                    "symbols": len(latest),
                }
            )
        return out

    def funding(self, *, at: int) -> dict[str, dict[str, Any]]:
        """Return `liqwatch funding --json`'s per-coin blocks: each symbol's latest funding, annualised, and the OI-weighted mean."""
        with self._locked() as store:
            return funding_summary(store, at=at)["coins"]  # type: ignore[no-any-return]

    # -- price context, signals, brief, heatmap (= liqwatch price / signals / brief / heatmap / map --json) ----------
    def price(self, *, coin: str, at: int) -> dict[str, Any]:
        """Return `price_context` (price, changes, drawdown from ATH) for a coin."""
        with self._locked() as store:
            return price_context(store, coin=coin, at=at, venues=self.settings.analytics.price_venues)

    def signals(self, *, since: int, until: int, coin: str | None) -> list[dict[str, Any]]:
        """Return the stored signals of the window, newest first."""
        with self._locked() as store:
            return recent_signals(store, since=since, until=until, coin=coin)

    def brief(self, *, at: int, window_ns: int, coin: str | None) -> Brief:
        """Return the market brief (`to_dict`, `to_markdown`, `to_html`)."""
        with self._locked() as store:
            return build_brief(store, at=at, window_ns=window_ns, coin=coin, settings=self.settings)

    def alerts(self, *, since: int, until: int, coin: str | None, venue: str | None, limit: int) -> list[dict[str, Any]]:
        """Return `liqwatch alerts recent --json` rows (newest first), with `view`: the alert's dashboard link on this host."""
        if not hasattr(self.store, "execute"):
            raise Unavailable("alert history needs a SQL store")
        with self._locked() as store:
            rows = recent_alerts(cast("AlertStore", store), since, until, limit=MAX_ALERTS)
        out = []
        for r in rows:
            feed = r["rule_type"] == "feed-down"
            if (coin and (feed or r["subject"].upper() != coin)) or (venue and not (feed and r["subject"] == venue)):
                continue
            link = urlsplit(r["link"] or "")
            view = "/?" + link.query if link.query else f"/?{urlencode({'venue' if feed else 'coin': r['subject']})}"
            coin_page = None if feed else f"/coin/{quote(r['subject'].upper())}?{urlencode({'at': r['ts_trigger']})}"
            out.append({**r, "ts": ns_to_iso(int(r["ts_trigger"])), "view": view, "coin_page": coin_page})
        return out[:limit]

    def heatmap(self, *, coin: str, since: int, until: int) -> dict[str, Any]:
        """Return the liquidation heatmap grid over (since, until] and the liquidation map at `until` ([heatmap] config)."""
        if not hasattr(self.store, "execute"):
            raise Unavailable("the heatmap needs the DuckDB store")
        a = self.heatmap_assumptions()
        with self._locked() as store:
            sql = cast("SqlStore", store)
            return {
                "grid": heatmap_grid(sql, coin=coin, since=since, until=until, assumptions=a),
                "current": current_map(sql, coin=coin, at=until, assumptions=a),
            }

    def heatmap_assumptions(self) -> Assumptions:
        """Return the model's assumptions from the [heatmap] config (what `liqwatch heatmap` uses without options)."""
        cfg = self.settings.heatmap
        bracket = MarginBracket(max_notional_usd=float("inf"), rate=cfg.mmr)
        return Assumptions(
            leverages=tuple(cfg.leverages), weights=tuple(cfg.weights), entry_proxy=cfg.entry_proxy, long_share=cfg.long_share,
            brackets={"*": (bracket,)}, mmr_source=f"flat {cfg.mmr:.3%} ([heatmap] mmr); venue brackets are not loaded",
        ).validate()
