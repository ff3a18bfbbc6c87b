"""The liqwatch error tree, classified by what the caller should do.

    LiqwatchError
    ├── ConfigError              fatal at start-up: fix the config or the command line (exit code 2)
    ├── VenueError
    │   ├── ParseError           a known message that does not parse: skip, count, keep the socket
    │   │   └── OversizedFrame   a frame (or its inflated form) above the venue's `max_frame_bytes`: skip, count
    │   ├── UnknownMessage       a message of a kind we do not handle: skip, count, keep the socket
    │   ├── UnknownInstrument    a symbol with no contract spec: hold or count, never guess its size
    │   │   └── UnknownInstruments   a multi-symbol frame: some symbols unknown, the known ones' events kept
    │   ├── SubscribeRejected    the venue refused a subscribe request: count, show its own words, fall back
    │   ├── ConnectionLost       the socket or HTTP connection failed: reconnect with backoff
    │   └── RateLimited          the venue said slow down (HTTP 418/429): back off as told
    ├── StorageError             the store failed to open, read or write (transient: retry the write)
    │   ├── StoreRejectedData    the store refused a write's values: split the batch, dead-letter the bad events
    │   └── StoreNotFound        a read names a store that does not exist (also a ConfigError: exit code 2)
    └── AlertDeliveryError       an alert could not be delivered: retry with backoff, never block ingestion

Messages name what happened, the offending value and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from liqwatch.model import Event


class LiqwatchError(Exception):
    """Base class of every error liqwatch raises on purpose."""


class ConfigError(LiqwatchError):
    """The configuration or the command line is invalid; fatal at start-up."""


class VenueError(LiqwatchError):
    """Something about a venue's data or connection."""


class ParseError(VenueError):
    """A message of a known kind could not be parsed."""


class OversizedFrame(ParseError):
    """A frame, or what it inflates to, is larger than the venue's `VenueSpec.max_frame_bytes`."""


class UnknownMessage(VenueError):
    """A message of a kind the venue module does not handle."""


class UnknownInstrument(VenueError):
    """A message names a symbol whose contract spec is not loaded."""

    def __init__(self, venue: str, symbol: str) -> None:
        super().__init__(
            f"no contract spec for {venue} symbol {symbol!r}; load it with "
            f"'liqwatch instruments import {venue} FILE' or let 'liqwatch up' fetch it from the venue"
        )
        self.venue = venue
        self.symbol = symbol


class UnknownInstruments(UnknownInstrument):
    """A frame or body carrying several symbols named some with no contract spec.

    `events` are the events of the symbols that are known (a parser raises this instead of dropping them);
    `symbols` are the unknown ones, in order of appearance, each once. `symbol` is the first of them.
    """

    def __init__(self, venue: str, symbols: Sequence[str], events: list[Event]) -> None:
        unique = tuple(dict.fromkeys(symbols))
        super().__init__(venue, unique[0] if unique else "")
        if len(unique) > 1:
            self.args = (f"no contract spec for {len(unique)} {venue} symbols {', '.join(map(repr, unique[:5]))}"
                         f"{', …' if len(unique) > 5 else ''}; the frame's other symbols were kept",)
        self.symbols = unique
        self.events = events


class SubscribeRejected(VenueError):
    """The venue answered a subscribe request with an error.

    `text` is the venue's own error text (code and message as it sent them); `request` identifies what was
    refused when the answer says so (a request id, a channel or topic), else None.
    """

    def __init__(self, venue: str, text: str, request: str | None = None) -> None:
        what = f" (request {request})" if request is not None else ""
        super().__init__(f"{venue} rejected a subscription{what}: {text}")
        self.venue = venue
        self.text = text
        self.request = request


class ConnectionLost(VenueError):
    """A connection failed or was closed; the caller reconnects.

    `kind` says why when the cause is one an operator can act on (`liqwatch.feeds.drift`: connect_failed, dns, tls,
    http_status); "" for an ordinary drop (the server closed, a reset).
    """

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


class RateLimited(VenueError):
    """The venue asked us to slow down."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StorageError(LiqwatchError):
    """The store failed (unreachable, locked, disk full): the write is retried as a whole."""


class StoreInUse(StorageError):
    """Another process holds the store's file lock (DuckDB allows one process per file)."""


class StoreRejectedData(StorageError):
    """The store refused the values of a write (out of range, not representable, a constraint): retrying cannot help.

    The writers split the batch to isolate the bad events and store them as dead letters (storage/dead_letters.py).
    """


class StoreNotFound(StorageError, ConfigError):
    """A read names a store file that does not exist: reads never create one (fix --db or [store] path)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"no store at {path}: check --db (or [store] path); "
            "'liqwatch up', 'liqwatch demo' or 'liqwatch replay' creates one"
        )
        self.path = path


class AlertDeliveryError(LiqwatchError):
    """An alert could not be delivered."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or an empty string."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
