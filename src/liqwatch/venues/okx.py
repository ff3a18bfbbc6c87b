"""OKX v5 SWAP and FUTURES: liquidation-orders, open-interest, mark-price, funding-rate and candle1m channels.

Docs: https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel
Websockets on port 443 (8443 closed 2026-10-31), REST on openapi.okx.com (docs/venues-verification.md). Candles
live on `/ws/v5/business` since 2023-06-20 (OKX notice "Changes to V5 API WebSocket subscription parameter and
URL"): candle subscriptions get their own connection, at `business_url(ws_url)`.
Also parsed: REST `/api/v5/public/open-interest` and `/api/v5/public/liquidation-orders` bodies, and tardis'
`{"arg":{"channel":"liquidations",...}}` lines (REST details injected into its stream).
Skipped on purpose: the retired OKX v3 tables (`futures/liquidation`, `swap/ticker`, ...) → UnknownMessage.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

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
from liqwatch.venues._okx_wire import (
    _CANDLE_ROWS,
    _DETAILS,
    _ENVELOPE,
    _FUNDING_ROWS,
    _INSTRUMENTS,
    _LIQ_GROUPS,
    _LIQ_PUSH,
    _MARK_ROWS,
    _OI_ROWS,
    _REST_ROWS,
    _Arg,
    _Detail,
    _FundingRow,
    _InstrumentInfo,
    _LiquidationGroup,
    _MarkPriceRow,
    _OpenInterestRow,
)
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="okx",
    title="OKX",
    recorded_prefixes=("OKX",),
    ws_url="wss://ws.okx.com/ws/v5/public",
    rest_url="https://openapi.okx.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=False,
    coverage_note="partial: OKX says its liquidation-orders feed 'doesn't represent the total number of liquidations'",
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=25.0,  # the server drops a connection silent for 30 s; send text `ping`
    stale_after_s=60.0,
    max_streams_per_connection=240,  # args per connection: few subscribe ops, far below 480 per hour
    docs_url="https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel",
)
VENUE = SPEC.name
INST_TYPES = ("SWAP", "FUTURES")
ARGS_PER_MESSAGE = 40  # ≤ ~75 bytes per arg keeps a subscribe message under 4 KB (OKX's cap is 64 KB)
MAX_SUBSCRIBE_BYTES = 4096


def instrument_requests() -> list[RestRequest]:
    """Return one instruments request per instrument type (SWAP, FUTURES)."""
    return [RestRequest(tag="instruments", path="/api/v5/public/instruments", params=(("instType", t),)) for t in INST_TYPES]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse /api/v5/public/instruments: contract size = ctVal × ctMult (base coin if linear, USD if inverse)."""
    body = _wire.decode(_INSTRUMENTS, payload, "OKX instruments")
    if body.code != "0":
        raise ParseError(f"OKX instruments request failed: code {body.code}, {body.msg!r}")
    return _wire.each_entry(VENUE, body.data, _instrument)


def _instrument(i: _InstrumentInfo) -> Instrument | None:
    if i.inst_type not in INST_TYPES or i.ct_type not in ("linear", "inverse"):
        return None
    base, _, quote = (i.family or i.underlying).partition("-")
    try:
        size = float(i.ct_val) * float(i.ct_mult or "1")
        expiry = ms_to_ns(int(i.expiry)) if i.inst_type == "FUTURES" and i.expiry else None
    except ValueError:
        size = 0.0
    if not (base and quote and size > 0):
        raise ParseError(f"malformed OKX instrument {i.inst_id}: instFamily {i.family!r}, ctVal {i.ct_val!r}, expTime {i.expiry!r}")
    return _wire.make_instrument(
        venue=VENUE,
        symbol=i.inst_id,
        base=base,
        quote=quote,
        settle=i.settle,
        contract_type=ContractType.LINEAR if i.ct_type == "linear" else ContractType.INVERSE,
        contract_size=size,
        ts_expiry=expiry,
        category=i.inst_type,
        active=i.state == "live",
    )


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return public connections (liquidations by instType, OI/mark/funding by instId) and business ones (candles)."""
    public: list[dict[str, str]] = []
    if Channel.LIQUIDATIONS in channels:
        public.extend({"channel": "liquidation-orders", "instType": t} for t in INST_TYPES)
    for i in instruments:
        if Channel.OPEN_INTEREST in channels:
            public.append({"channel": "open-interest", "instId": i.symbol})
        if Channel.MARK_PRICE in channels:
            public.append({"channel": "mark-price", "instId": i.symbol})
            if i.category == "SWAP":  # only perpetuals fund
                public.append({"channel": "funding-rate", "instId": i.symbol})
    business: list[dict[str, str]] = []
    if Channel.CANDLES in channels:
        business = [{"channel": "candle1m", "instId": i.symbol} for i in instruments]
    return _connections("public", ws_url, public) + _connections("business", business_url(ws_url), business)


def business_url(public_url: str) -> str:
    """Return the `/business` URL beside a public one (last path segment swapped; host, port, query kept)."""
    parts = urlsplit(public_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/").rsplit("/", 1)[0] + "/business"))


def _connections(kind: str, url: str, args: list[dict[str, str]]) -> list[WsConnection]:
    per = SPEC.max_streams_per_connection
    out = []
    for n, k in enumerate(range(0, len(args), per)):
        conn_args = args[k : k + per]
        subscribe = tuple(
            _wire.json_bytes({"op": "subscribe", "args": conn_args[m : m + ARGS_PER_MESSAGE]})
            for m in range(0, len(conn_args), ARGS_PER_MESSAGE)
        )
        out.append(WsConnection(name=f"{VENUE}-{kind}-{n}", url=url, subscribe=subscribe))
    return out


def heartbeat(ts_ns: int) -> bytes | None:
    """Return the text ping OKX expects at least every 30 s."""
    return b"ping"


def reply_to(frame: bytes) -> bytes | None:
    """OKX never pings the client."""
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame: a channel push, an event (ack/error), `pong`, or a recorded REST body."""
    try:  # the hot path: a liquidation-orders push in one typed decode; any other frame takes the general path
        hot = _LIQ_PUSH.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_general(frame, instruments, ts_recv)
    if hot.arg.channel == "liquidation-orders" and hot.event is None and not hot.message:
        return _liquidation_orders(hot.data, instruments, ts_recv)
    return _parse_general(frame, instruments, ts_recv)


def _parse_general(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse any frame (`parse_frame` before the liquidation-orders hot path; every frame that path does not take)."""
    if frame.strip() == b"pong":
        return []
    env = _wire.decode(_ENVELOPE, frame, "OKX frame")
    if env.message:
        return _parse_general(bytes(env.message), instruments, ts_recv)
    if env.event is not None:
        if env.event == "error":  # the answer to a refused op: {"event":"error","code":"60018","msg":…,"connId":…}
            raise SubscribeRejected(VENUE, f"{env.code}: {env.msg}")
        if env.event in ("subscribe", "unsubscribe", "notice", "channel-conn-count"):
            return []
        raise UnknownMessage(f"OKX event {env.event!r} is not handled")
    if env.arg is not None:
        return _push(env.arg, env.data, instruments, ts_recv)
    if env.code is not None:
        return _rest(env.code, env.msg, env.data, instruments, ts_recv)
    if env.table is not None:
        raise UnknownMessage(f"OKX v3 table {env.table!r} is not supported (v3 was retired in 2022)")
    raise UnknownMessage(f"unknown OKX frame: {frame[:120]!r}")


def _push(arg: _Arg, data: msgspec.Raw, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    ch = arg.channel
    if not data:
        raise ParseError(f"malformed OKX {ch!r} push: no data")
    out: list[Event] = []
    if ch == "liquidation-orders":
        out.extend(_liquidation_groups(data, instruments, ts_recv))
    elif ch == "liquidations":  # tardis: REST liquidation-orders details under arg.instId
        out.extend(_liquidations(arg.inst_id, _wire.decode(_DETAILS, data, "OKX liquidations"), instruments, ts_recv))
    elif ch == "open-interest":
        rows = _wire.decode(_OI_ROWS, data, "OKX open-interest")
        out.extend(_wire.keep_known(VENUE, rows, lambda r: [_open_interest(r, instruments, ts_recv, Origin.STREAM)]))
    elif ch == "mark-price":
        marks = _wire.decode(_MARK_ROWS, data, "OKX mark-price")
        out.extend(_wire.keep_known(VENUE, marks, lambda r: [_mark_price(r, instruments, ts_recv)]))
    elif ch == "funding-rate":
        funding = _wire.decode(_FUNDING_ROWS, data, "OKX funding-rate")
        out.extend(_wire.keep_known(VENUE, [r for r in funding if r.funding_rate is not None], lambda r: [_funding(r, instruments, ts_recv)]))
    elif ch in _CANDLE_INTERVAL_S:
        out.extend(_candles(arg.inst_id, _CANDLE_INTERVAL_S[ch], data, instruments, ts_recv))
    else:
        raise UnknownMessage(f"OKX channel {ch!r} is not handled")
    return out


def _rest(code: str, msg: str, data: msgspec.Raw, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse a REST body: /public/open-interest or /public/liquidation-orders."""
    if code != "0":
        raise ParseError(f"OKX REST error: code {code}, {msg!r}")
    if not data:
        raise ParseError("malformed OKX REST body: no data")
    rows = _wire.decode(_REST_ROWS, data, "OKX REST body")
    if any("details" in r for r in rows):
        return _liquidation_groups(data, instruments, ts_recv)
    if all("oi" in r for r in rows):
        oi_rows = _wire.decode(_OI_ROWS, data, "OKX open-interest")
        return _wire.keep_known(VENUE, oi_rows, lambda r: [_open_interest(r, instruments, ts_recv, Origin.POLL)])
    raise UnknownMessage(f"OKX REST body of unknown kind: {bytes(data)[:120]!r}")


def _liquidation_groups(data: msgspec.Raw, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    groups = _wire.decode(_LIQ_GROUPS, data, "OKX liquidation-orders")
    return _wire.keep_known(VENUE, groups, lambda g: _liquidations(g.inst_id, g.details, instruments, ts_recv))


def _liquidations(inst_id: str, details: list[_Detail], instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    inst = _wire.instrument(instruments, VENUE, inst_id)
    out: list[Event] = []
    for d in details:
        # Docs: `side` is the liquidation ORDER side and `posSide` the position (long/short in hedge mode,
        # `net` in one-way mode): a sell closes a long (docs/venues.md §4).
        if d.pos_side in ("long", "short"):
            side = PositionSide(d.pos_side)
        elif d.side == "sell":
            side = PositionSide.LONG
        elif d.side == "buy":
            side = PositionSide.SHORT
        else:
            raise ParseError(f"malformed OKX liquidation: side must be buy or sell, was {d.side!r}")
        _wire.positive(d.size, "sz", "OKX liquidation")
        _wire.positive(d.bankruptcy_price, "bkPx", "OKX liquidation")
        # linear: usd = sz × ctVal × bkPx; inverse: usd = sz × ctVal, base = usd / bkPx
        base, usd = _wire.base_and_usd(inst, d.size, d.bankruptcy_price)
        out.append(
            _wire.liquidation(
                inst,
                ts_event=ms_to_ns(d.ts), ts_recv=ts_recv,
                position_side=side,
                venue_side=d.side,
                price=d.bankruptcy_price,
                price_kind=PriceKind.BANKRUPTCY,
                quantity=base,
                contracts=d.size,
                notional_usd=usd,
                # pushes may come out of order and again after a reconnect: a stable key lets the store dedup
                venue_event_id=f"{inst_id}|{d.ts}|{d.side}|{d.pos_side}|{d.size!r}|{d.bankruptcy_price!r}",
            )
        )
    return out


_POSITION = {"long": PositionSide.LONG, "short": PositionSide.SHORT}  # posSide (hedge mode)
_CLOSED_BY = {"sell": PositionSide.LONG, "buy": PositionSide.SHORT}  # order side (one-way mode, `net`)
_BANKRUPTCY, _LINEAR, _INVERSE, _INF = PriceKind.BANKRUPTCY, ContractType.LINEAR, ContractType.INVERSE, float("inf")


def _liquidation_orders(groups: list[_LiquidationGroup], instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    # `_liquidations` kept flat for the hot path (bench/instructions.py): the same events and errors, detail by
    # detail; tests/unit/venues/test_hot_paths.py holds the two equal on every recorded and generated frame.
    symbols = instruments.symbols(VENUE)
    out: list[Event] = []
    for g in groups:
        inst_id = g.inst_id
        inst = symbols.get(inst_id)
        if inst is None:
            return _wire.keep_known(VENUE, groups, lambda g: _liquidations(g.inst_id, g.details, instruments, ts_recv))
        ct, contract_size = inst.contract_type, inst.contract_size
        for d in g.details:
            side, pos_side, size, price = d.side, d.pos_side, d.size, d.bankruptcy_price
            position = _POSITION.get(pos_side) or _CLOSED_BY.get(side)
            if position is None:
                raise ParseError(f"malformed OKX liquidation: side must be buy or sell, was {side!r}")
            if not 0.0 < size < _INF:
                raise ParseError(f"malformed OKX liquidation: sz must be a positive finite number, was {size!r}")
            if not 0.0 < price < _INF:
                raise ParseError(f"malformed OKX liquidation: bkPx must be a positive finite number, was {price!r}")
            if ct is _LINEAR:
                base = size * contract_size
                usd = base * price
            elif ct is _INVERSE:
                usd = size * contract_size
                base = usd / price
            else:
                base, usd = _wire.base_and_usd(inst, size, price)
            out.append(Liquidation(
                venue=VENUE, symbol=inst.symbol, market=inst.market, coin=inst.base, ts_event=d.ts * NS_PER_MS,
                ts_recv=ts_recv, position_side=position, venue_side=side, price=price, price_kind=_BANKRUPTCY,
                quantity=base, contracts=size, notional_usd=usd, contract_type=ct,
                venue_event_id=f"{inst_id}|{d.ts}|{side}|{pos_side}|{size!r}|{price!r}",
            ))
    return out


def _open_interest(row: _OpenInterestRow, instruments: InstrumentIndex, ts_recv: int, origin: Origin) -> Event:
    inst = _wire.instrument(instruments, VENUE, row.inst_id)
    if not (row.oi >= 0 and row.oi_ccy >= 0):
        raise ParseError(f"malformed OKX open interest of {row.inst_id}: oi {row.oi!r}, oiCcy {row.oi_ccy!r}")
    usd = row.oi_usd
    if usd is None and inst.contract_type is ContractType.INVERSE:
        usd = row.oi * inst.contract_size  # inverse contracts are USD-sized
    return _wire.open_interest(
        inst,
        raw_value=row.oi_ccy,  # oiCcy: base coin, one-sided (oi counts contracts)
        raw_unit=OpenInterestUnit.BASE,
        two_sided=False,
        ts_event=ms_to_ns(row.ts),
        ts_recv=ts_recv,
        origin=origin,
        usd=usd,
    )


def _mark_price(row: _MarkPriceRow, instruments: InstrumentIndex, ts_recv: int) -> Event:
    inst = _wire.instrument(instruments, VENUE, row.inst_id)
    mark = _wire.positive(row.mark_price, "markPx", "OKX mark-price")
    return _wire.mark_price(inst, ts_event=ms_to_ns(row.ts), ts_recv=ts_recv, mark_price=mark)


def _funding(row: _FundingRow, instruments: InstrumentIndex, ts_recv: int) -> Event:
    inst = _wire.instrument(instruments, VENUE, row.inst_id)
    interval = None
    if row.next_funding_time and row.next_funding_time > row.funding_time:
        interval = (row.next_funding_time - row.funding_time) // 1000
    return _wire.mark_price(
        inst,
        ts_event=ms_to_ns(row.ts) if row.ts else ts_recv,  # older pushes carry no ts
        ts_recv=ts_recv,
        funding_rate=row.funding_rate,
        funding_interval_s=interval,
        ts_next_funding=ms_to_ns(row.funding_time) if row.funding_time else None,
    )


_CANDLE_INTERVAL_S = {"candle1m": 60, "candle3m": 180, "candle5m": 300, "candle15m": 900, "candle1H": 3600}


def _candles(inst_id: str, interval_s: int, data: msgspec.Raw, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse rows [ts, o, h, l, c, vol (contracts), volCcy (base), volCcyQuote?, confirm?]."""
    inst = _wire.instrument(instruments, VENUE, inst_id)
    out: list[Event] = []
    for row in _wire.decode(_CANDLE_ROWS, data, "OKX candles"):
        try:
            ts = int(row[0])
            o, h, low, c, contracts, base = (float(x) for x in row[1:7])
            quote = float(row[7]) if len(row) > 7 and row[7] else None
        except ValueError:
            raise ParseError(f"malformed OKX candle row {row!r}") from None
        usd = contracts * inst.contract_size if inst.contract_type is ContractType.INVERSE else quote if inst.quote_is_usd else None
        out.append(
            _wire.candle(
                inst,
                ts_event=ms_to_ns(ts), ts_recv=ts_recv, interval_s=interval_s,
                open=o, high=h, low=low, close=c, volume=base, volume_usd=usd,
                closed=len(row) > 8 and row[8] == "1",
            )
        )
    return out


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return a REST open-interest snapshot per instrument type (the stream is primary)."""
    return [RestRequest(tag="open_interest", path="/api/v5/public/open-interest", params=(("instType", t),)) for t in INST_TYPES]


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse a REST body: `open_interest`/`liquidations` ({code, data}) or `candles:<instId>` (market/candles)."""
    if tag.startswith("candles:"):
        env = _wire.decode(_ENVELOPE, payload, "OKX candles")
        if env.code != "0" or not env.data:
            raise ParseError(f"OKX candles request failed: code {env.code}, {env.msg!r}")
        return _candles(tag.removeprefix("candles:"), 60, env.data, instruments, ts_recv)
    if tag not in ("open_interest", "liquidations"):
        raise UnknownMessage(f"OKX poll tag {tag!r} is not handled")
    env = _wire.decode(_ENVELOPE, payload, f"OKX {tag}")
    if env.code is None:
        raise ParseError(f"malformed OKX {tag} body: no code")
    return _rest(env.code, env.msg, env.data, instruments, ts_recv)
