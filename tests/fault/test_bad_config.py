"""Every bad config value, from a file or the environment, is one clear line naming the key and the fix; exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from liqwatch import config
from liqwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

# (environment variable, bad value, text the one-line message must contain)
BAD_ENV = [
    ("LIQWATCH__STORE__FLUSH_INTERVAL_S", "abc", "[store] flush_interval_s must be a number (e.g. 1.5), was 'abc'"),
    ("LIQWATCH__STORE__FLUSH_INTERVAL_S", "-1", "[store] flush_interval_s must be a positive number of seconds"),
    ("LIQWATCH__STORE__FLUSH_INTERVAL_S", "nan", "[store] flush_interval_s must be a positive number of seconds (e.g. 1.0), was nan"),
    ("LIQWATCH__STORE__FLUSH_INTERVAL_S", "inf", "[store] flush_interval_s must be a positive number of seconds (e.g. 1.0), was inf"),
    ("LIQWATCH__STORE__BATCH_SIZE", "0", "[store] batch_size must be a positive whole number (e.g. 5000), was 0"),
    ("LIQWATCH__STORE__BATCH_SIZE", "1.5", "[store] batch_size must be a whole number (e.g. 5000), was '1.5'"),
    ("LIQWATCH__FEEDS__STALE_AFTER_S", "-3", "[feeds] stale_after_s must be 0 or a positive number of seconds (0 = each venue's default), was -3.0"),
    ("LIQWATCH__FEEDS__STALE_AFTER_S", "nan", "[feeds] stale_after_s must be 0 or a positive number of seconds"),
    ("LIQWATCH__FEEDS__LIQUIDATION_SILENCE_S", "-1", "[feeds] liquidation_silence_s must be 0 or a positive number of seconds (0 = off)"),
    ("LIQWATCH__FEEDS__VENUES", "bybt", "unknown venue 'bybt' in config (did you mean 'bybit'?)"),
    ("LIQWATCH__FEEDS__CHANNELS", "liquidation", "unknown channel 'liquidation' in [feeds] channels (did you mean 'liquidations'?)"),
    ("LIQWATCH__VENUES__OKX__ENABLED", "maybe", '[venues."okx"] enabled must be true or false, was \'maybe\''),
    ("LIQWATCH__VENUES__OKX__WS_URL", "http://127.0.0.1:1/ws", '[venues."okx"] ws_url must start with ws:// or wss://'),
    ("LIQWATCH__VENUES__OKX__REST_URL", "127.0.0.1:1", '[venues."okx"] rest_url must start with http:// or https://'),
    ("LIQWATCH__VENUES__OKEX__WS_URL", "ws://127.0.0.1:1", "unknown venue 'okex' in config (did you mean 'okx'?)"),
    ("LIQWATCH__LOG__LEVEL", "LOUD", "[log] level must be DEBUG, INFO, WARNING or ERROR, was 'LOUD'"),
    ("LIQWATCH__STOR__PATH", "x", "LIQWATCH__STOR__PATH: unknown section 'stor'"),
    ("LIQWATCH__STORE__FLUSH", "1", "LIQWATCH__STORE__FLUSH: unknown key 'flush'"),
]

BAD_TOML = [
    ("[store]\nflush_interval_s = 'soon'\n", "[store] flush_interval_s must be a number (e.g. 1.5), was 'soon'"),
    ("[store]\nbatch_size = -5\n", "[store] batch_size must be a positive whole number (e.g. 5000), was -5"),
    ("[feeds]\ncoins = 'BTC'\n", "[feeds] coins must be a list"),
    ("[feeds]\nvenues = ['okx', 'bitmexx']\n", "unknown venue 'bitmexx' in config (did you mean 'bitmex'?)"),
    ('[venues."bybit"]\nenabled = "no"\n', '[venues."bybit"] enabled must be true or false, was \'no\''),
    ("[venues.bybit]\nwsurl = 'x'\n", "unknown key 'wsurl' (did you mean 'ws_url'?)"),
    ("store = 5\n", "config error"),
]


@pytest.mark.parametrize(("name", "value", "needle"), BAD_ENV, ids=[f"{n}={v}" for n, v, _ in BAD_ENV])
def test_bad_environment_value_names_the_key_and_the_fix(name: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(environ={name: value})
    message = str(err.value)
    assert needle in message and "\n" not in message
    assert "got" not in message.split(", was")[0]  # the house style: ", was", never msgspec's "got"


@pytest.mark.parametrize(("toml", "needle"), BAD_TOML)
def test_bad_file_value_names_the_key(tmp_path: Path, toml: str, needle: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        config.load(cfg, environ={})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_good_config_with_urls_and_zeroes_is_accepted(tmp_path: Path) -> None:
    env = {
        "LIQWATCH__FEEDS__STALE_AFTER_S": "0", "LIQWATCH__FEEDS__LIQUIDATION_SILENCE_S": "0",
        "LIQWATCH__VENUES__OKX__WS_URL": "wss://ws.okx.com:8443/ws/v5/public", "LIQWATCH__VENUES__OKX__REST_URL": "http://127.0.0.1:1",
    }
    s = config.load(environ=env)
    assert s.venues["okx"].ws_url.startswith("wss://") and s.feeds.stale_after_s == 0


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["config", "check"], {"LIQWATCH__STORE__FLUSH_INTERVAL_S": "-1"}, "flush_interval_s must be a positive number"),
        (["up", "--duration", "1"], {"LIQWATCH__VENUES__OKX__WS_URL": "http://x"}, "ws_url must start with ws:// or wss://"),
    ],
)
def test_cli_prints_one_line_and_exits_2(args: list[str], env: dict[str, str], needle: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "liqwatch", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "LIQWATCH__STORE__PATH": str(tmp_path / "x.duckdb"), **env},
    )
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
