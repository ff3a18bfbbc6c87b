"""Settings: defaults < TOML < environment, one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqwatch import config
from liqwatch.errors import ConfigError


def test_defaults() -> None:
    s = config.load(environ={})
    assert s.store.flush_interval_s == 1.0 and s.feeds.venues == [] and s.log.level == "WARNING"


def test_file_then_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[feeds]\ncoins = ["BTC"]\nvenues = ["bybit", "okx"]\n[venues.okx]\nws_url = "ws://127.0.0.1:1/ws/v5/public"\n')
    s = config.load(cfg, environ={"LIQWATCH__FEEDS__COINS": "ETH, SOL", "LIQWATCH__VENUES__BINANCE_USDM__ENABLED": "false"})
    assert s.feeds.coins == ["ETH", "SOL"]  # env wins over the file
    assert s.feeds.venues == ["bybit", "okx"]
    assert s.venues["okx"].ws_url == "ws://127.0.0.1:1/ws/v5/public"
    assert s.venues["binance-usdm"].enabled is False


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[store]\npth = 'x'\n", "unknown key 'pth' (did you mean 'path'?)"),
        ("[feeds]\nvenues = ['bybt']\n", "unknown venue 'bybt' in config (did you mean 'bybit'?)"),
        ("[feeds]\nchannels = ['liquidation']\n", "unknown channel 'liquidation'"),
        ("[store]\nbatch_size = 'many'\n", "[store] batch_size must be a whole number (e.g. 5000), was 'many'"),
        ("[log]\nlevel = 'LOUD'\n", "[log] level must be"),
        ("[venues.okx]\nwsurl = 'x'\n", "unknown key 'wsurl' (did you mean 'ws_url'?)"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        config.load(cfg, environ={})
    assert message in str(err.value)


def test_bad_environment_key() -> None:
    with pytest.raises(ConfigError, match="LIQWATCH__STORE__PAHT: unknown key 'paht'"):
        config.load(environ={"LIQWATCH__STORE__PAHT": "x"})


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load("/nonexistent/liqwatch.toml", environ={})


def test_every_setting_has_a_description() -> None:
    rows = config.describe(config.load(environ={}))
    assert rows and all(text for _, _, text in rows)
