"""Silent-feed detection: a venue whose liquidation stream goes quiet while its peers report liquidations.

A socket that sends nothing at all is caught by the websocket's stale watchdog. This catches the subtler
trap: the connection is alive (acks, pings, other channels flowing) but liquidations stopped arriving — the
Binance legacy `/ws` path after 2026-04-23 — while the market is clearly liquidating elsewhere.
"""

from __future__ import annotations

from collections import defaultdict, deque

from liqwatch.model import Event, Liquidation


class LiquidationSilence:
    """Track when each venue last reported a liquidation; say which went quiet while peers did not."""

    def __init__(self, venues: list[str], *, silence_ns: int, min_peers: int = 2, started_ns: int) -> None:
        self.venues = list(venues)
        self.silence_ns = silence_ns
        self.min_peers = min_peers
        self.started_ns = started_ns
        self.last_seen: dict[str, int] = {}
        self._recent: dict[str, deque[int]] = defaultdict(deque)
        self._alarmed: dict[str, int] = {}

    def observe(self, events: list[Event], now_ns: int) -> None:
        """Record the receive time of every liquidation in a batch."""
        for event in events:
            if isinstance(event, Liquidation):
                self.last_seen[event.venue] = now_ns
                self._recent[event.venue].append(now_ns)

    def check(self, now_ns: int) -> list[tuple[str, str]]:
        """Return (venue, reason) for each venue silent for `silence_ns` while ≥ `min_peers` others were not."""
        horizon = now_ns - self.silence_ns
        for times in self._recent.values():
            while times and times[0] < horizon:
                times.popleft()
        active = {v: len(t) for v, t in self._recent.items() if t}
        out = []
        for venue in self.venues:
            quiet_since = max(self.last_seen.get(venue, 0), self.started_ns, self._alarmed.get(venue, 0))
            if now_ns - quiet_since < self.silence_ns:
                continue
            peers = {v: n for v, n in active.items() if v != venue}
            if len(peers) < self.min_peers:
                continue  # the whole market is quiet: silence is not evidence
            minutes = self.silence_ns / 60e9
            evidence = ", ".join(f"{v} {n}" for v, n in sorted(peers.items(), key=lambda kv: -kv[1])[:4])
            out.append((venue, f"no liquidation for {minutes:g} min while peers reported some ({evidence}); reconnecting"))
            self._alarmed[venue] = now_ns
        return out
