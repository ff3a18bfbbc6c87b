"""The engine on a real DuckDB file: cooldown per rule and coin, dedupe, and a restart that neither repeats nor forgets."""

from __future__ import annotations

from pathlib import Path

import msgspec

from factories import T0, make_liquidation
from liqwatch.alerts import recent_alerts
from liqwatch.alerts.engine import AlertEngine
from liqwatch.alerts.history import last_by_rule
from liqwatch.config.alerts import AlertSettings
from liqwatch.storage.duckdb_store import DuckDBStore

MIN = 60 * 1_000_000_000


def _settings(**kw: object) -> AlertSettings:
    raw: dict[str, object] = {
        "terminal": False,
        "rules": [
            {"type": "liquidation", "name": "big", "min_usd": 1_000_000, "cooldown": "10m"},
            {"type": "liquidation-total", "name": "flush", "min_usd": 3_000_000, "window": "5m", "side": "long", "cooldown": "30m"},
        ],
    }
    raw.update(kw)
    return msgspec.convert(raw, AlertSettings, strict=False)


def _stream() -> list[object]:
    return [
        make_liquidation(notional_usd=1_500_000.0, ts_event=T0),  # big BTC
        make_liquidation(notional_usd=2_000_000.0, ts_event=T0 + 1 * MIN),  # big BTC inside cooldown; flush reaches 3.5M
        make_liquidation(notional_usd=1_200_000.0, ts_event=T0 + 2 * MIN, coin="ETH", venue="binance-usdm"),  # big ETH: own cooldown
        make_liquidation(notional_usd=1_100_000.0, ts_event=T0 + 11 * MIN),  # big BTC after cooldown
    ]


def test_cooldown_per_rule_and_coin_and_content(db_path: Path) -> None:
    store = DuckDBStore(db_path)
    engine = AlertEngine(_settings(dashboard_url="http://dash.local:8000/"), store, clock=lambda: T0 + 3600 * 10**9)
    alerts = engine.observe(_stream())  # type: ignore[arg-type]
    assert [(a.rule, a.subject, a.ts_trigger) for a in alerts] == [
        ("big", "BTC", T0),
        ("flush", "BTC", T0 + MIN),
        ("big", "ETH", T0 + 2 * MIN),
        ("big", "BTC", T0 + 11 * MIN),
    ]
    assert engine.stats()["suppressed"] == 1
    eth = alerts[2]
    assert eth.title == "liqwatch: ETH long liquidated: $1,200,000 on binance-usdm"
    assert "notional_usd 1,200,000" in eth.body and "threshold_usd 1,000,000" in eth.body
    assert eth.coverage.startswith("Coverage: lower bound — binance-usdm publishes only a sample")
    assert eth.link.startswith("http://dash.local:8000/?coin=ETH&t=2025-11-04T00%3A02%3A00.000Z&alert=")
    assert eth.link in eth.body and eth.coverage in eth.body
    flush = alerts[1]
    assert msgspec.json.decode(flush.values)["total_usd"] == 3_500_000.0
    assert flush.coverage == "Coverage: complete liquidation streams (bybit)."
    assert [a.alert_id for a in engine.recent] == [a.alert_id for a in alerts]
    stored = recent_alerts(store, T0 - 1, T0 + 3600 * 10**9)
    assert [(r["rule"], r["subject"], r["values"].get("notional_usd")) for r in stored] == [
        ("big", "BTC", 1_100_000.0), ("big", "ETH", 1_200_000.0), ("flush", "BTC", None), ("big", "BTC", 1_500_000.0)
    ]
    assert stored[0]["destinations"] == 0 and stored[0]["pending"] == 0
    store.close()


def test_restart_neither_repeats_nor_forgets(db_path: Path) -> None:
    stream = _stream()
    store = DuckDBStore(db_path)
    first = AlertEngine(_settings(), store)
    assert len(first.observe(stream[:2])) == 2  # type: ignore[arg-type]
    store.close()

    store = DuckDBStore(db_path)  # a restart: new process state, same file
    second = AlertEngine(_settings(), store)
    assert second.observe(stream[:2]) == []  # type: ignore[arg-type]  # the same events again: nothing repeats
    later = make_liquidation(notional_usd=1_300_000.0, ts_event=T0 + 5 * MIN)
    assert second.observe([later]) == []  # still inside big's 10m cooldown from before the restart
    assert [a.ts_trigger for a in second.observe(stream[3:])] == [T0 + 11 * MIN]  # type: ignore[arg-type]
    last = last_by_rule(store)
    assert last["big"]["count"] == 2 and last["big"]["ts_trigger"] == T0 + 11 * MIN
    assert last["flush"]["count"] == 1
    store.close()


def test_a_broken_event_never_stops_evaluation(db_path: Path) -> None:
    store = DuckDBStore(db_path)
    engine = AlertEngine(_settings(), store)
    weird = make_liquidation(notional_usd=float("nan"), ts_event=T0)
    assert engine.observe([weird, make_liquidation(notional_usd=2e6, ts_event=T0 + 1)]) != []
    store.close()
