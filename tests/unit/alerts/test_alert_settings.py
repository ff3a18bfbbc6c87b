"""[alerts] config: every mistake is one line naming the rule and the key; secrets are never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqwatch import config
from liqwatch.config.alert_urls import display, scrub
from liqwatch.errors import ConfigError


def _load(tmp_path: Path, text: str) -> config.Settings:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return config.load(path, environ={})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('type="liqudation"\nname="a"\nmin_usd=1', "[[alerts.rules]] #1: 'type' is 'liqudation' (did you mean 'liquidation'?)"),
        ('type="liquidation"\nmin_usd=1', "[[alerts.rules]] #1 (liquidation): missing key 'name'"),
        ('type="liquidation"\nname="a"\nmin_us=1', "(liquidation, 'a'): unknown key 'min_us' (did you mean 'min_usd'?)"),
        ('type="liquidation"\nname="a"\nmin_usd="lots"', "(liquidation, 'a'): min_usd: Expected `float`, was `str`"),
        ('type="liquidation"\nname="a"\nmin_usd=-5', "[[alerts.rules]] 'a': min_usd must be positive, was -5.0"),
        ('type="liquidation-total"\nname="a"\nmin_usd=5\nwindow="5 minutes"', "[[alerts.rules]] 'a': window: not a duration: '5 minutes'"),
        ('type="signal"\nname="s"\nkinds=["zone-lots"]', "unknown signal kind 'zone-lots' (did you mean 'zone-lost'?)"),
        ('type="feed-down"\nname="f"\nvenue="bybt"', "unknown venue 'bybt' (did you mean 'bybit'?)"),
        ('type="oi-change"\nname="o"\npct=5\nunit="contracts"', "(oi-change, 'o'): unit: Invalid enum value 'contracts'"),
    ],
)
def test_bad_rules_name_the_rule_and_key(tmp_path: Path, rule: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, f"[alerts]\n[[alerts.rules]]\n{rule}\n")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_duplicate_names_and_unknown_urls_are_rejected_without_showing_secrets(tmp_path: Path) -> None:
    twice = '[[alerts.rules]]\ntype="liquidation"\nname="a"\nmin_usd=1\n'
    with pytest.raises(ConfigError, match="name 'a' is used by another rule"):
        _load(tmp_path, "[alerts]\n" + twice * 2)
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, '[alerts]\nurls=["nosuch://hostname/TOPSECRET99"]\n')
    assert "urls[0]: apprise does not understand 'nosuch://***/***'" in str(info.value)
    assert "TOPSECRET99" not in str(info.value)


def test_valid_alerts_config_and_env_urls(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[alerts]\ndashboard_url="https://liq.example.org"\n[[alerts.rules]]\ntype="price"\nname="btc-100k"\ncoin="BTC"\nlevel=100000\n')
    settings = config.load(path, environ={"LIQWATCH__ALERTS__URLS": "json://127.0.0.1:8080/a/TOKEN123,tgram://123456:ABCDEF/987654"})
    assert settings.alerts.urls == ["json://127.0.0.1:8080/a/TOKEN123", "tgram://123456:ABCDEF/987654"]
    [rule] = settings.alerts.rules
    assert (rule.name, rule.level, rule.direction, rule.cooldown_ns) == ("btc-100k", 100000.0, "any", 15 * 60 * 10**9)  # type: ignore[union-attr]
    shown = dict((k, v) for k, v, _ in config.describe(settings))
    assert shown["alerts.urls"] == ["json://127.0.0.1:8080/***/***", "tgram://***:***/***"]  # every path segment masked
    assert shown["alerts.rules"] == ["btc-100k (price)"]


def test_redaction_keeps_hosts_and_ports_and_masks_tokens() -> None:
    url = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
    assert display(url) == "discord://***/***"
    assert display("mailto://user:p4ssw0rd@gmail.com") == "mailto://***:***@gmail.com"
    assert scrub("POST /4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js failed", [url]) == "POST /***/*** failed"
