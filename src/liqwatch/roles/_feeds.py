"""The feeds every collecting role builds the same way (`up`, `collect`, `record`): which venues, one Feed each from the
settings, and a feed's state in words for people.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from liqwatch.capture.tap import RecordingWriter
from liqwatch.config import Settings, VenueSettings
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, Event, InstrumentIndex
from liqwatch.venues import VENUES


def venue_names(settings: Settings) -> list[str]:
    """Return the venues to collect from: [feeds] venues (or all), minus those disabled."""
    names = settings.feeds.venues or list(VENUES)
    return [n for n in names if settings.venues.get(n, VenueSettings()).enabled]


def build_feeds(
    settings: Settings,
    session: aiohttp.ClientSession,
    instruments: InstrumentIndex,
    emit: Callable[[list[Event]], None],
    recorder: RecordingWriter | None = None,
) -> list[Feed]:
    """Return one Feed per configured venue (URLs, coins, channels from the settings), tapped by `recorder`."""
    feeds = []
    wanted = frozenset(Channel(c) for c in settings.feeds.channels) or frozenset(Channel)
    for name in venue_names(settings):
        module = VENUES[name]
        vs = settings.venues.get(name, VenueSettings())
        coins = vs.coins or settings.feeds.coins
        feeds.append(
            Feed(
                module,
                session=session,
                ws_url=vs.ws_url or module.SPEC.ws_url,
                rest_url=vs.rest_url or module.SPEC.rest_url,
                channels=wanted,
                instruments=instruments,
                coins=frozenset(c.upper() for c in coins) if coins else None,
                emit=emit,
                stale_after_s=settings.feeds.stale_after_s or None,
                oi_poll_interval_s=settings.feeds.oi_poll_interval_s or None,
                tap=recorder.tap(module) if recorder is not None else None,
            )
        )
    return feeds


def venue_state(feed: Feed) -> dict[str, Any]:
    """Summarise one feed for people: connected/total sockets, a state word and the reason when not connected."""
    status = feed.status()
    conns: dict[str, dict[str, Any]] = status["connections"]  # type: ignore[assignment]
    connected = sum(1 for c in conns.values() if c["state"] == "connected")
    if not conns:
        failing = feed.rest.last_error or (feed.last_error if feed.instrument_errors else "")
        state = "unreachable" if failing else "starting"
        detail = f"{failing} — retrying" if failing else "loading instruments"
    elif connected == len(conns):
        state, detail = "connected", ""
    elif all(c.get("detail") == "stopped" for c in conns.values()):
        state, detail = "stopped", "not collecting: its connections were closed (App.stop_feeds; the demo does so when its market ends)"
    else:
        down = next(c for c in conns.values() if c["state"] != "connected")
        state = "unreachable" if connected == 0 else "degraded"
        detail = str(down.get("detail") or down["state"])
    return {
        **status,
        "state": state,
        "detail": detail,
        "sockets": len(conns),
        "connected": connected,
        "events": sum(int(c["events"]) for c in conns.values()),
        "skipped": sum(sum(c["skipped"].values()) for c in conns.values()),
        "reconnects": sum(int(c["reconnects"]) for c in conns.values()),
    }
