"""What a venue module declares (`VenueSpec`) and the functions it must provide (`VenueModule`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import msgspec

from liqwatch.model import Channel, Event, Instrument, InstrumentIndex, Origin


class VenueSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Declarative metadata of one venue."""

    name: str  # liqwatch's name: binance-usdm, bybit, okx, …
    title: str  # for people: "Binance USD-M"
    recorded_prefixes: tuple[str, ...]  # file-name prefixes of recorded frames, e.g. ("BINANCE_FUTURES",)
    ws_url: str
    rest_url: str
    channels: frozenset[Channel]
    liquidations_complete: bool
    coverage_note: str  # one line a trader reads next to this venue's totals
    frame_encoding: Literal["text", "gzip"] = "text"
    oi_origin: Origin = Origin.POLL
    oi_poll_interval_s: float = 60.0
    heartbeat_interval_s: float | None = None  # client-side ping period, None when the server pings
    stale_after_s: float = 60.0  # no frame for this long → STALE and reconnect
    # Normal push cadence (seconds) of streamed channels, for the silent-channel diagnosis (`liqwatch.feeds.drift`);
    # channels not listed use `feeds.drift.DEFAULT_CADENCE_S`. Liquidations are bursty: `[feeds] liquidation_silence_s`.
    cadence_s: tuple[tuple[Channel, float], ...] = ()
    max_streams_per_connection: int = 200
    docs_url: str = ""
    # Largest frame accepted, as received and once inflated (gzip): far above any real frame (the largest
    # recorded is well under 1 MiB). A websocket message or an inflated frame above it is skipped, counted
    # `oversized` (docs/bad-input.md).
    max_frame_bytes: int = 16 * 1024 * 1024


class WsConnection(msgspec.Struct, frozen=True, kw_only=True):
    """One websocket connection to open: where, and what to send after connecting."""

    name: str
    url: str
    subscribe: tuple[bytes, ...] = ()


class SubscriptionFallback(msgspec.Struct, frozen=True, kw_only=True):
    """A subscription the venue may refuse or leave silent, and the documented ones to subscribe instead.

    A venue module may provide `subscription_fallbacks(instruments, channels, ws_url) -> list[SubscriptionFallback]`
    (pure); the Feed watches each and swaps it on the live connection, without reconnecting, when the venue refuses
    `request` or sends nothing of `channel` for `silent_after_s` after connecting.
    """

    connection: str  # name of the WsConnection that sends `message`
    message: bytes  # the subscribe message, exactly as in WsConnection.subscribe
    request: str  # its request id, as the venue echoes it in a refusal (SubscribeRejected.request)
    channel: Channel  # what it delivers: silence is measured on this channel's events on that connection
    silent_after_s: float
    instead: tuple[bytes, ...]  # sent instead, now and on every reconnect after
    undo: bytes | None = None  # sent first when it was accepted but silent (an unsubscribe), never on reconnects
    detail: str = ""  # what is swapped for what, for the log and the status


class RestRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One REST request; `tag` tells the parser what it asked for."""

    tag: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    method: Literal["GET", "POST"] = "GET"
    body: bytes | None = None


class VenueModule(Protocol):
    """The functions every `liqwatch.venues.<name>` module provides. All are pure."""

    SPEC: VenueSpec

    def instrument_requests(self) -> list[RestRequest]:
        """Return the REST requests that list the venue's instruments."""
        ...

    def parse_instruments(self, payload: bytes) -> list[Instrument]:
        """Parse one instruments REST response."""
        ...

    def ws_connections(
        self, instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str
    ) -> list[WsConnection]:
        """Return the websocket connections (URL + subscribe messages) covering these instruments."""
        ...

    def heartbeat(self, ts_ns: int) -> bytes | None:
        """Return the client ping to send every `SPEC.heartbeat_interval_s`, or None."""
        ...

    def reply_to(self, frame: bytes) -> bytes | None:
        """Return the answer a server-initiated ping needs, or None."""
        ...

    def parse_frame(self, frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
        """Parse one (decompressed) frame; `[]` for control frames.

        Raises:
            UnknownMessage: a frame of a kind this module does not handle.
            ParseError: a frame of a known kind that is malformed.
            UnknownInstrument: the frame names a symbol with no loaded spec.
        """
        ...

    def poll_requests(self, instruments: Sequence[Instrument]) -> list[RestRequest]:
        """Return the REST requests for polled channels (open interest where no stream exists)."""
        ...

    def parse_poll(self, tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
        """Parse one polled REST response."""
        ...
