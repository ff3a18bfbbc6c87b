"""Bybit v5 linear (USDT/USDC) and inverse contracts: allLiquidation, tickers (OI, mark, funding), kline.1.

Docs: https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation (docs/venues.md §3).
Also parsed: the legacy `liquidation.{symbol}` topic (v5 snapshot and pre-v5 `qty` shapes, and the REST-polled
`generated:true` lines a recorder injected), all with the same position-side semantics. Skipped as unknown:
pre-v5 `instrument_info.*`, `klineV2.*`, `candle.*` topics and v2 `ret_code/result` REST bodies.
A spot ticker (it carries `usdIndexPrice`) is skipped; a spot kline cannot be told apart from a linear one by
its bytes, so only linear/inverse URLs are ever connected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from liqwatch.errors import ParseError, SubscribeRejected, UnknownInstrument, UnknownMessage
from liqwatch.model import (
    Channel,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    Liquidation,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.time import NS_PER_MS, ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._bybit_instruments import instrument_requests as instrument_requests
from liqwatch.venues._bybit_instruments import parse_instruments as parse_instruments
from liqwatch.venues._bybit_wire import (
    _ALL_LIQUIDATION,
    _ALL_LIQUIDATION_FRAME,
    _BODY,
    _ENVELOPE,
    _KLINE,
    _LEGACY_LIQUIDATION,
    _OPEN_INTEREST,
    _TICKER,
    _AllLiquidation,
    _Envelope,
    _Num,
    _Ticker,
)
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="bybit",
    title="Bybit",
    recorded_prefixes=("BYBIT",),
    ws_url="wss://stream.bybit.com/v5/public/linear",
    rest_url="https://api.bybit.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=True,
    coverage_note="complete: every liquidation is published (batched per 500 ms), valued at the bankruptcy price",
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=20.0,  # docs: send {"op":"ping"} every 20 s
    stale_after_s=60.0,
    max_streams_per_connection=200,
    docs_url="https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation",
)
VENUE = SPEC.name

_ARGS_PER_MESSAGE = 10  # the docs cap spot at 10 args per request; we apply it everywhere
_ARGS_CHARS_PER_CONNECTION = 21_000  # docs: a public connection's "args" may not exceed 21,000 characters

def _topics(inst: Instrument, channels: frozenset[Channel]) -> list[str]:
    topics = []
    if Channel.LIQUIDATIONS in channels:
        topics.append(f"allLiquidation.{inst.symbol}")
    if Channel.OPEN_INTEREST in channels or Channel.MARK_PRICE in channels:
        topics.append(f"tickers.{inst.symbol}")
    if Channel.CANDLES in channels:
        topics.append(f"kline.1.{inst.symbol}")
    return topics


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return linear and inverse connections, ≤200 topics and ≤21,000 args characters each, 10 args a message."""
    inverse_url = ws_url[: -len("linear")] + "inverse" if ws_url.endswith("linear") else ws_url
    out: list[WsConnection] = []
    for category, url in (("linear", ws_url), ("inverse", inverse_url)):
        topics = [
            t
            for i in instruments
            if (i.category or ("inverse" if i.is_inverse else "linear")) == category
            for t in _topics(i, channels)
        ]
        groups: list[list[str]] = []
        chars = 0
        for topic in topics:
            if not groups or len(groups[-1]) >= SPEC.max_streams_per_connection or chars + len(topic) + 3 > _ARGS_CHARS_PER_CONNECTION:
                groups.append([])
                chars = 0
            groups[-1].append(topic)
            chars += len(topic) + 3  # quotes and comma
        for n, group in enumerate(groups):
            messages = tuple(
                _wire.json_bytes({"req_id": f"{category}-{n}-{k}", "op": "subscribe", "args": group[k : k + _ARGS_PER_MESSAGE]})
                for k in range(0, len(group), _ARGS_PER_MESSAGE)
            )
            out.append(WsConnection(name=f"{VENUE}-{category}-{n}", url=url, subscribe=messages))
    return out


def heartbeat(ts_ns: int) -> bytes | None:
    """Return the application-level ping Bybit expects every 20 s."""
    return b'{"op":"ping"}'


def reply_to(frame: bytes) -> bytes | None:
    """Bybit's server does not ping public connections."""
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame: a topic push, an op ack/pong (`[]`), or a REST open-interest body."""
    try:  # the hot path: an allLiquidation push in one typed decode; any other frame takes the general path
        hot = _ALL_LIQUIDATION_FRAME.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_general(frame, instruments, ts_recv)
    if hot.topic.startswith("allLiquidation."):
        return _all_liquidations(hot.data, instruments, ts_recv)
    return _parse_general(frame, instruments, ts_recv)


def _parse_general(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse any frame (`parse_frame` before the allLiquidation hot path; every frame that path does not take)."""
    env = _wire.decode(_ENVELOPE, frame, "Bybit frame")
    topic = env.topic
    if topic is None:
        if env.op is not None:
            if env.success is False:  # a refused subscribe: {"success":false,"ret_msg":"error:handler not found,topic:…","op":"subscribe"}
                raise SubscribeRejected(VENUE, env.ret_msg or "", env.req_id) if env.op == "subscribe" else ParseError(f"Bybit rejected {env.op!r}: {env.ret_msg!r}")
            return []  # subscribe ack, or pong ({"op":"pong"} / {"ret_msg":"pong","op":"ping"})
        if env.ret_code is not None and env.result:
            return _rest_open_interest(frame, instruments, ts_recv, Origin.POLL)
        if env.legacy_ret_code is not None:
            raise UnknownMessage("Bybit v2 REST bodies (ret_code/result) are not handled")
        raise UnknownMessage(f"unknown Bybit frame: {frame[:120]!r}")
    if not env.data:
        raise ParseError(f"malformed Bybit {topic} frame: no data")
    if topic.startswith("allLiquidation."):
        items = _wire.decode(_ALL_LIQUIDATION, env.data, "Bybit allLiquidation")
        return [
            _liquidation(instruments, ts_recv, symbol=i.symbol, side=i.side, size=i.size, price=i.price, ts_ms=i.time)
            for i in items
        ]
    if topic.startswith("liquidation."):
        return _legacy_liquidations(env, instruments, ts_recv)
    if topic.startswith("tickers."):
        return _ticker(env, instruments, ts_recv)
    if topic.startswith("kline."):
        return _candles(topic, env.data, instruments, ts_recv)
    raise UnknownMessage(f"Bybit topic {topic!r} is not handled")


def _position_side(side: str, what: str) -> PositionSide:
    # `S`/`side` is the POSITION side: "When you receive a Buy update, this means that a long position has been
    # liquidated" (docs v5/websocket/public/all-liquidation; docs/venues.md §3) — the reverse of Binance.
    if side == "Buy":
        return PositionSide.LONG
    if side == "Sell":
        return PositionSide.SHORT
    raise ParseError(f"malformed Bybit {what}: side must be Buy or Sell, was {side!r}")


def _liquidation(
    instruments: InstrumentIndex,
    ts_recv: int,
    *,
    symbol: str,
    side: str,
    size: float,
    price: float,
    ts_ms: int,
    event_id: str | None = None,
    what: str = "allLiquidation",
) -> Liquidation:
    inst = _wire.instrument(instruments, VENUE, symbol)
    position = _position_side(side, what)
    _wire.positive(size, "size", f"Bybit {what}")
    _wire.positive(price, "price", f"Bybit {what}")
    base, usd = _wire.base_and_usd(inst, size, price)  # linear: size in base; inverse: size in USD contracts
    return _wire.liquidation(
        inst,
        ts_event=ms_to_ns(ts_ms),
        ts_recv=ts_recv,
        position_side=position,
        venue_side=side,
        price=price,
        price_kind=PriceKind.BANKRUPTCY,
        quantity=base,
        contracts=size,
        notional_usd=usd,
        venue_event_id=event_id,
    )


_SIDES = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}  # as `_position_side`
_BANKRUPTCY, _LINEAR, _INVERSE, _INF = PriceKind.BANKRUPTCY, ContractType.LINEAR, ContractType.INVERSE, float("inf")


def _all_liquidations(items: list[_AllLiquidation], instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    # `_liquidation` kept flat for the hot path (bench/instructions.py): the same events and errors, item by item;
    # tests/unit/venues/test_hot_paths.py holds the two equal on every recorded and generated frame.
    symbols = instruments.symbols(VENUE)
    out: list[Event] = []
    for i in items:
        inst = symbols.get(i.symbol)
        if inst is None:
            raise UnknownInstrument(VENUE, i.symbol)
        side, size, price = i.side, i.size, i.price
        position = _SIDES.get(side)
        if position is None:
            raise ParseError(f"malformed Bybit allLiquidation: side must be Buy or Sell, was {side!r}")
        if not 0.0 < size < _INF:
            raise ParseError(f"malformed Bybit allLiquidation: size must be a positive finite number, was {size!r}")
        if not 0.0 < price < _INF:
            raise ParseError(f"malformed Bybit allLiquidation: price must be a positive finite number, was {price!r}")
        ct = inst.contract_type
        if ct is _LINEAR:
            base = size * inst.contract_size
            usd = base * price
        elif ct is _INVERSE:
            usd = size * inst.contract_size
            base = usd / price
        else:
            base, usd = _wire.base_and_usd(inst, size, price)
        out.append(Liquidation(
            venue=VENUE, symbol=inst.symbol, market=inst.market, coin=inst.base, ts_event=i.time * NS_PER_MS,
            ts_recv=ts_recv, position_side=position, venue_side=side, price=price, price_kind=_BANKRUPTCY,
            quantity=base, contracts=size, notional_usd=usd, contract_type=ct,
        ))
    return out


def _legacy_liquidations(env: _Envelope, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    decoded = _wire.decode(_LEGACY_LIQUIDATION, env.data, "Bybit liquidation")
    items = decoded if isinstance(decoded, list) else [decoded]
    out: list[Event] = []
    for i in items:
        size = i.size if i.size is not None else i.qty
        ts_ms = i.updated_time or i.time or env.ts
        if size is None or not ts_ms:
            raise ParseError(f"malformed Bybit liquidation: needs size/qty and updatedTime/time, was {i!r}")
        out.append(
            _liquidation(
                instruments,
                ts_recv,
                symbol=i.symbol,
                side=i.side,
                size=size,
                price=i.price,
                ts_ms=ts_ms,
                event_id=str(i.id) if i.id is not None else None,
                what="liquidation",
            )
        )
    return out


def _num(value: _Num, field: str) -> float | None:
    """Return a ticker field as a float; None when absent or "" (futures leave funding fields empty)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise ParseError(f"malformed Bybit ticker: {field} must be a number, was {value!r}") from None
    if not math.isfinite(number):
        raise ParseError(f"malformed Bybit ticker: {field} must be finite, was {value!r}")
    return number


def _ticker(env: _Envelope, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    t = _wire.decode(_TICKER, env.data, "Bybit ticker")
    if t.usd_index_price is not None:
        raise UnknownMessage("Bybit spot ticker (usdIndexPrice) is not handled")
    mark, index = _num(t.mark_price, "markPrice"), _num(t.index_price, "indexPrice")
    funding, next_funding = _num(t.funding_rate, "fundingRate"), _num(t.next_funding_time, "nextFundingTime")
    interval_h = _num(t.funding_interval_hour, "fundingIntervalHour")
    single, total = _num(t.single_open_interest, "singleOpenInterest"), _num(t.open_interest, "openInterest")
    if all(v is None for v in (mark, index, funding, next_funding, interval_h, single, total)):
        return []
    inst = _wire.instrument(instruments, VENUE, t.symbol)
    ts_event = ms_to_ns(env.ts) if env.ts else ts_recv
    out: list[Event] = []
    if single is not None or total is not None:
        out.append(_ticker_open_interest(t, inst, single, total, mark, ts_event, ts_recv))
    if any(v is not None for v in (mark, index, funding, next_funding, interval_h)):
        out.append(
            _wire.mark_price(
                inst,
                ts_event=ts_event,
                ts_recv=ts_recv,
                mark_price=_wire.positive(mark, "markPrice", "Bybit ticker") if mark is not None else None,
                index_price=index or None,
                funding_rate=funding,
                funding_interval_s=round(interval_h * 3600) if interval_h else None,
                ts_next_funding=ms_to_ns(int(next_funding)) if next_funding else None,
            )
        )
    return out


def _ticker_open_interest(
    t: _Ticker, inst: Instrument, single: float | None, total: float | None, mark: float | None, ts_event: int, ts_recv: int
) -> OpenInterest:
    # `singleOpenInterest` is one side; `openInterest` is "the sum of both sides" (docs, changelog 2026-06-11).
    two_sided = single is None
    raw = single if single is not None else total if total is not None else float("nan")
    if not raw >= 0:
        raise ParseError(f"malformed Bybit ticker: open interest must be ≥ 0, was {raw!r}")
    usd = None
    if not inst.is_inverse and inst.quote_is_usd:  # linear `*Value` is in quote; inverse `openInterestValue` in coin
        usd = _num(t.single_open_interest_value if single is not None else t.open_interest_value, "openInterestValue")
    # Reference price: the mark; else the mark Bybit valued OI at (value / size); else last; else mid quote.
    price = mark or (usd / raw if usd and raw else None) or _num(t.last_price, "lastPrice")
    if not price:
        bid, ask = _num(t.bid, "bid1Price"), _num(t.ask, "ask1Price")
        price = (bid + ask) / 2 if bid and ask else None
    return _wire.open_interest(
        inst,
        raw_value=raw,
        raw_unit=OpenInterestUnit.USD if inst.is_inverse else OpenInterestUnit.BASE,
        two_sided=two_sided,
        ts_event=ts_event,
        ts_recv=ts_recv,
        origin=Origin.STREAM,
        price=price,
        usd=usd,
    )


_INTERVAL_S = {"1": 60, "3": 180, "5": 300, "15": 900, "30": 1800, "60": 3600, "120": 7200, "240": 14400, "D": 86400}


def _candles(topic: str, data: msgspec.Raw, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    parts = topic.split(".")
    if len(parts) != 3 or parts[1] not in _INTERVAL_S:
        raise UnknownMessage(f"Bybit kline topic {topic!r} is not handled")
    inst = _wire.instrument(instruments, VENUE, parts[2])
    out: list[Event] = []
    for k in _wire.decode(_KLINE, data, "Bybit kline"):
        # Linear: volume is base coin, turnover quote. Inverse: volume is USD contracts, turnover is coin.
        volume, volume_usd = (k.turnover, k.volume) if inst.is_inverse else (k.volume, k.turnover if inst.quote_is_usd else None)
        out.append(
            _wire.candle(
                inst,
                ts_event=ms_to_ns(k.start),
                ts_recv=ts_recv,
                interval_s=_INTERVAL_S[parts[1]],
                open=k.open,
                high=k.high,
                low=k.low,
                close=k.close,
                volume=volume,
                volume_usd=volume_usd,
                closed=k.confirm,
            )
        )
    return out


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return no requests: open interest is streamed on `tickers.{symbol}`."""
    return []


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse GET /v5/market/open-interest (tag "open_interest")."""
    if tag != "open_interest":
        raise UnknownMessage(f"Bybit poll tag {tag!r} is not handled")
    return _rest_open_interest(payload, instruments, ts_recv, Origin.POLL)


def _rest_open_interest(payload: bytes, instruments: InstrumentIndex, ts_recv: int, origin: Origin) -> list[Event]:
    body = _wire.decode(_BODY, payload, "Bybit open-interest")
    result = _wire.decode(_OPEN_INTEREST, body.result, "Bybit open-interest result")
    inst = _wire.instrument(instruments, VENUE, result.symbol)
    # The field is documented as "the sum of both sides" (the page's header still says "single side"): treat
    # it like the ticker's `openInterest`. Inverse values are USD and have no price here, so base is NaN.
    return [
        _wire.open_interest(
            inst,
            raw_value=p.open_interest,
            raw_unit=OpenInterestUnit.USD if inst.is_inverse else OpenInterestUnit.BASE,
            two_sided=True,
            ts_event=ms_to_ns(p.timestamp),
            ts_recv=ts_recv,
            origin=origin,
        )
        for p in result.points
    ]
