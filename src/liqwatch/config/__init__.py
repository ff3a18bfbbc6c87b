"""Config: every setting, typed and layered — defaults, then a TOML file, then LIQWATCH__SECTION__KEY environment
variables; `config.alerts` holds the alert rules' schema. `load()` validates everything once at start-up and raises
ConfigError with one clear line naming the key.

Sits low: may import model, venues (for venue names) and the basics only.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

from liqwatch.config.alerts import AlertSettings
from liqwatch.errors import ConfigError, did_you_mean
from liqwatch.redact import redact_url


def _d(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[store]"""

    path: Annotated[str, _d("DuckDB file (default ~/.local/share/liqwatch/liqwatch.duckdb) or store URL")] = ""
    flush_interval_s: Annotated[float, _d("write buffered events at least this often (bounds the loss window on a crash)")] = 1.0
    batch_size: Annotated[int, _d("write as soon as this many events are buffered")] = 50_000


class FeedSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[feeds]"""

    venues: Annotated[list[str], _d("venues to collect from; empty = every venue liqwatch knows")] = msgspec.field(default_factory=list)
    coins: Annotated[list[str], _d("base coins to collect (e.g. BTC, ETH); empty = every contract of each venue")] = msgspec.field(
        default_factory=list
    )
    channels: Annotated[list[str], _d("liquidations, open_interest, mark_price, candles; empty = all a venue has")] = (
        msgspec.field(default_factory=list)
    )
    stale_after_s: Annotated[float, _d("a socket silent this long is marked STALE and reconnected (0 = each venue's default)")] = 0.0
    oi_poll_interval_s: Annotated[float, _d("poll REST open interest this often (0 = each venue's default)")] = 0.0
    liquidation_silence_s: Annotated[
        float, _d("a venue with no liquidation this long while 2+ peers report some is marked STALE and reconnected (0 = off)")
    ] = 900.0


class VenueSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[venues.NAME]"""

    enabled: Annotated[bool, _d("collect from this venue")] = True
    ws_url: Annotated[str, _d("websocket URL override (e.g. a local exchange server); empty = the venue's")] = ""
    rest_url: Annotated[str, _d("REST base URL override; empty = the venue's")] = ""
    coins: Annotated[list[str], _d("coins for this venue only; empty = [feeds] coins")] = msgspec.field(default_factory=list)


class BusSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[bus]"""

    url: Annotated[str, _d("NATS server(s) for scale-out roles, comma-separated, e.g. nats://10.0.0.5:4222; empty = in-process only")] = ""
    stream: Annotated[str, _d("JetStream stream holding every event (created on first use)")] = "LIQWATCH"
    subject_prefix: Annotated[str, _d("subjects are PREFIX.TYPE.VENUE.COIN, e.g. liqwatch.liquidation.bybit.BTC")] = "liqwatch"
    consumer: Annotated[str, _d("durable consumer name of `liqwatch ingest` (ingesters sharing it split the work)")] = "liqwatch-ingest"
    duplicate_window_s: Annotated[float, _d("JetStream drops a re-published event id seen within this window (the store dedupes the rest)")] = 600.0
    max_age_h: Annotated[float, _d("keep events in the stream this long, so a stopped ingester can catch up (0 = forever)")] = 72.0
    replicas: Annotated[int, _d("stream replicas (1 for one server; 3 on a 3-node NATS cluster)")] = 1
    ack_wait_s: Annotated[float, _d("a message an ingester took but did not acknowledge (it died) is redelivered after this")] = 30.0
    ack_timeout_s: Annotated[float, _d("a publish not acknowledged by JetStream within this is sent again (same id: no double)")] = 5.0


class LogSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[log]"""

    level: Annotated[str, _d("DEBUG, INFO, WARNING or ERROR")] = "WARNING"


class WebSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[web]"""

    enabled: Annotated[bool, _d("serve the dashboard and JSON API from `liqwatch up`")] = True
    host: Annotated[str, _d("address to bind; anything but loopback (127.0.0.1, ::1, localhost) requires a token")] = "127.0.0.1"
    port: Annotated[int, _d("TCP port of the dashboard (0 = any free port)")] = 8000
    token: Annotated[
        str, _d("access token: every request must carry it (Authorization: Bearer, ?token= or cookie); 16+ characters off loopback; empty = none")
    ] = ""
    big_usd: Annotated[float, _d("liquidations of at least this USD are highlighted (and flash/beep when enabled in the page)")] = 100_000.0
    push_interval_s: Annotated[float, _d("live updates are batched and pushed to browsers at most this often")] = 0.1
    allowed_hosts: Annotated[
        list[str],
        _d("Host header names served besides the bound address, localhost, 127.0.0.1 and [::1] (DNS rebinding guard); "
           "a 0.0.0.0/:: bind also serves any IP address and this machine's name; [\"*\"] = any (a proxy checks Host)"),
    ] = msgspec.field(default_factory=list)
    max_live_clients: Annotated[int, _d("live streams (/api/stream) served at once; one more is closed with the reason")] = 64


class HeatmapSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[heatmap]"""

    leverages: Annotated[list[float], _d("leverage tiers of the liquidation model")] = msgspec.field(
        default_factory=lambda: [5.0, 10.0, 25.0, 50.0, 100.0]
    )
    weights: Annotated[list[float], _d("share of new OI per tier, any scale (`liqwatch heatmap calibrate` fits them)")] = (
        msgspec.field(default_factory=lambda: [15.0, 30.0, 25.0, 20.0, 10.0])
    )
    mmr: Annotated[float, _d("flat maintenance margin rate used for every venue")] = 0.005
    entry_proxy: Annotated[str, _d("entry price of new OI: vwap, typical or close")] = "vwap"
    long_share: Annotated[str, _d("long/short split of new OI: clv (close location in the bar) or even")] = "clv"


class LevelRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[signals.levels.COIN]"""

    levels: Annotated[list[float], _d("prices whose crossing by a closed bar fires level-cross")] = msgspec.field(
        default_factory=list
    )
    zones: Annotated[
        list[list[float]], _d("[low, high] zones: a close above high after one at or below fires zone-reclaim, below low zone-lost")
    ] = msgspec.field(default_factory=list)
    daily_close: Annotated[bool, _d("fire close-below-prior-low / close-above-prior-high on each UTC daily close")] = True


class SignalSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[signals]"""

    enabled: Annotated[bool, _d("evaluate signals on closed bars while `liqwatch up` runs")] = True
    timeframe: Annotated[str, _d("bar length the liquidation, OI and level rules are evaluated on, e.g. 1h")] = "1h"
    coins: Annotated[list[str], _d("coins to evaluate; empty = every coin with data")] = msgspec.field(default_factory=list)
    cluster_percentile: Annotated[float, _d("a bar's long (short) USD must exceed this percentile of the lookback bars")] = 95.0
    cluster_lookback_bars: Annotated[int, _d("bars before the current one the percentile is taken over")] = 168
    cluster_min_bars: Annotated[int, _d("fewest lookback bars with data before a cluster can fire")] = 24
    cluster_share: Annotated[float, _d("long (short) share of the bar's liquidated USD needed for a cluster")] = 0.75
    cluster_min_usd: Annotated[float, _d("and at least this many USD liquidated on that side in the bar")] = 1_000_000.0
    flush_window: Annotated[str, _d("window of the leverage-flush rule")] = "4h"
    flush_drop_pct: Annotated[float, _d("coin-terms OI drop (percent) over flush_window that fires leverage-flush")] = 5.0
    divergence_window: Annotated[str, _d("window of the oi-price-divergence rule")] = "4h"
    divergence_price_pct: Annotated[float, _d("price move (percent) needed for a divergence")] = 2.0
    divergence_oi_pct: Annotated[float, _d("opposite coin-terms OI move (percent) needed for a divergence")] = 2.0
    levels: Annotated[dict[str, LevelRules], _d("level, zone and daily-close rules per coin")] = msgspec.field(
        default_factory=dict
    )


class AnalyticsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[analytics]"""

    price_venues: Annotated[list[str], _d("venues whose COIN-USDT perp candles are the price source, in preference order")] = (
        msgspec.field(default_factory=lambda: ["binance-usdm", "bybit", "okx", "bitget", "gate"])
    )
    sessions: Annotated[
        dict[str, list[float]], _d("trading sessions as name = [start hour, end hour) UTC; may wrap midnight")
    ] = msgspec.field(default_factory=lambda: {"asia": [0.0, 8.0], "europe": [8.0, 14.0], "us": [14.0, 22.0]})


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """All of liqwatch's settings."""

    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    feeds: FeedSettings = msgspec.field(default_factory=FeedSettings)
    venues: dict[str, VenueSettings] = msgspec.field(default_factory=dict)
    bus: BusSettings = msgspec.field(default_factory=BusSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    alerts: AlertSettings = msgspec.field(default_factory=AlertSettings)
    web: WebSettings = msgspec.field(default_factory=WebSettings)
    heatmap: HeatmapSettings = msgspec.field(default_factory=HeatmapSettings)
    signals: SignalSettings = msgspec.field(default_factory=SignalSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)


_SECTIONS: dict[str, type[Any]] = {
    "store": StoreSettings,
    "feeds": FeedSettings,
    "log": LogSettings,
    "alerts": AlertSettings,
    "web": WebSettings,
    "heatmap": HeatmapSettings,
    "signals": SignalSettings,
    "analytics": AnalyticsSettings,
    "bus": BusSettings,
}
_ENV = re.compile(r"^LIQWATCH__([A-Z0-9_]+?)__([A-Z0-9_]+?)(?:__([A-Z0-9_]+))?$")


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Return validated Settings from defaults, an optional TOML file, the environment and keyword overrides.

    Raises:
        ConfigError: a file that is missing or not TOML, an unknown key, or a value of the wrong type.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path).expanduser()
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {p} does not exist; create it or drop --config") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {p} is a directory; pass the TOML file itself") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {p} is not valid TOML: not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"config file {p} cannot be read: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {' '.join(str(exc).split())}") from None
    _merge_env(data, os.environ if environ is None else environ)
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, key = dotted.split("__", 1)
        data.setdefault(section, {})[key] = value
    settings = _convert(data)
    _check(settings)
    return settings


def _merge_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, raw in environ.items():
        match = _ENV.match(name)
        if not match:
            continue
        section, key, sub = (g.lower() if g else None for g in match.groups())
        assert section is not None and key is not None
        if section == "venues" and sub:
            venue = key.replace("_", "-")
            data.setdefault("venues", {}).setdefault(venue, {})[sub] = _env_value(VenueSettings, sub, raw, name)
        else:
            cls = _SECTIONS.get(section)
            if cls is None:
                raise ConfigError(f"environment variable {name}: unknown section {section!r}; sections: {', '.join(_SECTIONS)}, venues")
            data.setdefault(section, {})[key] = _env_value(cls, key, raw, name)


def _env_value(cls: type[Any], key: str, raw: str, name: str) -> Any:
    hints = typing.get_type_hints(cls)
    if key not in hints:
        raise ConfigError(f"environment variable {name}: unknown key {key!r}{did_you_mean(key, hints)}")
    if typing.get_origin(hints[key]) is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _convert(data: dict[str, Any]) -> Settings:
    from liqwatch.config.alerts import precheck

    precheck(data.get("alerts"))
    try:
        return msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), data)) from None


_EXPECTED = {
    "float": "a number (e.g. 1.5)",
    "int": "a whole number (e.g. 5000)",
    "bool": "true or false",
    "str": "a string in quotes",
    "array": "a list (e.g. ['BTC', 'ETH']; in the environment: BTC,ETH)",
    "object": "a table of keys",
}
_SECRET_KEYS = frozenset({"token", "url", "urls", "path", "ws_url", "rest_url"})  # values never echoed in errors
_TYPED = re.compile(r"Expected `(\w+)[^`]*`, got `\w+` - at `\$\.(\w+)(?:\[\.\.\.\])?\.(\w+)`")


def _explain(message: str, data: dict[str, Any] | None = None) -> str:
    typed = _TYPED.match(message)
    if typed and data is not None:
        expected, section, key = typed.groups()
        value: Any = "?"
        where = f"[{section}]"
        if section == "venues":  # msgspec hides the dict key: find the venue whose value is wrong
            bad = [(v, vals[key]) for v, vals in data.get("venues", {}).items() if isinstance(vals, dict) and key in vals]
            where, value = (f'[venues."{bad[0][0]}"]', bad[0][1]) if bad else ("[venues.NAME]", "?")
        elif isinstance(data.get(section), dict):
            value = data[section].get(key, "?")
        shown = "(not shown: it may hold a secret)" if key in _SECRET_KEYS else repr(value)
        return f"config error: {where} {key} must be {_EXPECTED.get(expected, expected)}, was {shown}"
    match = re.match(r"Object contains unknown field `(\w+)` - at `\$\.?([\w.\[\]'\"-]*)`", message)
    if match:
        field, where = match.groups()
        section = where.split(".")[0].split("[")[0] or "(top level)"
        known = _known_keys(where)
        return f"config error in [{section}]: unknown key {field!r}{did_you_mean(field, known)}; known keys: {', '.join(known)}"
    match = re.match(r"(.*) - at `\$\.?(.*)`", message)
    if match:
        what, where = match.groups()
        return f"config error at {where}: {what}"
    return f"config error: {message}"


def _known_keys(where: str) -> list[str]:
    if not where:
        return [*list(_SECTIONS), "venues"]
    if where.startswith("venues"):
        return [f.name for f in msgspec.structs.fields(VenueSettings)]
    cls = _SECTIONS.get(where)
    return [f.name for f in msgspec.structs.fields(cls)] if cls else []


def _check(settings: Settings) -> None:
    from liqwatch.model import Channel
    from liqwatch.venues import VENUES

    for name in [*settings.feeds.venues, *settings.venues]:
        if name not in VENUES:
            raise ConfigError(f"unknown venue {name!r} in config{did_you_mean(name, VENUES)}; known venues: {', '.join(VENUES)}")
    channels = [c.value for c in Channel]
    for ch in settings.feeds.channels:
        if ch not in channels:
            raise ConfigError(f"unknown channel {ch!r} in [feeds] channels{did_you_mean(ch, channels)}; known: {', '.join(channels)}")
    store, feeds = settings.store, settings.feeds
    if not 0 < store.flush_interval_s < math.inf:
        raise ConfigError(f"[store] flush_interval_s must be a positive number of seconds (e.g. 1.0), was {store.flush_interval_s!r}")
    if store.batch_size <= 0:
        raise ConfigError(f"[store] batch_size must be a positive whole number (e.g. 5000), was {store.batch_size!r}")
    for key, hint in (("stale_after_s", "0 = each venue's default"), ("liquidation_silence_s", "0 = off")):
        value = getattr(feeds, key)
        if not 0 <= value < math.inf:
            raise ConfigError(f"[feeds] {key} must be 0 or a positive number of seconds ({hint}), was {value!r}")
    for venue, vs in settings.venues.items():
        for key, schemes in (("ws_url", ("ws://", "wss://")), ("rest_url", ("http://", "https://"))):
            url = getattr(vs, key)
            if url and not url.startswith(schemes):
                raise ConfigError(f'[venues."{venue}"] {key} must start with {" or ".join(schemes)}, was {redact_url(url)!r}')
    _check_analytics(settings)
    if settings.bus.url and not all(u.strip().startswith(("nats://", "tls://")) for u in settings.bus.url.split(",")):
        raise ConfigError(f"[bus] url must be nats://HOST:PORT (comma-separated for a cluster), was {redact_url(settings.bus.url)!r}")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", settings.bus.stream) or not re.fullmatch(r"[A-Za-z0-9_-]+", settings.bus.consumer):
        raise ConfigError("[bus] stream and consumer names may hold only letters, digits, '-' and '_'")
    if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", settings.bus.subject_prefix):
        raise ConfigError(f"[bus] subject_prefix must be dot-separated tokens of letters, digits, '-', '_', was {settings.bus.subject_prefix!r}")
    if settings.log.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[log] level must be DEBUG, INFO, WARNING or ERROR, was {settings.log.level!r}")
    from liqwatch.config.alerts import check as check_alerts

    check_alerts(settings.alerts)
    _check_web(settings.web)


def is_loopback(host: str) -> bool:
    """Return whether `host` is a loopback address (or `localhost`)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MIN_TOKEN_CHARS = 16  # a token guarding a non-loopback dashboard must be at least this long (guessing is online)


def _check_web(web: WebSettings) -> None:
    if not is_loopback(web.host) and not web.token:
        raise ConfigError(
            f"[web] host = {web.host!r} is not a loopback address: set [web] token (or LIQWATCH__WEB__TOKEN) "
            "so that every request must carry it, or bind 127.0.0.1"
        )
    if not is_loopback(web.host) and len(web.token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"[web] token is {len(web.token)} characters; a dashboard on {web.host!r} (not loopback) needs at least "
            f"{MIN_TOKEN_CHARS}: make one with `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        )
    if not 0 <= web.port <= 65535:
        raise ConfigError(f"[web] port must be 0..65535, was {web.port}")
    if web.push_interval_s <= 0:
        raise ConfigError(f"[web] push_interval_s must be positive, was {web.push_interval_s}")
    if web.max_live_clients < 1:
        raise ConfigError(f"[web] max_live_clients must be at least 1, was {web.max_live_clients}")
    for name in web.allowed_hosts:
        if not name or any(c in name for c in " /@?#"):
            raise ConfigError(f"[web] allowed_hosts: {name!r} is not a host name (a name or address, no scheme or path)")


def _check_analytics(settings: Settings) -> None:
    from liqwatch.model.time import parse_duration_ns

    sig = settings.signals
    for key in ("timeframe", "flush_window", "divergence_window"):
        try:
            parse_duration_ns(getattr(sig, key))
        except ValueError as exc:
            raise ConfigError(f"[signals] {key}: {exc}") from None
    if not 0 < sig.cluster_percentile <= 100 or not 0 <= sig.cluster_share <= 1:
        raise ConfigError("[signals] cluster_percentile must be in (0, 100] and cluster_share in [0, 1]")
    for coin, rules in sig.levels.items():
        for zone in rules.zones:
            if len(zone) != 2 or zone[0] >= zone[1]:
                raise ConfigError(f"[signals.levels.{coin}] zones: each zone is [low, high] with low < high, was {zone}")
    for name, hours in settings.analytics.sessions.items():
        if len(hours) != 2 or not all(0 <= h <= 24 for h in hours) or hours[0] == hours[1]:
            raise ConfigError(f"[analytics] sessions.{name}: give [start hour, end hour) UTC within 0..24, was {hours}")


def describe(settings: Settings) -> list[tuple[str, Any, str]]:
    """Return (key, effective value, description) for every setting, for `liqwatch config show`."""
    out: list[tuple[str, Any, str]] = []
    for section, cls in _SECTIONS.items():
        values = getattr(settings, section)
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in msgspec.structs.fields(cls):
            value = _shown(f"{section}.{f.name}", getattr(values, f.name))
            out.append((f"{section}.{f.name}", value, _description(hints[f.name])))
    vhints = typing.get_type_hints(VenueSettings, include_extras=True)
    for venue, vs in sorted(settings.venues.items()):
        for f in msgspec.structs.fields(VenueSettings):
            value = getattr(vs, f.name)
            out.append((f"venues.{venue}.{f.name}", redact_url(value) if f.name.endswith("_url") else value, _description(vhints[f.name])))
    return out


def _shown(key: str, value: Any) -> Any:
    # destination URLs carry tokens: show them masked; rules are listed by `liqwatch alerts list`
    if key == "alerts.urls":
        return [redact_url(u, secret_path=True) for u in value]
    if key in ("bus.url", "store.path"):  # passwords and query values masked (liqwatch.redact)
        return redact_url(value)
    if key == "alerts.rules":
        return [f"{r.name} ({type(r).__struct_config__.tag})" for r in value]
    if key == "web.token" and value:
        return "(set, not shown)"
    return value


def _description(hint: Any) -> str:
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, msgspec.Meta) and meta.description:
            return meta.description
    return ""
