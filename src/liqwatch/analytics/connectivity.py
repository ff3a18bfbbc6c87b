"""Which venues were connected for a whole window, from the stored `feed_status` changes. Pure.

A venue is *up* while every one of its known connections is CONNECTED; any CONNECTING, STALE or
DISCONNECTED state of any connection is a gap. A connection stopped in order (detail "stopped": a
shutdown, or a connection retired by a resubscription) is forgotten once another connection of the
venue is CONNECTED again, so a restart with fewer connections does not leave a gap open forever.
A venue with no status before the window starts is down until its first CONNECTED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from liqwatch.model import FeedState

NS_PER_S = 1_000_000_000
STOPPED = "stopped"  # ReconnectingWebSocket's detail of an orderly stop


class _Venue:
    def __init__(self) -> None:
        self.states: dict[str, tuple[str, str]] = {}

    def apply(self, connection_id: str, state: str, detail: str) -> None:
        if state == FeedState.CONNECTED:
            for other, (s, d) in list(self.states.items()):
                if other != connection_id and s == FeedState.DISCONNECTED and d == STOPPED:
                    del self.states[other]
        self.states[connection_id] = (state, detail)

    def up(self) -> bool:
        return bool(self.states) and all(s == FeedState.CONNECTED for s, _ in self.states.values())


def venue_connectivity(rows: Iterable[Mapping[str, Any]], *, since: int, until: int) -> dict[str, dict[str, Any]]:
    """Return per venue: whole_window, gaps (count), gap_s and connected_share over (since, until].

    `rows` are feed_status rows (venue, connection_id, state, detail, ts_event): at least the last row
    of each connection at or before `since`, then every row in (since, until].
    """
    by_venue: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_venue.setdefault(str(row["venue"]), []).append(row)
    return {venue: _one(sorted(vrows, key=lambda r: int(r["ts_event"])), since, until) for venue, vrows in sorted(by_venue.items())}


def _one(rows: list[Mapping[str, Any]], since: int, until: int) -> dict[str, Any]:
    venue = _Venue()
    gaps: list[tuple[int, int]] = []
    gap_start: int | None = None
    started = False
    for row in rows:
        ts = int(row["ts_event"])
        if ts > until:
            break
        if ts > since and not started:
            started = True
            gap_start = None if venue.up() else since
        venue.apply(str(row["connection_id"]), str(row["state"]), str(row["detail"]))
        if not started:
            continue
        if venue.up() and gap_start is not None:
            gaps.append((gap_start, ts))
            gap_start = None
        elif not venue.up() and gap_start is None:
            gap_start = ts
    if not started:
        gap_start = None if venue.up() else since
    if gap_start is not None:
        gaps.append((gap_start, until))
    gap_ns = sum(end - start for start, end in gaps)
    window = max(until - since, 1)
    return {
        "whole_window": not gaps,
        "gaps": len(gaps),
        "gap_s": gap_ns / NS_PER_S,
        "connected_share": 1.0 - gap_ns / window,
    }


__all__ = ["venue_connectivity"]
