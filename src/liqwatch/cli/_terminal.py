"""`liqwatch watch`: the dashboard's live state in a terminal (for SSH), read from a running liqwatch's API.

The same numbers as the web page: `/api/overview` for window totals, `/api/venues` for venue status, and the
`/api/stream` server-sent events for the feed and fresh totals. A DuckDB file takes one process, so the terminal
view reads over HTTP rather than opening the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from typing import Any

import aiohttp
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from liqwatch.errors import LiqwatchError

FEED_ROWS = 20
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 5.0


def usd(value: float | None) -> str:
    """Format USD as the CLI does ($1.23M)."""
    if value is None:
        return "–"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"${value / div:,.2f}{suffix}"
    return f"${value:,.0f}"


class WatchState:
    """What the terminal shows; updated from API documents and stream messages (no I/O here)."""

    def __init__(self, big_usd: float = 100_000.0) -> None:
        self.totals: dict[str, Any] = {}
        self.venues: list[dict[str, Any]] = []
        self.feed: deque[dict[str, Any]] = deque(maxlen=FEED_ROWS)
        self.big_usd = big_usd
        self.connected = False
        self.refused = ""  # the server's reason when it refused the live stream (max_live_clients)
        self.lost = False  # the server went away; the client is reconnecting
        self.events_seen = 0

    def apply(self, kind: str, payload: dict[str, Any]) -> None:
        """Apply one stream message (`liquidations`, `totals`, `status`, `hello`, `refused`)."""
        if kind == "hello":
            self.connected = True
        elif kind == "liquidations":
            self.events_seen += int(payload.get("count", 0))
            for event in payload.get("events", []):
                self.feed.appendleft(event)
        elif kind == "totals":
            self.totals = payload.get("windows", {})
        elif kind == "refused":
            self.refused = str(payload.get("reason", "refused"))

    def render(self, height: int | None = None) -> Group:
        """Return the rich renderable: totals by window, the feed, venue status; within `height` lines when given
        (the feed gets the lines left; on a short terminal the venues are one wrapped line instead of a table)."""
        state = (
            "" if self.connected
            else f" (live stream refused: {self.refused})" if self.refused
            else " (server gone: reconnecting…)" if self.lost
            else " (connecting…)"
        )
        totals = Table(title="liquidations" + state, expand=True)
        for col in ("window", "total", "longs", "shorts", "long share", "count", "coverage"):
            totals.add_column(col, justify="left" if col in ("window", "coverage") else "right",
                              no_wrap=col == "coverage", overflow="ellipsis")
        for label, s in self.totals.items():
            share = f"{s['long_share']:.0%}" if s.get("long_share") is not None else "–"
            sampled = s.get("coverage", {}).get("sampled", [])
            totals.add_row(label, usd(s["total_usd"]), Text(usd(s["long_usd"]), "red"), Text(usd(s["short_usd"]), "green"),
                           share, f"{s['count']:,}", ("sampled: " + ", ".join(sampled)) if sampled else "complete")
        compact = height is not None and height < len(self.totals) + len(self.venues) + 24
        venue_lines = 2 if compact else len(self.venues) + 5
        rows = FEED_ROWS if height is None else max(1, min(FEED_ROWS, height - (len(self.totals) + 5) - venue_lines - 6))
        feed = Table(title=f"live feed ({self.events_seen:,} since start)", expand=True)
        for col in ("time", "venue", "symbol", "side", "price", "USD"):
            feed.add_column(col, justify="right" if col in ("price", "USD") else "left", no_wrap=True, overflow="ellipsis")
        for e in list(self.feed)[:rows]:
            style = ("bold " if e["usd"] >= self.big_usd else "") + ("red" if e["side"] == "long" else "green")
            # Venue strings are shown as plain Text, never parsed as rich markup.
            feed.add_row(_clock(e.get("ts_event")), Text(str(e["venue"])), Text(str(e["symbol"])), Text(str(e["side"]), style),
                         f"{e['price']:,.6g}", Text(usd(e["usd"]), style))
        return Group(totals, feed, self._venues_line() if compact else self._venues_table())

    def _venues_table(self) -> Table:
        venues = Table(title="venues", expand=True)
        for col in ("venue", "state", "connections", "msgs/min", "reconnects", "skipped"):
            venues.add_column(col)
        for v in self.venues:
            conns = v.get("connections", [])
            venues.add_row(Text(str(v["venue"])), Text(str(v["state"])), str(len(conns)),
                           f"{sum(c.get('messages_per_min') or 0 for c in conns):,.0f}",
                           str(sum(c.get("reconnects", 0) for c in conns)), str(sum(c.get("skipped", 0) for c in conns)))
        return venues

    def _venues_line(self) -> Text:
        by_state: dict[str, list[str]] = {}
        for v in self.venues:
            by_state.setdefault(str(v["state"]), []).append(str(v["venue"]))
        parts = [f"{state}: {', '.join(names)}" for state, names in sorted(by_state.items())]
        return Text("venues — " + ("; ".join(parts) if parts else "none reported"), overflow="ellipsis", no_wrap=False)


def _clock(ts_ns: Any) -> str:
    """HH:MM:SS UTC of a nanosecond time ('' when absent)."""
    if not isinstance(ts_ns, int):
        return ""
    return time.strftime("%H:%M:%S", time.gmtime(ts_ns / 1e9))


class WatchClient:
    """Fill a WatchState from a liqwatch server."""

    def __init__(self, url: str, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.state = WatchState()

    async def _get(self, session: aiohttp.ClientSession, path: str) -> Any:
        async with session.get(self.url + path) as r:
            if r.status == 401:
                raise LiqwatchError(f"{self.url} wants a token: set $LIQWATCH_TOKEN, pass --token-file FILE or --token")
            if r.status != 200:
                raise LiqwatchError(f"{self.url}{path} answered {r.status}: {await r.text()}")
            return await r.json()

    async def refresh(self, session: aiohttp.ClientSession) -> None:
        """Read totals and venue status once."""
        self.state.totals = (await self._get(session, "/api/overview"))["windows"]
        self.state.venues = (await self._get(session, "/api/venues"))["venues"]

    async def _stream_once(self, session: aiohttp.ClientSession) -> None:
        async with session.get(self.url + "/api/stream", timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as r:
            if r.status != 200:
                raise aiohttp.ClientResponseError(r.request_info, r.history, status=r.status)
            self.state.lost = False
            kind = ""
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.state.apply(kind, json.loads(line[6:]))

    async def stream(self, session: aiohttp.ClientSession) -> None:
        """Apply stream messages; when the server goes away (a restart), say so and reconnect, backing off to 5 s."""
        delay = RECONNECT_MIN_S
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await self._stream_once(session)
            self.state.connected, self.state.lost = False, True
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, LiqwatchError):
                await self.refresh(session)
                delay = RECONNECT_MIN_S

    async def run(self, duration_s: float | None, console: Console, live: bool) -> None:
        """Show the view until Ctrl-C or `duration_s`; in a non-terminal, print it once at the end."""
        try:
            async with aiohttp.ClientSession(headers=self.headers, timeout=aiohttp.ClientTimeout(total=10)) as session:
                await self.refresh(session)
                stream = asyncio.create_task(self.stream(session))
                try:
                    await self._show(session, duration_s, console, live)
                finally:
                    stream.cancel()
                    with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                        await stream
        except aiohttp.ClientConnectionError as exc:
            raise LiqwatchError(f"cannot reach {self.url} ({exc}): is `liqwatch up` running with the dashboard on?") from None
        if not live:
            console.print(self.state.render())

    async def _show(self, session: aiohttp.ClientSession, duration_s: float | None, console: Console, live: bool) -> None:
        loop = asyncio.get_running_loop()
        end = None if duration_s is None else loop.time() + duration_s

        def screen() -> Group:
            return self.state.render(console.size.height - 1 if live else None)

        with Live(screen(), console=console, refresh_per_second=4, transient=False) if live else contextlib.nullcontext() as view:
            tick = 0
            while end is None or loop.time() < end:
                await asyncio.sleep(0.25)
                tick += 1
                if tick % 20 == 0 and not self.state.lost:
                    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, LiqwatchError):
                        self.state.venues = (await self._get(session, "/api/venues"))["venues"]
                if view is not None:
                    view.update(screen())
