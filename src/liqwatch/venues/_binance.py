"""What Binance USD-M (`fapi`) and COIN-M (`dapi`) share: wire structs, subscriptions, control frames,
exchangeInfo, klines and open interest. Each venue module keeps its SPEC, its units and its liquidation path.

A `Family` is one venue's profile (name, REST prefix, contract type, OI unit, how kline volume reads); its
methods are the venue's module-level functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from liqwatch.errors import ParseError, SubscribeRejected, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    OpenInterestUnit,
    Origin,
    PositionSide,
)
from liqwatch.model.time import ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection


class Order(msgspec.Struct, frozen=True, gc=False):
    """`o` of a forceOrder event (Liquidation-Order-Streams)."""

    symbol: str = msgspec.field(name="s")
    side: Literal["SELL", "BUY"] = msgspec.field(name="S")
    quantity: float = msgspec.field(name="q")
    price: float = msgspec.field(name="p")
    average_price: float = msgspec.field(name="ap", default=0.0)
    filled_quantity: float = msgspec.field(name="z", default=0.0)
    trade_time: int = msgspec.field(name="T", default=0)


class ForceOrder(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="forceOrder"):
    """forceOrder stream payload."""

    event_time: int = msgspec.field(name="E")
    order: Order = msgspec.field(name="o")


class KlineBar(msgspec.Struct, frozen=True, gc=False):
    open_time: int = msgspec.field(name="t")
    symbol: str = msgspec.field(name="s")
    interval: str = msgspec.field(name="i")
    open: float = msgspec.field(name="o")
    close: float = msgspec.field(name="c")
    high: float = msgspec.field(name="h")
    low: float = msgspec.field(name="l")
    volume: float = msgspec.field(name="v")
    quote_volume: float = msgspec.field(name="q")
    closed: bool = msgspec.field(name="x")


class Kline(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="kline"):
    """kline stream payload (Kline-Candlestick-Streams)."""

    event_time: int = msgspec.field(name="E")
    bar: KlineBar = msgspec.field(name="k")


_EMPTY = msgspec.Raw(b"")


class Control(msgspec.Struct, frozen=True, gc=False):
    """Subscribe acks {"result": null, "id": 1}, errors, unhandled streams and REST open-interest bodies."""

    result: msgspec.Raw = _EMPTY
    id: int | None = None
    error: msgspec.Raw = _EMPTY
    e: str | None = None
    stream: str | None = None
    data: msgspec.Raw = _EMPTY
    symbol: str | None = None
    open_interest: float | None = msgspec.field(name="openInterest", default=None)


class OpenInterestData(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    open_interest: float = msgspec.field(name="openInterest")
    time: int | None = None


class _SymbolInfo(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    base_asset: str = msgspec.field(name="baseAsset")
    quote_asset: str = msgspec.field(name="quoteAsset")
    margin_asset: str = msgspec.field(name="marginAsset")
    contract_size: float = msgspec.field(name="contractSize", default=1.0)
    contract_type: str = msgspec.field(name="contractType", default="")
    delivery_date: int = msgspec.field(name="deliveryDate", default=0)
    status: str = "TRADING"  # USD-M
    contract_status: str = msgspec.field(name="contractStatus", default="TRADING")  # COIN-M


class _ExchangeInfo(msgspec.Struct, frozen=True, gc=False):
    """GET /fapi/v1/exchangeInfo and /dapi/v1/exchangeInfo."""

    symbols: list[_SymbolInfo]


CONTROL = msgspec.json.Decoder(Control, strict=False)
OI_DATA = msgspec.json.Decoder(OpenInterestData, strict=False)
_EXCHANGE_INFO = msgspec.json.Decoder(_ExchangeInfo, strict=False)
_PERPETUAL_DELIVERY_MS = 4_000_000_000_000  # Binance marks perpetuals with deliveryDate 2100-12-25
_LISTED = ("PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER")  # settling or delisted contracts have an empty type
INTERVAL_S = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}
_HANDLED_EVENTS = ("forceOrder", "markPriceUpdate", "kline")
_HANDLED_STREAMS = ("forceOrder", "markPrice", "@kline_")

LIQUIDATION_STREAM, MARK_PRICE_STREAM = "!forceOrder@arr", "!markPrice@arr@1s"
LIQUIDATION_REQUEST_ID, MARK_PRICE_REQUEST_ID = 1, 2  # kline SUBSCRIBEs take 3, 4, … (one per connection)


def subscribe(streams: Sequence[str], request_id: int, method: str = "SUBSCRIBE") -> bytes:
    """Return one SUBSCRIBE (or UNSUBSCRIBE) request for `streams`."""
    return _wire.json_bytes({"method": method, "params": list(streams), "id": request_id})


# `S` is the liquidation ORDER side: SELL closes a long (docs; docs/venues.md §1-2).
POSITION_SIDE = {"SELL": PositionSide.LONG, "BUY": PositionSide.SHORT}


class Family:
    """One Binance futures venue: its name, REST prefix (`/fapi/v1`, `/dapi/v1`), contracts and units."""

    def __init__(
        self,
        spec: VenueSpec,
        *,
        label: str,
        rest_prefix: str,
        contract_type: ContractType,
        category: str,
        oi_unit: OpenInterestUnit,
        volumes: Callable[[KlineBar, Instrument], tuple[float, float | None]],
    ) -> None:
        self.spec, self.venue, self.label = spec, spec.name, label
        self.rest_prefix, self.contract_type, self.category = rest_prefix, contract_type, category
        self.oi_unit, self.volumes = oi_unit, volumes

    # instruments

    def instrument_requests(self) -> list[RestRequest]:
        """Return the exchangeInfo request."""
        return [RestRequest(tag="instruments", path=f"{self.rest_prefix}/exchangeInfo")]

    def parse_instruments(self, payload: bytes) -> list[Instrument]:
        """Parse exchangeInfo: listed perpetuals and quarterlies, with the venue's contract type and size."""
        info = _wire.decode(_EXCHANGE_INFO, payload, f"{self.label} exchangeInfo")
        return _wire.each_entry(self.venue, info.symbols, self._instrument)

    def _instrument(self, s: _SymbolInfo) -> Instrument | None:
        if s.contract_type not in _LISTED or s.contract_size <= 0:
            return None
        perpetual = s.contract_type == "PERPETUAL" or s.delivery_date >= _PERPETUAL_DELIVERY_MS
        return _wire.make_instrument(
            venue=self.venue,
            symbol=s.symbol,
            base=s.base_asset,
            quote=s.quote_asset,
            settle=s.margin_asset,
            contract_type=self.contract_type,
            contract_size=s.contract_size,
            ts_expiry=None if perpetual else ms_to_ns(s.delivery_date),
            category=self.category,
            active=s.status == "TRADING" and s.contract_status == "TRADING",
        )

    # websocket

    def ws_connections(
        self, instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str
    ) -> list[WsConnection]:
        """Return SUBSCRIBE connections: all-market liquidation and mark streams, klines per symbol.

        The liquidation stream and the mark-price stream each go in a SUBSCRIBE of their own (ids 1 and 2):
        Binance refuses a whole request when one of its streams is invalid, and a refused mark-price stream
        must not cost the liquidations. Klines follow, one message per connection (ids 3, 4, …).
        """
        streams: list[tuple[int, str]] = []
        if Channel.LIQUIDATIONS in channels:
            streams.append((LIQUIDATION_REQUEST_ID, LIQUIDATION_STREAM))
        if Channel.MARK_PRICE in channels:
            streams.append((MARK_PRICE_REQUEST_ID, MARK_PRICE_STREAM))
        per = self.spec.max_streams_per_connection
        if Channel.CANDLES in channels:
            first = len(streams)
            streams.extend((3 + (first + n) // per, f"{i.symbol.lower()}@kline_1m") for n, i in enumerate(instruments))
        out = []
        for n, k in enumerate(range(0, len(streams), per)):
            messages: dict[int, list[str]] = {}
            for request_id, stream in streams[k : k + per]:
                messages.setdefault(request_id, []).append(stream)
            requests = tuple(subscribe(names, request_id) for request_id, names in messages.items())
            out.append(WsConnection(name=f"{self.venue}-{n}", url=ws_url, subscribe=requests))
        return out

    @staticmethod
    def heartbeat(ts_ns: int) -> bytes | None:
        """Binance needs no client ping."""
        return None

    @staticmethod
    def reply_to(frame: bytes) -> bytes | None:
        """Binance pings at the websocket protocol level only."""
        return None

    def parse_control(
        self,
        frame: bytes,
        instruments: InstrumentIndex,
        ts_recv: int,
        payload: Callable[[bytes], list[Event]],
    ) -> list[Event]:
        """Parse what is not a combined-stream payload: bare payloads, acks, errors, wrapped REST OI bodies."""
        control = _wire.decode(CONTROL, frame, f"{self.label} frame")
        if control.e is not None:
            if control.e not in _HANDLED_EVENTS:
                raise UnknownMessage(f"{self.label} event {control.e!r} is not handled")
            return payload(frame)
        if control.stream is not None and control.data:
            if control.stream.endswith("@openInterest"):  # a REST poll result wrapped by a recorder
                return self.open_interest(_wire.decode(OI_DATA, control.data, "Binance openInterest"), instruments, ts_recv)
            if any(k in control.stream for k in _HANDLED_STREAMS):
                raise ParseError(f"malformed {self.label} {control.stream} frame: {bytes(control.data)[:200]!r}")
            raise UnknownMessage(f"{self.label} stream {control.stream!r} is not handled")
        if control.open_interest is not None and control.symbol is not None:
            return self.open_interest(_wire.decode(OI_DATA, frame, "Binance openInterest"), instruments, ts_recv)
        if control.error:  # the answer to a request (SUBSCRIBE): {"error": {"code": 2, "msg": "Invalid request: …"}, "id": N}
            text = bytes(control.error).decode(errors="replace")[:200]
            raise SubscribeRejected(self.venue, text, None if control.id is None else str(control.id))
        if control.id is not None:
            return []  # subscribe ack
        raise UnknownMessage(f"unknown {self.label} frame: {frame[:120]!r}")

    def candle(self, msg: Kline, instruments: InstrumentIndex, ts_recv: int) -> Candle:
        """Normalise a kline bar (volume units per venue: `volumes`)."""
        k = msg.bar
        inst = _wire.instrument(instruments, self.venue, k.symbol)
        if k.interval not in INTERVAL_S:
            raise UnknownMessage(f"Binance kline interval {k.interval!r} is not handled")
        volume, volume_usd = self.volumes(k, inst)
        return _wire.candle(
            inst,
            ts_event=ms_to_ns(k.open_time),
            ts_recv=ts_recv,
            interval_s=INTERVAL_S[k.interval],
            open=k.open,
            high=k.high,
            low=k.low,
            close=k.close,
            volume=volume,
            volume_usd=volume_usd,
            closed=k.closed,
        )

    # REST open interest

    def poll_requests(self, instruments: Sequence[Instrument]) -> list[RestRequest]:
        """Return one openInterest request per instrument."""
        path = f"{self.rest_prefix}/openInterest"
        return [RestRequest(tag="open_interest", path=path, params=(("symbol", i.symbol),)) for i in instruments]

    def parse_poll(self, tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
        """Parse GET openInterest ({"openInterest", "symbol", "time"}; unit per venue, one-sided)."""
        if tag != "open_interest":
            raise UnknownMessage(f"{self.label} poll tag {tag!r} is not handled")
        return self.open_interest(_wire.decode(OI_DATA, payload, "Binance openInterest"), instruments, ts_recv)

    def open_interest(
        self, msg: OpenInterestData, instruments: InstrumentIndex, ts_recv: int, origin: Origin = Origin.POLL
    ) -> list[Event]:
        """One OpenInterest event from an openInterest body."""
        inst = _wire.instrument(instruments, self.venue, msg.symbol)
        return [
            _wire.open_interest(
                inst,
                raw_value=msg.open_interest,
                raw_unit=self.oi_unit,
                two_sided=False,
                ts_event=ms_to_ns(msg.time) if msg.time else ts_recv,
                ts_recv=ts_recv,
                origin=origin,
            )
        ]
