"""Gate futures (USDT- and BTC-settled perpetuals): public_liquidates, tickers and candlesticks channels.

Docs: https://www.gate.io/docs/developers/futures/ws/en/ ; docs/venues.md §9.
There is no recorded `futures.public_liquidates` frame: the documented examples are tested in
tests/unit/venues/test_gate.py (tests/fixtures/gate/). A liquidation item carries `time_ms` (English docs) or
`time` (Chinese changelog of 2026-08-20, ms since then, seconds before): either is accepted, `time_ms` first
(docs/venues-verification.md, issue 16). Open interest streams in `futures.tickers`
(`total_size`, contracts, one-sided). A REST `contract_stats` body names no contract, so it is parsed only
by `parse_poll` with the contract in its tag; seen as a bare frame it is an UnknownMessage.
Skipped on purpose: futures.trades → UnknownMessage; quanto contracts (BTC-settled ETH_USD…) are not loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from liqwatch.errors import ParseError, SubscribeRejected, UnknownMessage
from liqwatch.model import (
    Candle,
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
from liqwatch.model.time import ms_to_ns, now_ns, s_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._gate_wire import (
    _BAR,
    _CONTRACTS,
    _ENVELOPE,
    _LIQUIDATE,
    _RAWS,
    _STATS,
    _TICKER,
    _TICKERS,
    _Bar,
    _Contract,
    _Error,
    _Liquidate,
    _Ticker,
)
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="gate",
    title="Gate futures",
    recorded_prefixes=("GATEIO_FUTURES",),
    ws_url="wss://fx-ws.gateio.ws/v4/ws/usdt",
    rest_url="https://api.gateio.ws",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=True,
    coverage_note="complete since 2026-08-20 (batched per contract per ~1 s); before that at most 1 per contract per second",
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=10.0,  # client sends futures.ping; the server answers futures.pong
    stale_after_s=60.0,
    max_streams_per_connection=200,
    docs_url="https://www.gate.io/docs/developers/futures/ws/en/#public-liquidates-order-channel",
)
VENUE = SPEC.name
_SECONDS_BEFORE = 100_000_000_000  # a `time` below this is epoch seconds (pre-2026-08-20), above it ms
_INTERVAL_S = {"10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "8h": 28800, "1d": 86400}



def instrument_requests() -> list[RestRequest]:
    """Return the USDT- and BTC-settled contract lists."""
    return [
        RestRequest(tag="instruments", path="/api/v4/futures/usdt/contracts"),
        RestRequest(tag="instruments", path="/api/v4/futures/btc/contracts"),
    ]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse /futures/{settle}/contracts: `direct` = linear (quanto_multiplier base), `inverse` = 1 USD."""
    contracts = _wire.decode(_CONTRACTS, payload, "Gate futures contracts")
    return _wire.each_entry(VENUE, contracts, _instrument)


def _instrument(c: _Contract) -> Instrument | None:
    base, _, quote = c.name.partition("_")
    if c.type == "direct" and c.quanto_multiplier > 0:
        kind, size, settle = ContractType.LINEAR, c.quanto_multiplier, quote
    elif c.type == "inverse":
        kind, size, settle = ContractType.INVERSE, 1.0, base
    else:
        return None  # quanto: its USD value needs the settle coin's price
    return _wire.make_instrument(
        venue=VENUE,
        symbol=c.name,
        base=base,
        quote=quote,
        settle=settle,
        contract_type=kind,
        contract_size=size,
        category=settle.lower(),  # the WS path: /v4/ws/usdt or /v4/ws/btc
        active=not c.in_delisting,
    )


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return one connection per settle currency (and per chunk of contracts)."""
    root = ws_url.rsplit("/", 1)[0]
    now_s = now_ns() // 1_000_000_000  # Gate wants a request time in every message
    out: list[WsConnection] = []
    for settle in sorted({i.category for i in instruments}):
        contracts = [i.symbol for i in instruments if i.category == settle and i.active]
        per = SPEC.max_streams_per_connection
        for n, k in enumerate(range(0, max(len(contracts), 1), per)):
            chunk = contracts[k : k + per]
            msgs: list[dict[str, object]] = []
            if Channel.LIQUIDATIONS in channels and n == 0:
                msgs.append(_sub(now_s, "futures.public_liquidates", ["!all"]))
            if (Channel.OPEN_INTEREST in channels or Channel.MARK_PRICE in channels) and chunk:
                msgs.append(_sub(now_s, "futures.tickers", chunk))
            if Channel.CANDLES in channels:
                msgs.extend(_sub(now_s, "futures.candlesticks", ["1m", c]) for c in chunk)
            if msgs:
                out.append(
                    WsConnection(
                        name=f"{VENUE}-{settle}-{n}",
                        url=f"{root}/{settle}",
                        subscribe=tuple(_wire.json_bytes(m) for m in msgs),
                    )
                )
    return out


def _sub(now_s: int, channel: str, payload: list[str]) -> dict[str, object]:
    return {"time": now_s, "channel": channel, "event": "subscribe", "payload": payload}


def heartbeat(ts_ns: int) -> bytes | None:
    """Return the application-level ping Gate expects every 10 s."""
    return _wire.json_bytes({"time": ts_ns // 1_000_000_000, "channel": "futures.ping"})


def reply_to(frame: bytes) -> bytes | None:
    """Gate does not ping the client."""
    return None


def _error_text(error: msgspec.Raw) -> str:
    """Return "code: message" of a Gate error object, or its raw text."""
    try:
        err = msgspec.json.decode(error, type=_Error)
    except msgspec.DecodeError:
        return bytes(error).decode(errors="replace")[:300]
    return f"{err.code}: {err.message}"


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame: liquidations, tickers, candlesticks, pong and subscribe acks."""
    if frame.lstrip()[:1] == b"[":
        raise UnknownMessage("a bare Gate REST list (contract_stats) names no contract; use parse_poll")
    env = _wire.decode(_ENVELOPE, frame, "Gate futures frame")
    if bytes(env.error) not in (b"null", b""):
        if env.event == "subscribe":  # {"channel":…,"event":"subscribe","error":{"code":2,"message":…},"result":null}
            raise SubscribeRejected(VENUE, _error_text(env.error), env.channel)
        raise ParseError(f"Gate returned an error: {bytes(env.error)[:200]!r}")
    if env.channel in ("futures.pong", "futures.ping") or env.event in ("subscribe", "unsubscribe"):
        return []
    ts_event = ms_to_ns(env.time_ms) if env.time_ms else s_to_ns(env.time) if env.time else ts_recv
    items = _flatten(env.result)
    if env.channel == "futures.public_liquidates":
        return _wire.keep_known(VENUE, items, lambda r: [_liquidation(_wire.decode(_LIQUIDATE, r, "Gate public_liquidates"), instruments, ts_recv)])
    if env.channel == "futures.tickers":
        return _wire.keep_known(VENUE, items, lambda r: _ticker(_wire.decode(_TICKER, r, "Gate tickers"), instruments, ts_event, ts_recv))
    if env.channel == "futures.candlesticks":
        return _wire.keep_known(VENUE, items, lambda r: [_candle(_wire.decode(_BAR, r, "Gate candlesticks"), instruments, ts_recv)])
    raise UnknownMessage(f"Gate channel {env.channel!r} is not handled")


def _flatten(raw: msgspec.Raw) -> list[msgspec.Raw]:
    """Return the result objects: a single object, a list, or (2021 tickers) a list of lists."""
    text = bytes(raw).lstrip()
    if text[:1] != b"[":
        return [] if text in (b"null", b"") else [raw]
    return [obj for item in _wire.decode(_RAWS, raw, "Gate result list") for obj in _flatten(item)]


def _liquidation(msg: _Liquidate, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    inst = _wire.instrument(instruments, VENUE, msg.contract)
    try:
        size = float(msg.size)
    except ValueError:
        raise ParseError(f"malformed Gate public_liquidates: size {msg.size!r} is not a number") from None
    # `size` is the liquidation ORDER size, signed: negative = sell = a long was liquidated (docs; venues.md §9).
    if size < 0:
        side = PositionSide.LONG
    elif size > 0:
        side = PositionSide.SHORT
    else:
        raise ParseError("malformed Gate public_liquidates: size is 0")
    price = _wire.positive(msg.price, "price", "Gate public_liquidates")
    base, usd = _wire.base_and_usd(inst, abs(size), price)
    return _wire.liquidation(
        inst,
        ts_event=_liquidation_time(msg),
        ts_recv=ts_recv,
        position_side=side,
        venue_side=msg.size if isinstance(msg.size, str) else repr(msg.size),  # no side field: the signed size
        price=price,
        price_kind=PriceKind.ORDER,
        quantity=base,
        contracts=abs(size),
        notional_usd=usd,
    )


def _liquidation_time(msg: _Liquidate) -> int:
    """Return the item's time in ns: `time_ms` when present, else `time` (seconds before 2026-08-20, ms since)."""
    if msg.time_ms is not None:
        _wire.positive(msg.time_ms, "time_ms", "Gate public_liquidates")
        return ms_to_ns(msg.time_ms)
    if msg.time is None:
        raise ParseError("malformed Gate public_liquidates: the item has neither time_ms nor time")
    _wire.positive(msg.time, "time", "Gate public_liquidates")
    return s_to_ns(msg.time) if msg.time < _SECONDS_BEFORE else ms_to_ns(msg.time)


def _ticker(t: _Ticker, instruments: InstrumentIndex, ts_event: int, ts_recv: int) -> list[Event]:
    inst = _wire.instrument(instruments, VENUE, t.contract)
    price = t.mark_price if t.mark_price and t.mark_price > 0 else None
    oi = _wire.open_interest(
        inst,
        raw_value=t.total_size,
        raw_unit=OpenInterestUnit.CONTRACTS,
        two_sided=False,
        ts_event=ts_event,
        ts_recv=ts_recv,
        origin=Origin.STREAM,
        price=price,
    )
    mark = _wire.mark_price(
        inst,
        ts_event=ts_event,
        ts_recv=ts_recv,
        mark_price=price,
        index_price=t.index_price or None,
        funding_rate=t.funding_rate,
    )
    return [oi, mark]


def _candle(bar: _Bar, instruments: InstrumentIndex, ts_recv: int) -> Candle:
    interval, _, contract = bar.name.partition("_")
    if interval not in _INTERVAL_S:
        raise UnknownMessage(f"Gate candlestick interval {interval!r} is not handled")
    inst = _wire.instrument(instruments, VENUE, contract)
    if inst.contract_type is ContractType.INVERSE:
        usd = bar.contracts * inst.contract_size
        volume_usd: float | None = usd
        volume = usd / bar.close if bar.close > 0 else 0.0  # at the close: Gate gives no base volume
    else:
        volume = bar.base_amount if bar.base_amount is not None else bar.contracts * inst.contract_size
        volume_usd = None  # Gate's candles carry no quote volume
    return _wire.candle(
        inst,
        ts_event=s_to_ns(bar.open_s),
        ts_recv=ts_recv,
        interval_s=_INTERVAL_S[interval],
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=volume,
        volume_usd=volume_usd,
        closed=bar.closed,
    )


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Open interest streams in futures.tickers: nothing to poll."""
    return []


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse `tickers` (GET /futures/{settle}/tickers) or `contract_stats:<contract>` bodies."""
    if tag == "tickers":
        tickers = _wire.decode(_TICKERS, payload, "Gate tickers")
        return _wire.keep_known(VENUE, tickers, lambda t: _ticker(t, instruments, ts_recv, ts_recv))
    if tag.startswith("contract_stats:"):
        inst = _wire.instrument(instruments, VENUE, tag.partition(":")[2])
        return [
            _wire.open_interest(
                inst,
                raw_value=row.open_interest,
                raw_unit=OpenInterestUnit.CONTRACTS,
                two_sided=False,
                ts_event=s_to_ns(row.time),
                ts_recv=ts_recv,
                origin=Origin.POLL,
                price=row.mark_price or None,
                usd=row.open_interest_usd,
            )
            for row in _wire.decode(_STATS, payload, "Gate contract_stats")
        ]
    raise UnknownMessage(f"Gate poll tag {tag!r} is not handled")
