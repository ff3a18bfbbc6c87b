"""Typed, layered settings: defaults, then a TOML file, then LIQWATCH__SECTION__KEY environment variables.

`load()` validates everything once at start-up and raises ConfigError with one clear line naming the key.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

from liqwatch.errors import ConfigError, did_you_mean


def _d(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[store]"""

    path: Annotated[str, _d("DuckDB file (default ~/.local/share/liqwatch/liqwatch.duckdb) or store URL")] = ""
    flush_interval_s: Annotated[float, _d("write buffered events at least this often (bounds the loss window on a crash)")] = 1.0
    batch_size: Annotated[int, _d("write as soon as this many events are buffered")] = 5000


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


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """All of liqwatch's settings."""

    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    feeds: FeedSettings = msgspec.field(default_factory=FeedSettings)
    venues: dict[str, VenueSettings] = msgspec.field(default_factory=dict)
    bus: BusSettings = msgspec.field(default_factory=BusSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


_SECTIONS: dict[str, type[Any]] = {"store": StoreSettings, "feeds": FeedSettings, "bus": BusSettings, "log": LogSettings}
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
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
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
    try:
        return msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc))) from None


def _explain(message: str) -> str:
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
    if settings.store.flush_interval_s <= 0 or settings.store.batch_size <= 0:
        raise ConfigError("[store] flush_interval_s and batch_size must be positive")
    if settings.bus.url and not all(u.strip().startswith(("nats://", "tls://")) for u in settings.bus.url.split(",")):
        raise ConfigError(f"[bus] url must be nats://HOST:PORT (comma-separated for a cluster), was {settings.bus.url!r}")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", settings.bus.stream) or not re.fullmatch(r"[A-Za-z0-9_-]+", settings.bus.consumer):
        raise ConfigError("[bus] stream and consumer names may hold only letters, digits, '-' and '_'")
    if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", settings.bus.subject_prefix):
        raise ConfigError(f"[bus] subject_prefix must be dot-separated tokens of letters, digits, '-', '_', was {settings.bus.subject_prefix!r}")
    if settings.log.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[log] level must be DEBUG, INFO, WARNING or ERROR, was {settings.log.level!r}")


def describe(settings: Settings) -> list[tuple[str, Any, str]]:
    """Return (key, effective value, description) for every setting, for `liqwatch config show`."""
    out: list[tuple[str, Any, str]] = []
    for section, cls in _SECTIONS.items():
        values = getattr(settings, section)
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in msgspec.structs.fields(cls):
            out.append((f"{section}.{f.name}", getattr(values, f.name), _description(hints[f.name])))
    vhints = typing.get_type_hints(VenueSettings, include_extras=True)
    for venue, vs in sorted(settings.venues.items()):
        for f in msgspec.structs.fields(VenueSettings):
            out.append((f"venues.{venue}.{f.name}", getattr(vs, f.name), _description(vhints[f.name])))
    return out


def _description(hint: Any) -> str:
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, msgspec.Meta) and meta.description:
            return meta.description
    return ""
