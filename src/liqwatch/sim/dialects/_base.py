"""The interface every dialect module provides, the reply type, and helpers the dialects share.

Optional module attributes the server looks for (with getattr) beyond the Dialect protocol:
`FRAME_ENCODING` ("gzip": every server frame gzip-compressed), `WS_AT_ROOT` (serve the websocket paths at
the root before other venues), `REST_PATHS` (more REST paths to serve at the root), `on_connect(path)`
(frames sent on accept), `app_ping(path, ts_ms)` (an application-level server ping, see
`VenueServer.app_ping`) and `rest(call)` (answer any REST call; None falls back to INSTRUMENTS_PATH /
OPEN_INTEREST_PATH handling).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Reply:
    """What the server does with one client message: frames to send back, topics subscribed."""

    frames: list[bytes] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    subscribe: bool = False  # the message was a subscribe request (accepted or rejected)
    pong: bool = False  # the message answered an application-level server ping


@dataclass
class RecordedBody:
    """One recorded REST response: the path and query it was recorded for, and its body."""

    path: str
    query: dict[str, str]
    body: bytes


@dataclass
class RestCall:
    """One REST request as a dialect's `rest` sees it (path without the /<venue> prefix)."""

    method: str
    path: str
    query: Mapping[str, str]
    body: bytes
    recorded: Sequence[RecordedBody]
    symbols: list[str]
    open_interest: Mapping[str, float]
    default_open_interest: float
    ts_ms: int

    def recorded_body(self, path: str, **query: str) -> bytes | None:
        """Return the first recorded body of `path` whose query has these values."""
        for rec in self.recorded:
            if rec.path == path and all(rec.query.get(k) == v for k, v in query.items()):
                return rec.body
        return None

    def oi(self, symbol: str) -> float:
        """Return the open interest to report for a symbol."""
        return self.open_interest.get(symbol, self.default_open_interest)


class Dialect(Protocol):
    """The wire details of one venue, as the local exchange server needs them."""

    VENUE: str
    RECORDED_PREFIX: str
    WS_PATHS: tuple[str, ...]
    SERVER_PING_S: float | None  # protocol-level pings from the server, None when the client pings
    INSTRUMENTS_PATH: str
    INSTRUMENTS_KEYS: tuple[str, ...]  # query keys a recorded instruments body must match
    OPEN_INTEREST_PATH: str

    def on_message(self, message: bytes, reject: bool) -> Reply:
        """Answer one client message (subscribe, ping, …)."""
        ...

    def topic_of(self, frame: bytes) -> str | None:
        """Return the topic a data frame belongs to, or None for anything else."""
        ...

    def subscribed_to(self, topics: Collection[str], topic: str) -> bool:
        """Return whether a client subscribed to `topics` receives frames of `topic`."""
        ...

    def empty_instruments(self, query: Mapping[str, str]) -> bytes:
        """Return an instruments body listing nothing (no recorded body for this query)."""
        ...

    def open_interest(self, query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
        """Return (HTTP status, body) of an open-interest request; `symbols` are the recorded ones."""
        ...

    def rest_error(self, status: int) -> bytes:
        """Return the venue's error body for an injected HTTP error."""
        ...

    def recorded_symbols(self, body: bytes) -> list[str]:
        """Return the symbols listed in a recorded instruments body."""
        ...


def dumps(obj: Any) -> bytes:
    """Return compact JSON bytes."""
    return json.dumps(obj, separators=(",", ":")).encode()


def loads(frame: bytes) -> Any:
    """Return decoded JSON, or None when the frame is not JSON."""
    try:
        return json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return None
