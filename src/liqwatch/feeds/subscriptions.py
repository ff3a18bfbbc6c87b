"""Plan how a running Feed follows its venue's instrument list: subscribe listings live, rebuild on delistings.

Pure: venue module in, plan out. The venue's own `ws_connections` stays the only place that knows its
subscribe format and its per-connection limits; this module only compares what it would build.

* New instruments: their subscribe messages go onto the live connection of the same URL when the venue
  would still fit everything selected into as many connections of that URL as are open; otherwise they
  get an extra connection (a venue with a per-connection stream limit, or URL-encoded streams).
* Delisted instruments: no venue module has a generic unsubscribe, so the connections are rebuilt from a
  fresh plan (same names, new subscribe lists) and reconnected once; extra connections are closed.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from liqwatch.model import Channel, Instrument
from liqwatch.venues import VenueModule, WsConnection


class Additions(msgspec.Struct, frozen=True, kw_only=True):
    """Messages to send on live connections (by name) and connections to open."""

    send: dict[str, tuple[bytes, ...]]
    open: list[WsConnection]


def plan_additions(
    venue: VenueModule,
    live: Sequence[WsConnection],
    selected: Sequence[Instrument],
    added: Sequence[Instrument],
    channels: frozenset[Channel],
    ws_url: str,
) -> Additions:
    """Return how to subscribe `added` instruments given the `live` connections and everything `selected`."""
    if not added:
        return Additions(send={}, open=[])
    full = venue.ws_connections(selected, channels, ws_url)
    needed_per_url: dict[str, int] = {}
    for conn in full:
        needed_per_url[conn.url] = needed_per_url.get(conn.url, 0) + 1
    send: dict[str, tuple[bytes, ...]] = {}
    to_open: list[WsConnection] = []
    taken = {c.name for c in live}
    for conn in venue.ws_connections(added, channels, ws_url):
        same_url = [c for c in live if c.url == conn.url]
        # a message already sent on any connection of this URL (dYdX's v4_markets, an all-market stream) would
        # deliver its events twice: only what no live or planned connection subscribes yet goes out
        already = {m for c in same_url for m in c.subscribe} | {m for c in to_open if c.url == conn.url for m in c.subscribe}
        already.update(m for name, msgs in send.items() for c in same_url if c.name == name for m in msgs)
        fresh = tuple(m for m in conn.subscribe if m not in already)
        if not fresh:
            continue
        if same_url and needed_per_url.get(conn.url, 0) <= len(same_url):
            target = same_url[-1]  # venues fill connections in order: the last one has the room
            send[target.name] = send.get(target.name, ()) + fresh
        else:
            name = _unique(conn.name, taken)
            taken.add(name)
            to_open.append(msgspec.structs.replace(conn, name=name, subscribe=fresh))
    return Additions(send=send, open=to_open)


def _unique(name: str, taken: set[str]) -> str:
    n = 1
    candidate = f"{name}+{n}"
    while candidate in taken:
        n += 1
        candidate = f"{name}+{n}"
    return candidate


__all__ = ["Additions", "plan_additions"]
