"""dYdX v4 indexer (`indexer.dydx.trade/v4/ws`): liquidations from `v4_trades`, OI/oracle/funding from `v4_markets`.

Docs: https://docs.dydx.exchange/api_integration-indexer/indexer_websocket (docs/venues.md §12).
A trade with `type` LIQUIDATED is a fill of a liquidated taker order. DELEVERAGED fills (auto-deleveraging
against a profitable counterparty) are not liquidation orders and are skipped, as are LIMIT/MARKET fills.
The initial `subscribed` message repeats recent trades: `venue_event_id` = the trade `id` dedups them.
Subscriptions are packed as the indexer allows (docs/venues-verification.md, issue 16): its rate limit is 2
subscribe messages per second per (connection, channel, id) — one subscription, not one connection — and it
accepts 32 subscriptions per channel per connection (`V4_TRADES_CHANNEL_LIMIT`/`V4_MARKETS_CHANNEL_LIMIT` in
dydxprotocol/v4-chain `indexer/services/socks/src/config.ts`). So each connection carries up to 32 `v4_trades`
markets, each subscribed once, and the first one also `v4_markets`: 150 markets take 5 connections.
A `v4_markets` frame covers every market: tickers without a loaded spec are skipped inside it.
The recorded liquidation frame (a tardis fixture) puts an AVAX-priced trade (22.87) under BTC-USD; it is
parsed as the wire says.
"""

from __future__ import annotations

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
    MarkPrice,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.time import iso_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="dydx",
    title="dYdX v4",
    recorded_prefixes=("DYDX_V4",),
    ws_url="wss://indexer.dydx.trade/v4/ws",
    rest_url="https://indexer.dydx.trade",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE}),
    liquidations_complete=True,
    coverage_note="complete: every LIQUIDATED fill is a public trade; deleveraging (ADL) fills are not counted",
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=None,  # the server pings every 30 s at the protocol level; aiohttp answers
    stale_after_s=90.0,
    max_streams_per_connection=32,  # the indexer's per-channel subscription limit per connection
    docs_url="https://docs.dydx.exchange/api_integration-indexer/indexer_websocket",
)
VENUE = SPEC.name
FUNDING_INTERVAL_S = 3600  # dYdX v4 funding accrues hourly; nextFundingRate is a 1-hour rate


class _Envelope(msgspec.Struct, frozen=True):
    """Every indexer frame: connected, subscribed, channel_data, channel_batch_data, unsubscribed, error."""

    type: str
    channel: str | None = None
    id: str | None = None
    message: str | None = None
    contents: msgspec.Raw = msgspec.Raw(b"")


class _Trade(msgspec.Struct, frozen=True):
    id: str
    side: str
    size: float
    price: float
    type: str
    created_at: str = msgspec.field(name="createdAt")


class _Trades(msgspec.Struct, frozen=True):
    trades: list[_Trade]


class _Market(msgspec.Struct, frozen=True):
    """A `trading` entry (partial update) or a full market of the `subscribed` message."""

    open_interest: float | None = msgspec.field(name="openInterest", default=None)
    oracle_price: float | None = msgspec.field(name="oraclePrice", default=None)
    next_funding_rate: float | None = msgspec.field(name="nextFundingRate", default=None)


class _Oracle(msgspec.Struct, frozen=True):
    oracle_price: float = msgspec.field(name="oraclePrice")
    effective_at: str | None = msgspec.field(name="effectiveAt", default=None)


class _Markets(msgspec.Struct, frozen=True):
    """`v4_markets` contents: `markets` (subscribed), `trading` and/or `oraclePrices` (updates)."""

    markets: dict[str, _Market] | None = None
    trading: dict[str, _Market] | None = None
    oracle_prices: dict[str, _Oracle] | None = msgspec.field(name="oraclePrices", default=None)


_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=False)
_TRADES = msgspec.json.Decoder(_Trades, strict=False)
_TRADES_BATCH = msgspec.json.Decoder(list[_Trades], strict=False)
_MARKETS = msgspec.json.Decoder(_Markets, strict=False)
_MARKETS_BATCH = msgspec.json.Decoder(list[_Markets], strict=False)


class _MarketInfo(msgspec.Struct, frozen=True):
    ticker: str
    status: str = "ACTIVE"
    market_type: str = msgspec.field(name="marketType", default="")


class _PerpetualMarkets(msgspec.Struct, frozen=True):
    """GET /v4/perpetualMarkets: {"markets": {ticker: PerpetualMarket}}."""

    markets: dict[str, _MarketInfo]


_PERPETUAL_MARKETS = msgspec.json.Decoder(_PerpetualMarkets, strict=False)


def instrument_requests() -> list[RestRequest]:
    """Return the perpetualMarkets request."""
    return [RestRequest(tag="instruments", path="/v4/perpetualMarkets")]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse /v4/perpetualMarkets: every market is linear, USDC-settled, one contract = one base unit."""
    body = _wire.decode(_PERPETUAL_MARKETS, payload, "dYdX perpetualMarkets")
    return _wire.each_entry(VENUE, body.markets.items(), _instrument)


def _instrument(item: tuple[str, _MarketInfo]) -> Instrument | None:
    ticker, info = item
    base, sep, quote = (info.ticker or ticker).partition("-")
    if not sep or not base:
        return None
    return _wire.make_instrument(
        venue=VENUE,
        symbol=info.ticker or ticker,
        base=base,
        quote=quote or "USD",
        settle="USDC",
        contract_type=ContractType.LINEAR,
        contract_size=1.0,
        category=info.market_type,
        active=info.status == "ACTIVE",
    )


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return connections of ≤ 32 `v4_trades` subscriptions each (one per market); the first also `v4_markets`."""
    markets = Channel.OPEN_INTEREST in channels or Channel.MARK_PRICE in channels
    tickers = list(dict.fromkeys(i.symbol for i in instruments)) if Channel.LIQUIDATIONS in channels else []
    per = SPEC.max_streams_per_connection
    groups = [tickers[k : k + per] for k in range(0, len(tickers), per)] or ([[]] if markets else [])
    out = []
    for n, group in enumerate(groups):
        messages = [_MARKETS_SUBSCRIBE] if markets and n == 0 else []
        messages.extend(_wire.json_bytes({"type": "subscribe", "channel": "v4_trades", "id": t}) for t in group)
        out.append(WsConnection(name=f"{VENUE}-{n}", url=ws_url, subscribe=tuple(messages)))
    return out


_MARKETS_SUBSCRIBE = _wire.json_bytes({"type": "subscribe", "channel": "v4_markets"})


def heartbeat(ts_ns: int) -> bytes | None:
    """dYdX needs no client ping."""
    return None


def reply_to(frame: bytes) -> bytes | None:
    """dYdX pings at the websocket protocol level only."""
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one indexer frame; `[]` for connected/unsubscribed and other channels' acks."""
    env = _wire.decode(_ENVELOPE, frame, "dYdX frame")
    if env.type == "error":  # {"type":"error","message":"Invalid subscribe message: …","connection_id":…}
        request = "/".join(x for x in (env.channel, env.id) if x)
        raise SubscribeRejected(VENUE, env.message or bytes(frame[:200]).decode(errors="replace"), request or None)
    if env.type in ("connected", "unsubscribed"):
        return []
    if env.type not in ("subscribed", "channel_data", "channel_batch_data"):
        raise UnknownMessage(f"unknown dYdX frame type {env.type!r}")
    if not env.contents:
        raise ParseError(f"malformed dYdX {env.type} frame: no contents")
    batched = env.type == "channel_batch_data"
    if env.channel == "v4_trades":
        if env.id is None:
            raise ParseError("malformed dYdX v4_trades frame: no market id")
        inst = _wire.instrument(instruments, VENUE, env.id)
        groups = (
            _wire.decode(_TRADES_BATCH, env.contents, "dYdX v4_trades batch")
            if batched
            else [_wire.decode(_TRADES, env.contents, "dYdX v4_trades")]
        )
        return [_liquidation(t, inst, ts_recv) for g in groups for t in g.trades if t.type == "LIQUIDATED"]
    if env.channel == "v4_markets":
        updates = (
            _wire.decode(_MARKETS_BATCH, env.contents, "dYdX v4_markets batch")
            if batched
            else [_wire.decode(_MARKETS, env.contents, "dYdX v4_markets")]
        )
        return _markets(updates, instruments, ts_recv)
    raise UnknownMessage(f"dYdX channel {env.channel!r} is not handled")


def _liquidation(t: _Trade, inst: Instrument, ts_recv: int) -> Liquidation:
    # `side` is the taker side, and the taker is the liquidated subaccount's order: SELL closes a long (§12).
    if t.side == "SELL":
        side = PositionSide.LONG
    elif t.side == "BUY":
        side = PositionSide.SHORT
    else:
        raise ParseError(f"malformed dYdX trade: side must be BUY or SELL, was {t.side!r}")
    _wire.positive(t.size, "size", "dYdX trade")
    _wire.positive(t.price, "price", "dYdX trade")
    try:
        ts_event = iso_to_ns(t.created_at)
    except ValueError:
        raise ParseError(f"malformed dYdX trade: createdAt {t.created_at!r} is not ISO-8601") from None
    base, usd = _wire.base_and_usd(inst, t.size, t.price)
    return _wire.liquidation(
        inst,
        ts_event=ts_event,
        ts_recv=ts_recv,
        position_side=side,
        venue_side=t.side,
        price=t.price,
        price_kind=PriceKind.FILL,
        quantity=base,
        contracts=t.size,
        notional_usd=usd,
        venue_event_id=t.id,
    )


def _markets(updates: list[_Markets], instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    items: list[tuple[str, _Market | _Oracle]] = []
    for update in updates:
        items.extend({**(update.markets or {}), **(update.trading or {})}.items())
        items.extend((update.oracle_prices or {}).items())
    return _wire.keep_known(VENUE, items, lambda item: _market(*item, instruments, ts_recv))


def _market(ticker: str, m: _Market | _Oracle, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    inst = _wire.instrument(instruments, VENUE, ticker)
    if isinstance(m, _Oracle):
        try:
            ts = iso_to_ns(m.effective_at) if m.effective_at else ts_recv
        except ValueError:
            raise ParseError(f"malformed dYdX oraclePrices: effectiveAt {m.effective_at!r}") from None
        return [_mark(inst, ts, ts_recv, _wire.positive(m.oracle_price, "oraclePrice", "dYdX oraclePrices"), None)]
    out: list[Event] = []
    price = m.oracle_price if m.oracle_price and m.oracle_price > 0 else None
    if m.open_interest is not None and m.open_interest >= 0:
        out.append(
            _wire.open_interest(
                inst,
                raw_value=m.open_interest,
                raw_unit=OpenInterestUnit.BASE,  # one-sided: the indexer sums LONG position sizes
                two_sided=False,
                ts_event=ts_recv,  # `trading` updates carry no timestamp
                ts_recv=ts_recv,
                origin=Origin.STREAM,
                price=price,
            )
        )
    if price is not None or m.next_funding_rate is not None:
        out.append(_mark(inst, ts_recv, ts_recv, price, m.next_funding_rate))
    return out


def _mark(inst: Instrument, ts_event: int, ts_recv: int, oracle: float | None, funding: float | None) -> MarkPrice:
    # dYdX v4 marks positions (margin, liquidations) at the oracle price, so it is the mark price.
    return _wire.mark_price(
        inst,
        ts_event=ts_event,
        ts_recv=ts_recv,
        mark_price=oracle,
        index_price=oracle,
        funding_rate=funding,
        funding_interval_s=FUNDING_INTERVAL_S if funding is not None else None,
    )


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return nothing: open interest streams on `v4_markets`."""
    return []


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """dYdX polls nothing."""
    raise UnknownMessage(f"dYdX poll tag {tag!r} is not handled")
