"""`[alerts]` settings: destinations, delivery policy and the rules, one tagged struct per rule type.

Raw TOML is checked here before msgspec converts it, so a bad rule gets one line naming the rule and the key.
Zone and daily-close rules are analytics signals (`type = "signal"`, `kinds = ["zone-lost"]`), not rules here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

import msgspec

from liqwatch.errors import ConfigError, did_you_mean
from liqwatch.model.time import parse_duration_ns


def _d(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


Side = Literal["any", "long", "short"]
Direction = Literal["any", "up", "down"]


class _Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type"):
    name: str  # unique; keys cooldowns and the alert history, so keep it stable across restarts
    venue: str = ""  # "" = any venue
    cooldown: str = "15m"  # per rule and coin (or venue, for feed rules)
    enabled: bool = True

    @property
    def cooldown_ns(self) -> int:
        return parse_duration_ns(self.cooldown)


class _MarketRule(_Rule, frozen=True, kw_only=True):
    coin: str = ""  # "" = every coin, each on its own


class LiquidationRule(_MarketRule, frozen=True, kw_only=True, tag="liquidation"):
    """One liquidation of at least `min_usd`."""

    min_usd: float
    side: Side = "any"


class LiquidationTotalRule(_MarketRule, frozen=True, kw_only=True, tag="liquidation-total"):
    """Liquidations of one coin (and side) summing to at least `min_usd` within `window`."""

    min_usd: float
    window: str = "5m"
    side: Side = "any"

    @property
    def window_ns(self) -> int:
        return parse_duration_ns(self.window)


class SignalRule(_MarketRule, frozen=True, kw_only=True, tag="signal"):
    """An analytics or level signal (`Signal.kind` in `kinds`; empty = any kind)."""

    kinds: list[str] = msgspec.field(default_factory=list)
    direction: Literal["", "bullish", "bearish", "neutral"] = ""


class PriceRule(_MarketRule, frozen=True, kw_only=True, tag="price"):
    """A closed 1-minute candle crossing `level`."""

    level: float
    direction: Direction = "any"


class OpenInterestRule(_MarketRule, frozen=True, kw_only=True, tag="oi-change"):
    """Open interest of one coin changing by at least `pct` percent within `window`."""

    pct: float
    window: str = "1h"
    unit: Literal["usd", "coin"] = "usd"
    direction: Direction = "any"

    @property
    def window_ns(self) -> int:
        return parse_duration_ns(self.window)


class FeedRule(_Rule, frozen=True, kw_only=True, tag="feed-down"):
    """A venue stale, disconnected or unreachable for at least `minutes`."""

    minutes: float = 5.0


Rule: TypeAlias = LiquidationRule | LiquidationTotalRule | SignalRule | PriceRule | OpenInterestRule | FeedRule
RULE_TYPES: dict[str, type[Any]] = {
    "liquidation": LiquidationRule,
    "liquidation-total": LiquidationTotalRule,
    "signal": SignalRule,
    "price": PriceRule,
    "oi-change": OpenInterestRule,
    "feed-down": FeedRule,
}
SIGNAL_KINDS = (
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


class AlertSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[alerts]"""

    urls: Annotated[list[str], _d("apprise URLs to deliver to (tgram://, discord://, slack://, mailto://, json://…); secrets never logged")] = (
        msgspec.field(default_factory=list)
    )
    terminal: Annotated[bool, _d("also print every alert on the terminal (stderr)")] = True
    dashboard_url: Annotated[str, _d("base URL of the dashboard, for the link in each alert")] = "http://127.0.0.1:8000"
    timeout_s: Annotated[float, _d("give up one delivery attempt after this many seconds")] = 10.0
    retries: Annotated[int, _d("retry a failed delivery this many times, with exponential backoff")] = 3
    backoff_s: Annotated[float, _d("first retry delay; doubles on each retry")] = 2.0
    queue_size: Annotated[int, _d("alerts waiting per destination; beyond it the oldest is dropped and counted")] = 1000
    resend_pending_s: Annotated[float, _d("on start, deliver alerts younger than this that a restart left undelivered")] = 3600.0
    rules: Annotated[list[Rule], _d("the rule tables (alerts.rules); `liqwatch alerts list` shows them")] = msgspec.field(default_factory=list)


def precheck(raw: Any) -> None:
    """Check raw `[alerts]` TOML before conversion; raise ConfigError naming the bad rule and key."""
    if not isinstance(raw, dict):
        return
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigError("config error in [alerts]: 'rules' must be a list of [[alerts.rules]] tables")
    names: set[str] = set()
    for i, rule in enumerate(rules, 1):
        where = f"[[alerts.rules]] #{i}"
        if not isinstance(rule, dict):
            raise ConfigError(f"config error in {where}: expected a table, was {rule!r}")
        kind = rule.get("type")
        if kind not in RULE_TYPES:
            hint = did_you_mean(str(kind), RULE_TYPES) if kind else ""
            raise ConfigError(f"config error in {where}: 'type' is {kind!r}{hint}; known types: {', '.join(RULE_TYPES)}")
        name = rule.get("name")
        where = f"{where} ({kind}{', ' + repr(name) if name else ''})"
        if not name:
            raise ConfigError(f"config error in {where}: missing key 'name'; give each rule a unique name (it keys cooldowns and history)")
        if name in names:
            raise ConfigError(f"config error in {where}: name {name!r} is used by another rule; names must be unique")
        names.add(str(name))
        known = [f.name for f in msgspec.structs.fields(RULE_TYPES[kind])]
        for key in rule:
            if key != "type" and key not in known:
                raise ConfigError(f"config error in {where}: unknown key {key!r}{did_you_mean(key, known)}; known keys: {', '.join(known)}")
        try:
            msgspec.convert(rule, RULE_TYPES[kind], strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"config error in {where}: {_field_message(str(exc))}") from None


def _field_message(text: str) -> str:
    what, _, at = text.partition(" - at `$.")
    what = what.replace(", got ", ", was ")
    return f"{at.rstrip('`')}: {what}" if at else what


def check(settings: AlertSettings) -> None:
    """Check values msgspec cannot: durations, thresholds, venues and destination URLs."""
    from liqwatch.venues import VENUES

    for field in ("timeout_s", "backoff_s", "queue_size"):
        if getattr(settings, field) <= 0:
            raise ConfigError(f"config error in [alerts]: {field} must be positive, was {getattr(settings, field)!r}")
    if settings.retries < 0:
        raise ConfigError(f"config error in [alerts]: retries must be 0 or more, was {settings.retries!r}")
    if not settings.dashboard_url.startswith(("http://", "https://")):
        raise ConfigError(f"config error in [alerts]: dashboard_url must start with http:// or https://, was {settings.dashboard_url!r}")
    for rule in settings.rules:
        where = f"[[alerts.rules]] {rule.name!r}"
        for key in ("cooldown", "window"):
            value = getattr(rule, key, None)
            if value is None:
                continue
            try:
                parse_duration_ns(value)
            except ValueError as exc:
                raise ConfigError(f"config error in {where}: {key}: {exc}") from None
        if rule.venue and rule.venue not in VENUES:
            raise ConfigError(f"config error in {where}: unknown venue {rule.venue!r}{did_you_mean(rule.venue, VENUES)}")
        for key in ("min_usd", "pct", "minutes"):
            value = getattr(rule, key, None)
            if value is not None and value <= 0:
                raise ConfigError(f"config error in {where}: {key} must be positive, was {value!r}")
        if isinstance(rule, SignalRule):
            for kind in rule.kinds:
                if kind not in SIGNAL_KINDS:
                    raise ConfigError(f"config error in {where}: unknown signal kind {kind!r}{did_you_mean(kind, SIGNAL_KINDS)}; known: {', '.join(SIGNAL_KINDS)}")
    from liqwatch.config.alert_urls import check_urls

    check_urls(settings.urls)
