"""The pure signal rules on hand-made numbers: each fires exactly at its threshold and carries its inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liqwatch import config
from liqwatch.analytics import rules
from liqwatch.config import LevelRules, SignalSettings
from liqwatch.errors import ConfigError

P = SignalSettings(cluster_min_bars=3, cluster_min_usd=1_000.0)


def test_short_cluster_mirrors_the_long_one() -> None:
    history = [100.0, 200.0, 300.0, 400.0]
    fired = rules.liquidation_clusters(
        coin="BTC", timeframe="1h", bar_close=7, long_usd=50.0, short_usd=5_000.0,
        lookback_long=history, lookback_short=history, params=P, ts_recv=0,
    )
    assert [(s.kind, s.direction) for s in fired] == [("short-cluster", "bullish")]
    inputs = json.loads(fired[0].inputs)
    assert inputs["short_share"] == 5_000 / 5_050 and inputs["threshold_usd"] == rules.percentile(history, 95)


def test_clusters_need_history_size_and_share() -> None:
    kw = {"coin": "BTC", "timeframe": "1h", "bar_close": 7, "params": P, "ts_recv": 0}
    assert rules.liquidation_clusters(long_usd=9e9, short_usd=0, lookback_long=[1, 2], lookback_short=[1, 2], **kw) == []
    assert rules.liquidation_clusters(long_usd=500, short_usd=0, lookback_long=[1, 2, 3], lookback_short=[1, 2, 3], **kw) == []
    even = rules.liquidation_clusters(long_usd=5e3, short_usd=5e3, lookback_long=[1, 2, 3], lookback_short=[1, 2, 3], **kw)
    assert even == []  # 50% is below cluster_share


def test_the_demo_cascade_hour_is_a_long_cluster() -> None:
    """The demo's 4 Nov BTC hour 02:00-03:00: $364M of longs (100%) after two hours of $7.7M and $34.5M."""
    from liqwatch.roles.demo import DEMO_SIGNALS

    kw = {
        "coin": "BTC", "timeframe": "1h", "bar_close": 3, "long_usd": 364.18e6, "short_usd": 0.53e6,
        "lookback_long": [7.72e6, 34.48e6], "lookback_short": [0.26e6, 1.24e6], "ts_recv": 0,
    }
    fired = rules.liquidation_clusters(params=DEMO_SIGNALS, **kw)
    assert [(s.kind, s.direction) for s in fired] == [("long-cluster", "bearish")]
    inputs = json.loads(fired[0].inputs)
    assert inputs["lookback_bars"] == 2 and inputs["long_usd"] == 364.18e6 and inputs["threshold_usd"] < 34.48e6
    # one earlier hour is still no comparison: the day's first two bars never fire
    assert rules.liquidation_clusters(params=DEMO_SIGNALS, **{**kw, "lookback_long": [7.72e6], "lookback_short": [0.26e6]}) == []


def test_divergence_both_ways_and_not_below_thresholds() -> None:
    kw = {"coin": "ETH", "window": "4h", "at": 1, "params": P, "ts_recv": 0}
    up = rules.divergence(price_change=0.03, coin_oi_change=-0.025, **kw)
    down = rules.divergence(price_change=-0.021, coin_oi_change=0.02, **kw)
    assert up is not None and json.loads(up.inputs)["variant"] == "price-up-oi-down"
    assert down is not None and json.loads(down.inputs)["variant"] == "price-down-oi-up"
    assert rules.divergence(price_change=0.03, coin_oi_change=-0.019, **kw) is None
    assert rules.divergence(price_change=None, coin_oi_change=-0.5, **kw) is None


def test_leverage_flush_threshold_is_in_coin_terms() -> None:
    kw = {"coin": "BTC", "window": "4h", "at": 1, "params": P, "ts_recv": 0}
    assert rules.leverage_flush(oi_change={"coin_change": -0.049, "usd_change": -0.2}, **kw) is None
    fired = rules.leverage_flush(oi_change={"coin_change": -0.051, "usd_change": 0.01, "symbols": 3, "venues": 2}, **kw)
    assert fired is not None and "fell 5.1% in coin terms" in fired.message


def test_levels_and_zones() -> None:
    lr = LevelRules(levels=[100_000.0], zones=[[105_000.0, 107_000.0]])
    kw = {"coin": "BTC", "timeframe": "1h", "bar_close": 1, "rules": lr, "ts_recv": 0}
    assert [s.kind for s in rules.level_rules(prev_close=99_000, close=100_000, **kw)] == ["level-cross"]
    assert [s.kind for s in rules.level_rules(prev_close=106_000, close=107_500, **kw)] == ["zone-reclaim"]
    assert [s.kind for s in rules.level_rules(prev_close=105_000, close=104_999, **kw)] == ["zone-lost"]
    assert rules.level_rules(prev_close=105_500, close=106_500, **kw) == []  # inside the zone: nothing


def test_daily_close_beyond_prior_range() -> None:
    kw = {"coin": "BTC", "day_end": 1, "day": "2025-11-04", "prior_high": 110.0, "prior_low": 100.0, "ts_recv": 0}
    assert [s.kind for s in rules.daily_close(close=99.0, **kw)] == ["close-below-prior-low"]
    assert [s.kind for s in rules.daily_close(close=111.0, **kw)] == ["close-above-prior-high"]
    assert rules.daily_close(close=105.0, **kw) == []



@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[signals.levels.BTC]\nzones = [[107000, 105000]]", r"signals.levels.BTC\] zones"),
        ('[signals]\ntimeframe = "hourly"', "timeframe"),
        ("[analytics]\nsessions = { asia = [0, 25] }", "sessions.asia"),
    ],
)
def test_bad_signal_config_is_rejected_naming_the_key(tmp_path: Path, toml: str, named: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=named):
        config.load(path, environ={})
