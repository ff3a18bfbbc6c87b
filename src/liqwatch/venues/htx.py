"""HTX (Huobi) USDT-margined and coin-margined swaps and futures: liquidation, funding and kline topics; OI by REST poll.

Docs: https://www.htx.com/en-us/opend/newApiPages/ (USDT-M `linear-swap`, coin-M `swap` and `futures`); venues.md §7.
Every live frame is gzip (`safe_parse` decompresses). Liquidations and funding: `*-notification` sockets, klines: market.
Skipped on purpose: trade, detail, basis and contract_info topics → UnknownMessage. Coin-M futures
market channels named by alias (`market.BTC_CQ.*`) → UnknownInstrument: an alias points at a different
contract every quarter, so only contract codes (BTC200925) are resolved and subscribed.
Open interest, decided per endpoint from HTX's own field descriptions (docs/venues-verification.md, issue 16):
USDT-M `/linear-swap-api/v1/swap_open_interest` and coin-M futures `/api/v1/contract_open_interest` document
`volume`/`amount` as the "Sum of both buy and sell sides" → halved (raw_two_sided=True); coin-M swaps
`/swap-api/v1/swap_open_interest` documents them as "Single side" → kept as is (raw_two_sided=False).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

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
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.time import NS_PER_MS, ms_to_ns, s_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._htx_instruments import _FUTURES, _LINEAR, _SWAP
from liqwatch.venues._htx_instruments import instrument_requests as instrument_requests
from liqwatch.venues._htx_instruments import parse_instruments as parse_instruments
from liqwatch.venues._htx_wire import (
    _ENVELOPE,
    _FUNDINGS,
    _LIQUIDATION_NOTIFY,
    _LIQUIDATIONS,
    _OPEN_INTEREST,
    _PING,
    _TICK,
    _Envelope,
    _Funding,
    _LiquidationOrder,
    _OpenInterestItem,
)
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="htx",
    title="HTX (Huobi) futures",
    recorded_prefixes=("HTX",),
    ws_url="wss://api.hbdm.com/linear-swap-notification",
    rest_url="https://api.hbdm.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=True,
    coverage_note="every liquidation order is pushed (no documented sampling); price is the bankruptcy price",
    frame_encoding="gzip",
    oi_origin=Origin.POLL,
    oi_poll_interval_s=60.0,
    heartbeat_interval_s=None,  # the server pings every 5 s; reply_to answers
    stale_after_s=60.0,
    max_streams_per_connection=100,
    docs_url="https://www.htx.com/en-us/opend/newApiPages/?id=8cb89359-77b5-11ed-9966-0242ac110003",
)
VENUE = SPEC.name

# category → (notification path, market-data path, REST open-interest path)
_PATHS = {
    _LINEAR: ("/linear-swap-notification", "/linear-swap-ws", "/linear-swap-api/v1/swap_open_interest"),
    _SWAP: ("/swap-notification", "/swap-ws", "/swap-api/v1/swap_open_interest"),
    _FUTURES: ("/notification", "/ws", "/api/v1/contract_open_interest"),
}
# category → whether its open-interest endpoint counts both sides (HTX's field descriptions, see the docstring)
_OI_TWO_SIDED = {_LINEAR: True, _SWAP: False, _FUTURES: True}
_INTERVAL_S = {"1min": 60, "5min": 300, "15min": 900, "30min": 1800, "60min": 3600, "4hour": 14400, "1day": 86400}


def _host(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    return f"{parts.scheme}://{parts.netloc}"


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return notification sockets (liquidations, funding) and market sockets (klines) per product line."""
    host = _host(ws_url)
    out: list[WsConnection] = []
    for category, (notify_path, market_path, _) in _PATHS.items():
        group = [i for i in instruments if i.category == category and i.active]
        notify: list[str] = []
        if Channel.LIQUIDATIONS in channels:
            codes = [i.base if category == _FUTURES else i.symbol for i in group]
            notify.extend(f"public.{c}.liquidation_orders" for c in dict.fromkeys(codes))
        if Channel.MARK_PRICE in channels and category != _FUTURES:
            notify.extend(f"public.{i.symbol}.funding_rate" for i in group if i.ts_expiry is None)
        market = [f"market.{i.symbol}.kline.1min" for i in group] if Channel.CANDLES in channels else []
        out.extend(_chunks(f"{VENUE}-{category}-notify", host + notify_path, notify, notification=True))
        out.extend(_chunks(f"{VENUE}-{category}-market", host + market_path, market, notification=False))
    return out


def _chunks(name: str, url: str, topics: list[str], *, notification: bool) -> list[WsConnection]:
    per = SPEC.max_streams_per_connection
    out = []
    for n, k in enumerate(range(0, len(topics), per)):
        if notification:
            msgs = [{"op": "sub", "cid": str(k + j + 1), "topic": t} for j, t in enumerate(topics[k : k + per])]
        else:
            msgs = [{"sub": t, "id": str(k + j + 1)} for j, t in enumerate(topics[k : k + per])]
        out.append(WsConnection(name=f"{name}-{n}", url=url, subscribe=tuple(_wire.json_bytes(m) for m in msgs)))
    return out


def heartbeat(ts_ns: int) -> bytes | None:
    """HTX needs no client ping: the server pings."""
    return None


def reply_to(frame: bytes) -> bytes | None:
    """Answer {"op":"ping","ts":t} with {"op":"pong","ts":t} and {"ping":t} with {"pong":t}."""
    try:
        msg = _PING.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None
    if msg.ping:
        return b'{"pong":' + bytes(msg.ping) + b"}"
    if msg.op == "ping":
        return b'{"op":"pong","ts":' + (bytes(msg.ts) or b"0") + b"}"
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one decompressed frame: notify, market channel, control, or a REST open-interest body."""
    if frame.find(b'.liquidation_orders"', 0, 128) < 0:  # a hint: a failed typed decode costs ~10k instructions
        return _parse_general(frame, instruments, ts_recv)
    try:  # the hot path: a liquidation_orders notify in one decode; any other frame takes the general path
        msg = _LIQUIDATION_NOTIFY.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_general(frame, instruments, ts_recv)
    if (
        not msg.ping and msg.subbed is None and not msg.err_code and msg.status != "error"
        and msg.topic.endswith(".liquidation_orders")
    ):
        out = _liquidations_flat(msg.data, instruments, ts_recv)
        if out is not None:
            return out
    return _parse_general(frame, instruments, ts_recv)


_SIDE = {"sell": PositionSide.LONG, "buy": PositionSide.SHORT}
_BANKRUPTCY, _INVERSE, _LINEAR_CT, _INF = PriceKind.BANKRUPTCY, ContractType.INVERSE, ContractType.LINEAR, float("inf")


def _liquidations_flat(orders: list[_LiquidationOrder], instruments: InstrumentIndex, ts_recv: int) -> list[Event] | None:
    """`_liquidation` of each order, flat, when none raises there; None sends the frame to the general path."""
    symbols = instruments.symbols(VENUE)
    out: list[Event] = []
    for o in orders:
        inst = symbols.get(o.contract_code)
        side = _SIDE.get(o.direction)
        volume, price, amount = o.volume, o.price, o.amount
        if inst is None or side is None or not (0.0 < volume < _INF and 0.0 < price < _INF):
            return None
        kind = inst.contract_type
        if kind is _LINEAR_CT and amount:
            if not 0.0 < amount < _INF:
                return None
            base, usd = amount, amount * price  # amount = volume × contract_size; usd = trade_turnover
        elif kind is _INVERSE:
            usd = volume * inst.contract_size
            base = usd / price
        elif kind is _LINEAR_CT:
            base = volume * inst.contract_size
            usd = base * price
        else:
            return None  # a quanto: the general path raises
        out.append(
            Liquidation(
                venue=inst.venue, symbol=inst.symbol, market=inst.market, coin=inst.base,
                ts_event=o.created_at * NS_PER_MS, ts_recv=ts_recv,
                position_side=side, venue_side=o.direction, price=price, price_kind=_BANKRUPTCY,
                quantity=base, contracts=volume, notional_usd=usd, contract_type=kind,
            )
        )
    return out


def _parse_general(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse any decompressed frame: every topic and channel, control frames, errors and REST bodies."""
    env = _wire.decode(_ENVELOPE, frame, "HTX frame")
    if env.ping or env.op in ("ping", "pong", "unsub") or env.subbed is not None:
        return []
    if env.err_code or env.status == "error":
        if env.op == "sub":  # notify: {"op":"sub","cid":…,"topic":…,"err-code":4001,"err-msg":…}
            raise SubscribeRejected(VENUE, f"{env.err_code}: {env.err_msg}", env.topic or env.cid)
        if env.id is not None:  # market: {"id":…,"status":"error","err-code":"bad-request","err-msg":…}
            raise SubscribeRejected(VENUE, f"{env.err_code}: {env.err_msg}", f"id {env.id}")
        raise ParseError(f"HTX returned an error: {env.err_code} {env.err_msg}")
    if env.op == "sub":
        return []  # subscribe ack
    if env.op == "notify" and env.topic:
        if env.topic.endswith(".liquidation_orders"):
            items = _wire.decode(_LIQUIDATIONS, env.data, "HTX liquidation_orders")
            return _wire.keep_known(VENUE, items, lambda i: [_liquidation(i, instruments, ts_recv)])
        if env.topic.endswith(".funding_rate"):
            fundings = _wire.decode(_FUNDINGS, env.data, "HTX funding_rate")
            return _wire.keep_known(VENUE, fundings, lambda f: [_mark_price(f, env.ts, instruments, ts_recv)])
        raise UnknownMessage(f"HTX topic {env.topic!r} is not handled")
    if env.ch:
        parts = env.ch.split(".")
        if len(parts) == 4 and parts[2] == "kline":
            return [_candle(parts[1], parts[3], env, instruments, ts_recv)]
        if len(parts) == 3 and parts[2] == "open_interest":  # tardis injects REST polls as this channel
            return _open_interest(env, instruments, ts_recv, Origin.POLL)
        raise UnknownMessage(f"HTX channel {env.ch!r} is not handled")
    if env.status == "ok" and env.data:
        return _open_interest(env, instruments, ts_recv, Origin.POLL)
    raise UnknownMessage(f"unknown HTX frame: {frame[:120]!r}")


def _liquidation(o: _LiquidationOrder, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    inst = _wire.instrument(instruments, VENUE, o.contract_code)
    # `direction` is the liquidation ORDER side: sell closes a long (venues.md §7; REST trade_type 5 =
    # "Liquidate long positions" is the same record seen from the position).
    if o.direction == "sell":
        side = PositionSide.LONG
    elif o.direction == "buy":
        side = PositionSide.SHORT
    else:
        raise ParseError(f"malformed HTX liquidation_orders: direction must be buy or sell, was {o.direction!r}")
    _wire.positive(o.volume, "volume", "HTX liquidation_orders")
    price = _wire.positive(o.price, "price", "HTX liquidation_orders")
    if inst.contract_type is ContractType.LINEAR and o.amount:
        base = _wire.positive(o.amount, "amount", "HTX liquidation_orders")  # = volume × contract_size
        usd = base * price  # = trade_turnover
    else:
        base, usd = _wire.base_and_usd(inst, o.volume, price)  # coin-M: usd = volume × contract_size
    return _wire.liquidation(
        inst,
        ts_event=ms_to_ns(o.created_at),
        ts_recv=ts_recv,
        position_side=side,
        venue_side=o.direction,
        price=price,
        price_kind=PriceKind.BANKRUPTCY,
        quantity=base,
        contracts=o.volume,
        notional_usd=usd,
    )


def _mark_price(f: _Funding, ts: int | None, instruments: InstrumentIndex, ts_recv: int) -> MarkPrice:
    inst = _wire.instrument(instruments, VENUE, f.contract_code)
    return _wire.mark_price(
        inst,
        ts_event=ms_to_ns(ts) if ts else ts_recv,
        ts_recv=ts_recv,
        funding_rate=f.funding_rate,
        ts_next_funding=ms_to_ns(f.settlement_time) if f.settlement_time else None,
    )


def _candle(code: str, period: str, env: _Envelope, instruments: InstrumentIndex, ts_recv: int) -> Candle:
    if period not in _INTERVAL_S:
        raise UnknownMessage(f"HTX kline period {period!r} is not handled")
    inst = _wire.instrument(instruments, VENUE, code)
    tick = _wire.decode(_TICK, env.tick, "HTX kline tick")
    if inst.contract_type is ContractType.INVERSE:
        volume_usd: float | None = tick.contracts * inst.contract_size
    else:
        volume_usd = tick.trade_turnover if inst.quote_is_usd else None
    return _wire.candle(
        inst,
        ts_event=s_to_ns(tick.bar_open_s),
        ts_recv=ts_recv,
        interval_s=_INTERVAL_S[period],
        open=tick.open,
        high=tick.high,
        low=tick.low,
        close=tick.close,
        volume=tick.amount,  # coin, for both USDT-M and coin-M
        volume_usd=volume_usd,
        closed=False,  # HTX pushes the running bar without a closed flag
    )


def _open_interest(env: _Envelope, instruments: InstrumentIndex, ts_recv: int, origin: Origin) -> list[Event]:
    items = _wire.decode(_OPEN_INTEREST, env.data, "HTX open_interest")
    ts_event = ms_to_ns(env.ts) if env.ts else ts_recv
    return _wire.keep_known(  # a REST body lists every contract: keep the ones we know, count the others
        VENUE, items, lambda i: [_one_open_interest(_wire.instrument(instruments, VENUE, i.contract_code), i, ts_event, ts_recv, origin)]
    )


def _one_open_interest(inst: Instrument, item: _OpenInterestItem, ts_event: int, ts_recv: int, origin: Origin) -> OpenInterest:
    if inst.contract_type is ContractType.INVERSE:
        usd: float | None = item.volume * inst.contract_size
    else:
        usd = item.value
    price = usd / item.amount if usd is not None and item.amount > 0 else None  # the price HTX valued it at
    two_sided = _OI_TWO_SIDED.get(inst.category)  # per endpoint (product line)
    if two_sided is None:
        raise ParseError(f"HTX {inst.symbol} has no product line (category {inst.category!r}): its OI sidedness is unknown")
    oi = _wire.open_interest(
        inst,
        raw_value=item.volume,
        raw_unit=OpenInterestUnit.CONTRACTS,
        two_sided=two_sided,
        ts_event=ts_event,
        ts_recv=ts_recv,
        origin=origin,
        price=price,
        usd=usd,
    )
    if oi.open_interest != oi.open_interest:  # no position open: the inverse base needs no price
        oi = msgspec.structs.replace(oi, open_interest=item.amount / 2 if two_sided else item.amount)
    return oi


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return one all-contracts open-interest request per product line in use."""
    categories = {i.category for i in instruments}
    out = []
    for category, (_, _, path) in _PATHS.items():
        if category in categories:
            params = (("business_type", "all"),) if category == _LINEAR else ()
            out.append(RestRequest(tag=f"open_interest:{category}", path=path, params=params))
    return out


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse a swap_open_interest / contract_open_interest body (volume contracts, amount coin, value USDT)."""
    if not tag.startswith("open_interest"):
        raise UnknownMessage(f"HTX poll tag {tag!r} is not handled")
    env = _wire.decode(_ENVELOPE, payload, "HTX open_interest")
    if env.status != "ok":
        raise ParseError(f"HTX open_interest returned status {env.status!r}: {env.err_msg}")
    return _open_interest(env, instruments, ts_recv, Origin.POLL)
