"""Bitget futures: UTA (v3) public `liquidation` topic; OI, mark and funding from the v2 `ticker` channel.

Docs: https://www.bitget.com/api-doc/uta/websocket/public/Liquidation-Channel and
https://www.bitget.com/api-doc/contract/websocket/public/Tickers-Channel (docs/venues.md §8).
Liquidations: `side` is the POSITION side (buy = long liquidated) and `amount` is the quote (USDT)
notional, so base = amount / price (recorded: 13.70319 / 0.1649 = 83.1 APE). `price` is taken as an
average fill price (the recorded 0.500280739469 is not a tick price). Bitget pushes only the largest
long and largest short per symbol per second. The `amount` unit of `coin-futures` is unverified: it is
read as USD like the other types. Sizes are base coin on every product type (coin-margined too), so
instruments are LINEAR with contract_size 1. Also parsed: recorded v1 mix tickers (`holding`,
`capitalRate`), v1/v2 candles, UTA tickers and REST open-interest bodies. Skipped: trades, the
pre-2021 `swap/funding_rate` table (not collected).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from liqwatch.errors import ParseError, SubscribeRejected, UnknownMessage
from liqwatch.model import (
    Channel,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    Liquidation,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.time import NS_PER_MS, ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._bitget_wire import (
    _CANDLES,
    _CONTRACTS,
    _ENVELOPE,
    _LIQUIDATION_PUSH,
    _LIQUIDATIONS,
    _REST_OI,
    _TICKERS,
    _Contract,
    _Envelope,
    _LiquidationItem,
    _Ticker,
)
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="bitget",
    title="Bitget",
    recorded_prefixes=("BITGET",),
    ws_url="wss://ws.bitget.com/v3/ws/public",
    rest_url="https://api.bitget.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=False,
    coverage_note="sampled: only the largest long and largest short per symbol per second (totals are lower bounds)",
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=30.0,
    stale_after_s=90.0,
    max_streams_per_connection=50,  # Bitget advises < 50 channels per connection
    docs_url="https://www.bitget.com/api-doc/uta/websocket/public/Liquidation-Channel",
)
VENUE = SPEC.name
_V2_PATH, _V3_PATH = "/v2/ws/public", "/v3/ws/public"
_PRODUCT_TYPES = {"usdt-futures": "USDT-FUTURES", "coin-futures": "COIN-FUTURES", "usdc-futures": "USDC-FUTURES"}
_V1_SUFFIX = {"UMCBL": "usdt-futures", "DMCBL": "coin-futures", "CMCBL": "usdc-futures"}


def instrument_requests() -> list[RestRequest]:
    """Return one v2 contracts request per product type."""
    return [
        RestRequest(tag=f"instruments:{p}", path="/api/v2/mix/market/contracts", params=(("productType", p),))
        for p in _PRODUCT_TYPES.values()
    ]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse v2 (or recorded v1) mix contracts; v1 `BTCUSDT_UMCBL` is stored as the wire symbol `BTCUSDT`."""
    return _wire.each_entry(VENUE, _wire.decode(_CONTRACTS, payload, "Bitget contracts").data, _instrument)


def _instrument(c: _Contract) -> Instrument:
    symbol, suffix = _wire_symbol(c.symbol)
    quote = c.quote.upper()
    category = _V1_SUFFIX.get(suffix) or (
        "coin-futures" if quote == "USD" else "usdc-futures" if quote == "USDC" else "usdt-futures"
    )
    expiry = ms_to_ns(int(c.delivery_time)) if c.symbol_type == "delivery" and c.delivery_time.isdigit() else None
    return _wire.make_instrument(
        venue=VENUE,
        symbol=symbol,
        base=c.base,
        quote=quote,
        settle=c.base if category == "coin-futures" else quote,
        contract_type=ContractType.LINEAR,  # sizes are base coin on every product type
        contract_size=1.0,
        ts_expiry=expiry or None,
        category=category,
        active=c.status == "normal",
    )


def _wire_symbol(symbol: str) -> tuple[str, str]:
    """Return (wire symbol, v1 suffix): v1 REST names `BTCUSDT_UMCBL`, every websocket says `BTCUSDT`."""
    head, _, suffix = symbol.rpartition("_")
    return (head, suffix) if head and suffix in _V1_SUFFIX else (symbol, "")


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return the UTA liquidation connection and v2 ticker/candle connections (≤ 50 channels each)."""
    out: list[WsConnection] = []
    categories = sorted({i.category for i in instruments if i.category in _PRODUCT_TYPES}) or sorted(_PRODUCT_TYPES)
    if Channel.LIQUIDATIONS in channels:
        args = [{"instType": c, "topic": "liquidation"} for c in categories]
        out.append(WsConnection(name=f"{VENUE}-liq", url=ws_url, subscribe=(_wire.json_bytes({"op": "subscribe", "args": args}),)))
    v2_url = ws_url.replace(_V3_PATH, _V2_PATH)
    wanted = [ch for ch, on in (("ticker", channels & {Channel.OPEN_INTEREST, Channel.MARK_PRICE}), ("candle1m", Channel.CANDLES in channels)) if on]
    args2 = [
        {"instType": _PRODUCT_TYPES[i.category], "channel": ch, "instId": i.symbol}
        for i in instruments
        if i.category in _PRODUCT_TYPES
        for ch in wanted
    ]
    per = SPEC.max_streams_per_connection
    for n, k in enumerate(range(0, len(args2), per)):
        msg = _wire.json_bytes({"op": "subscribe", "args": args2[k : k + per]})
        out.append(WsConnection(name=f"{VENUE}-v2-{n}", url=v2_url, subscribe=(msg,)))
    return out


def heartbeat(ts_ns: int) -> bytes | None:
    """Return the text `ping` Bitget expects every 30 s (it answers `pong`)."""
    return b"ping"


def reply_to(frame: bytes) -> bytes | None:
    """Answer a server text `ping` (Bitget normally waits for the client's)."""
    return b"pong" if frame.strip() == b"ping" else None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame: UTA liquidations, v1/v2/v3 tickers, candles, acks, `pong`, REST OI bodies."""
    if frame.find(b'"liquidation"', 0, 128) < 0:  # a hint: a failed typed decode costs ~10k instructions
        return _parse_general(frame, instruments, ts_recv)
    try:  # the hot path: a liquidation push in one decode; any other frame takes the general path
        msg = _LIQUIDATION_PUSH.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_general(frame, instruments, ts_recv)
    if msg.event is None and (msg.arg.topic or msg.arg.channel) == "liquidation":
        out = _liquidations_flat(msg.data, instruments, ts_recv)
        if out is not None:
            return out
    return _parse_general(frame, instruments, ts_recv)


_SIDE = {"buy": PositionSide.LONG, "sell": PositionSide.SHORT}
_FILL, _INF = PriceKind.FILL, float("inf")


def _liquidations_flat(items: list[_LiquidationItem], instruments: InstrumentIndex, ts_recv: int) -> list[Event] | None:
    """`_liquidation` of each item, flat, when none raises there; None sends the frame to the general path."""
    symbols = instruments.symbols(VENUE)
    out: list[Event] = []
    for item in items:
        inst = symbols.get(item.symbol)
        side = _SIDE.get(item.side)
        price, usd = item.price, item.amount
        if inst is None or side is None or not (0.0 < price < _INF and 0.0 < usd < _INF):
            return None
        base = usd / price
        out.append(
            Liquidation(
                venue=inst.venue, symbol=inst.symbol, market=inst.market, coin=inst.base,
                ts_event=item.ts * NS_PER_MS, ts_recv=ts_recv,
                position_side=side, venue_side=item.side, price=price, price_kind=_FILL,
                quantity=base, contracts=base, notional_usd=usd, contract_type=inst.contract_type,
            )
        )
    return out


def _parse_general(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse any frame: every channel, ack, error and REST body."""
    if frame.strip() in (b"pong", b"ping"):
        return []
    env = _wire.decode(_ENVELOPE, frame, "Bitget frame")
    if env.event is not None:
        if env.event == "error":  # {"event":"error","arg":{instType, channel, instId},"code":30001,"msg":…}
            arg = env.arg
            request = "/".join(x for x in (arg.inst_type, arg.topic or arg.channel, arg.inst_id) if x) if arg else None
            raise SubscribeRejected(VENUE, f"{env.code}: {env.msg}", request or None)
        return []  # subscribe / unsubscribe / login acks
    if env.arg is not None and env.data:
        kind = env.arg.topic or env.arg.channel
        if kind == "liquidation":
            items = _wire.decode(_LIQUIDATIONS, env.data, "Bitget liquidation")
            return _wire.keep_known(VENUE, items, lambda item: [_liquidation(item, instruments, ts_recv)])
        if kind == "ticker":
            tickers = _wire.decode(_TICKERS, env.data, "Bitget ticker")
            return _wire.keep_known(VENUE, tickers, lambda t: _ticker(t, env, instruments, ts_recv))
        if kind == "candle1m":
            return _candles(env, instruments, ts_recv)
        raise UnknownMessage(f"Bitget channel {kind!r} is not handled")
    if env.code is not None and env.data:
        return _rest_open_interest(env.data, instruments, ts_recv, Origin.POLL)
    raise UnknownMessage(f"unknown Bitget frame: {frame[:120]!r}")


def _liquidation(item: _LiquidationItem, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    inst = _wire.instrument(instruments, VENUE, item.symbol)
    # `side` is the liquidated POSITION's side: buy = a long was closed (Liquidation-Channel; venues.md §8).
    if item.side == "buy":
        side = PositionSide.LONG
    elif item.side == "sell":
        side = PositionSide.SHORT
    else:
        raise ParseError(f"malformed Bitget liquidation: side must be buy or sell, was {item.side!r}")
    price = _wire.positive(item.price, "price", "Bitget liquidation")
    usd = _wire.positive(item.amount, "amount", "Bitget liquidation")
    base = usd / price
    return _wire.liquidation(
        inst,
        ts_event=ms_to_ns(item.ts),
        ts_recv=ts_recv,
        position_side=side,
        venue_side=item.side,
        price=price,
        price_kind=PriceKind.FILL,
        quantity=base,
        contracts=base,  # Bitget sizes are base coin
        notional_usd=usd,
    )


def _ticker(t: _Ticker, env: _Envelope, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    inst = _wire.instrument(instruments, VENUE, t.inst_id or t.symbol or (env.arg.symbol if env.arg else ""))
    ts_ms = t.time_v1 or t.ts or env.ts
    ts_event = ms_to_ns(ts_ms) if ts_ms else ts_recv
    mark = t.mark_price if t.mark_price > 0 else None
    funding = t.funding if t.funding is not None else t.funding_v1
    next_funding = t.next_funding or t.next_funding_v1
    out: list[Event] = [
        _wire.mark_price(
            inst,
            ts_event=ts_event,
            ts_recv=ts_recv,
            mark_price=mark,
            index_price=t.index_price if t.index_price > 0 else None,
            funding_rate=funding,
            ts_next_funding=ms_to_ns(next_funding) if next_funding else None,
        )
    ]
    holding = next((v for v in (t.holding_v2, t.holding_v1, t.open_interest_v3) if v is not None), None)
    if holding is not None and holding >= 0:
        out.append(
            _wire.open_interest(
                inst,
                raw_value=holding,
                raw_unit=OpenInterestUnit.BASE,  # base coin, one side (docs; venues.md §8)
                two_sided=False,
                ts_event=ts_event,
                ts_recv=ts_recv,
                origin=Origin.STREAM,
                price=mark,
            )
        )
    return out


def _candles(env: _Envelope, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    assert env.arg is not None
    inst = _wire.instrument(instruments, VENUE, env.arg.inst_id)
    rows = _wire.decode(_CANDLES, env.data, "Bitget candle1m")
    out: list[Event] = []
    for n, row in enumerate(rows):
        if len(row) < 6:
            raise ParseError(f"malformed Bitget candle1m: need [ts, o, h, l, c, vol], got {row!r}")
        # [ts, open, high, low, close, base volume, (quote volume, USDT volume)]; in a snapshot every bar but the last is closed
        ts, o, h, low, c, vol = row[:6]
        if not all(math.isfinite(x) for x in row[:6]):
            raise ParseError(f"malformed Bitget candle1m: non-finite number in {row!r}")
        out.append(
            _wire.candle(
                inst,
                ts_event=ms_to_ns(int(ts)),
                ts_recv=ts_recv,
                interval_s=60,
                open=o,
                high=h,
                low=low,
                close=c,
                volume=vol,
                volume_usd=row[6] if len(row) > 6 and inst.quote_is_usd else None,
                closed=env.action == "snapshot" and n < len(rows) - 1,
            )
        )
    return out


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return nothing: open interest arrives on the ticker stream."""
    return []


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse a v1/v2 open-interest REST response (used for back-fills)."""
    if tag != "open_interest":
        raise UnknownMessage(f"Bitget poll tag {tag!r} is not handled")
    env = _wire.decode(_ENVELOPE, payload, "Bitget open-interest response")
    return _rest_open_interest(env.data, instruments, ts_recv, Origin.POLL)


def _rest_open_interest(data: msgspec.Raw, instruments: InstrumentIndex, ts_recv: int, origin: Origin) -> list[Event]:
    body = _wire.decode(_REST_OI, data, "Bitget open-interest data")
    if body.symbol and body.amount is not None:
        rows, ts_ms = [(body.symbol, body.amount)], body.timestamp
    elif body.entries:
        rows, ts_ms = [(e.symbol, e.size) for e in body.entries], body.ts
    else:
        raise ParseError("malformed Bitget open-interest data: neither symbol/amount nor openInterestList")
    return _wire.keep_known(VENUE, rows, lambda row: [
        _wire.open_interest(
            _wire.instrument(instruments, VENUE, _wire_symbol(row[0])[0]),
            raw_value=row[1],
            raw_unit=OpenInterestUnit.BASE,  # base coin (docs; venues.md §8)
            two_sided=False,
            ts_event=ms_to_ns(ts_ms) if ts_ms else ts_recv,
            ts_recv=ts_recv,
            origin=origin,
        )
    ])
