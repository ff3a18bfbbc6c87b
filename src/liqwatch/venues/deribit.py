"""Deribit (JSON-RPC v2): liquidations flagged on trades, OI/mark/funding from tickers, 1m chart candles.

Docs: https://docs.deribit.com/ (docs/venues.md §6). There is no liquidation channel: a trade
with `liquidation` "T" (taker liquidated), "M" (maker liquidated) or "MT" (both) is one. Public
clients must use the `.100ms` channels: `raw` needs an authenticated connection since 2022-01
(error 13778), so the 100 ms aggregation may merge trades, but the flag and amounts are kept.
`venue_side` is "<flag>:<direction>" (e.g. "M:buy"), both verbatim, so the mapping can be audited.
`contracts` is Deribit's raw `amount` (USD for inverse, base coin for linear USDC).
Options and combos are out of scope: their frames raise UnknownMessage.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from liqwatch.errors import (
    ParseError,
    SubscribeRejected,
    UnknownInstrument,
    UnknownInstruments,
    UnknownMessage,
)
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
from liqwatch.model.time import NS_PER_MS, ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._deribit_instruments import instrument_requests as instrument_requests
from liqwatch.venues._deribit_instruments import parse_instruments as parse_instruments
from liqwatch.venues._deribit_wire import (
    _CHART,
    _ENVELOPE,
    _RPC_ERROR,
    _SUMMARIES,
    _TICKER,
    _TRADES,
    _TRADES_ENVELOPE,
    _Chart,
    _Ticker,
    _Trade,
)
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="deribit",
    title="Deribit",
    recorded_prefixes=("DERIBIT",),
    ws_url="wss://www.deribit.com/ws/api/v2",
    rest_url="https://www.deribit.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=True,
    coverage_note=(
        "complete: every trade flagged as a liquidation (futures and perps; options excluded), "
        "from public 100 ms trade channels (raw needs auth)"
    ),
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=None,  # public/set_heartbeat on connect; the server's test_request is answered
    stale_after_s=90.0,
    max_streams_per_connection=100,  # channels per public/subscribe message
    docs_url="https://docs.deribit.com/#trades-kind-currency-interval",
)
VENUE = SPEC.name
_HEARTBEAT_S = 30
_FUNDING_INTERVAL_S = 8 * 3600  # funding_8h is the rate per 8 hours
_TRADES_PREFIX = b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.'


def ws_connections(
    instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str
) -> list[WsConnection]:
    """Return one connection: set_heartbeat, then trades by kind+currency, tickers and 1m charts per instrument."""
    subs: list[str] = []
    if Channel.LIQUIDATIONS in channels:
        subs.extend(
            f"trades.future.{c}.100ms" for c in sorted({i.settle for i in instruments} or {"BTC", "ETH"})
        )
    if channels & {Channel.OPEN_INTEREST, Channel.MARK_PRICE}:
        subs.extend(f"ticker.{i.symbol}.100ms" for i in instruments)
    if Channel.CANDLES in channels:
        subs.extend(f"chart.trades.{i.symbol}.1" for i in instruments)
    per = SPEC.max_streams_per_connection
    messages = [_rpc(1, "public/set_heartbeat", {"interval": _HEARTBEAT_S})]
    messages.extend(
        _rpc(n + 2, "public/subscribe", {"channels": subs[k : k + per]})
        for n, k in enumerate(range(0, len(subs), per))
    )
    return [WsConnection(name=f"{VENUE}-0", url=ws_url, subscribe=tuple(messages))]


def _rpc(request_id: int, method: str, params: dict[str, object]) -> bytes:
    return _wire.json_bytes({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


def heartbeat(ts_ns: int) -> bytes | None:
    """Deribit's server drives the heartbeat (see `reply_to`)."""
    return None


def reply_to(frame: bytes) -> bytes | None:
    """Answer the server's heartbeat test_request with public/test, or the connection is closed."""
    if b"test_request" not in frame:
        return None
    try:
        msg = _ENVELOPE.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None
    if msg.method == "heartbeat" and msg.params is not None and msg.params.type == "test_request":
        return _rpc(0, "public/test", {})
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one JSON-RPC frame; acks, heartbeats and test replies → []."""
    if not frame.startswith(_TRADES_PREFIX):  # as Deribit writes it (a failed typed decode costs ~10k instructions)
        return _parse_general(frame, instruments, ts_recv)
    try:  # the hot path: a push of trades in one decode; any other frame takes the general path
        msg = _TRADES_ENVELOPE.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_general(frame, instruments, ts_recv)
    params = msg.params
    if not msg.error and params.channel.startswith("trades."):
        out = _liquidations_flat(params.data, instruments, ts_recv)
        if out is not None:
            return out
    return _parse_general(frame, instruments, ts_recv)


def _parse_general(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse any frame: every channel, response and error."""
    msg = _wire.decode(_ENVELOPE, frame, "Deribit frame")
    if msg.error:
        if msg.id is not None:  # the JSON-RPC answer to one of our requests (public/subscribe): {"id":n,"error":{…}}
            raise SubscribeRejected(VENUE, _error_text(msg.error), f"id {msg.id}")
        raise ParseError(f"Deribit returned an error: {bytes(msg.error).decode(errors='replace')[:200]}")
    if msg.method == "heartbeat":
        return []
    if msg.method == "subscription" and msg.params is not None and msg.params.channel:
        return _subscription(msg.params.channel, msg.params.data, instruments, ts_recv)
    if msg.result:
        if bytes(msg.result).lstrip().startswith(b"[{"):  # get_book_summary_by_* (REST, or a WS call)
            summaries = _wire.decode(_SUMMARIES, msg.result, "Deribit book summary")
            return _tickers(summaries, instruments, ts_recv, Origin.POLL)
        return []  # subscribe / set_heartbeat / test acks
    raise UnknownMessage(f"unknown Deribit frame: {frame[:120]!r}")


def _error_text(error: msgspec.Raw) -> str:
    """Return "code: message (reason)" of a JSON-RPC error object, or its raw text."""
    try:
        err = _RPC_ERROR.decode(error)
    except msgspec.DecodeError:
        return bytes(error).decode(errors="replace")[:300]
    reason = err.data.get("reason") if isinstance(err.data, dict) else None
    return f"{err.code}: {err.message}" + (f" ({reason})" if reason else "")


def _subscription(channel: str, data: msgspec.Raw, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    if channel.startswith("trades."):
        trades = _wire.decode(_TRADES, data, f"Deribit {channel}")
        return _wire.keep_known(VENUE, [t for t in trades if t.liquidation], lambda t: _liquidations(t, instruments, ts_recv))
    if channel.startswith("ticker."):
        return _tickers(
            [_wire.decode(_TICKER, data, f"Deribit {channel}")], instruments, ts_recv, Origin.STREAM
        )
    if channel.startswith("chart.trades.") and channel.endswith(".1"):
        inst = _lookup(instruments, channel[len("chart.trades.") : -len(".1")])
        return [_candle(_wire.decode(_CHART, data, f"Deribit {channel}"), inst, ts_recv)]
    raise UnknownMessage(f"Deribit channel {channel!r} is not handled")


def _lookup(instruments: InstrumentIndex, name: str) -> Instrument:
    """Return a future's instrument; options and combos (BTC-30JUL21-2800-C, BTC-FS-…) are out of scope."""
    inst = instruments.get(VENUE, name)
    if inst is None and name.count("-") >= 2:
        raise UnknownMessage(f"Deribit {name}: options and combos are out of scope")
    if inst is None:
        raise UnknownInstrument(VENUE, name)
    return inst


# `liquidation` says which side of the trade was liquidated; `direction` is the taker's side
# (docs; docs/venues.md §6, §13.1). T: taker sell = long. M: maker is opposite, so
# taker buy = maker sold = long. MT: both sides, one long and one short.
_SIDES: dict[tuple[str, str], tuple[PositionSide, ...]] = {
    ("T", "sell"): (PositionSide.LONG,),
    ("T", "buy"): (PositionSide.SHORT,),
    ("M", "buy"): (PositionSide.LONG,),
    ("M", "sell"): (PositionSide.SHORT,),
    ("MT", "buy"): (PositionSide.SHORT, PositionSide.LONG),
    ("MT", "sell"): (PositionSide.LONG, PositionSide.SHORT),
}


_SIDES_BY_TEXT = {f"{flag}:{direction}": sides for (flag, direction), sides in _SIDES.items()}
_FILL, _INVERSE = PriceKind.FILL, ContractType.INVERSE
_INF = float("inf")


def _liquidations_flat(trades: list[_Trade], instruments: InstrumentIndex, ts_recv: int) -> list[Event] | None:
    """`_liquidations` of the flagged trades, flat, when none raises there; None sends the frame to the general path."""
    symbols = instruments.symbols(VENUE)
    out: list[Event] = []
    for t in trades:
        if not t.liquidation:
            continue  # most trades: not a liquidation
        venue_side = f"{t.liquidation}:{t.direction}"
        sides = _SIDES_BY_TEXT.get(venue_side)  # one colon in each key: the same pairs as _SIDES
        inst = symbols.get(t.instrument_name)
        price, amount = t.price, t.amount
        if sides is None or inst is None or not (0.0 < price < _INF and 0.0 < amount < _INF):
            return None
        if inst.contract_type is _INVERSE:
            base, usd = amount / price, amount
        else:
            base, usd = amount, amount * price
        for side in sides:
            out.append(
                Liquidation(
                    venue=inst.venue, symbol=inst.symbol, market=inst.market, coin=inst.base,
                    ts_event=t.timestamp * NS_PER_MS, ts_recv=ts_recv,
                    position_side=side, venue_side=venue_side, price=price, price_kind=_FILL,
                    quantity=base, contracts=amount, notional_usd=usd, contract_type=inst.contract_type,
                    venue_event_id=t.trade_id if len(sides) == 1 else f"{t.trade_id}:{side.value}",
                )
            )
    return out


def _liquidations(trade: _Trade, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    sides = _SIDES.get((trade.liquidation or "", trade.direction))
    if sides is None:
        raise ParseError(
            f"malformed Deribit trade: liquidation {trade.liquidation!r} / direction {trade.direction!r}"
        )
    inst = _lookup(instruments, trade.instrument_name)
    price = _wire.positive(trade.price, "price", "Deribit trade")
    amount = _wire.positive(trade.amount, "amount", "Deribit trade")
    if inst.contract_type is ContractType.INVERSE:
        base, usd = amount / price, amount
    else:
        base, usd = amount, amount * price
    return [
        _wire.liquidation(
            inst,
            ts_event=ms_to_ns(trade.timestamp),
            ts_recv=ts_recv,
            position_side=side,
            venue_side=f"{trade.liquidation}:{trade.direction}",
            price=price,
            price_kind=PriceKind.FILL,
            quantity=base,
            contracts=amount,
            notional_usd=usd,
            venue_event_id=trade.trade_id if len(sides) == 1 else f"{trade.trade_id}:{side.value}",
        )
        for side in sides
    ]


def _tickers(
    tickers: list[_Ticker], instruments: InstrumentIndex, ts_recv: int, origin: Origin
) -> list[Event]:
    """Return OI (one-sided) and mark/index/funding events; options are skipped, unknown futures counted."""
    out: list[Event] = []
    error: UnknownMessage | None = None
    unknown: list[str] = []
    for t in tickers:
        try:
            inst = _lookup(instruments, t.instrument_name)
        except UnknownMessage as exc:
            error = exc
            continue
        except UnknownInstrument as exc:
            unknown.append(exc.symbol)
            continue
        ts_event = ms_to_ns(t.timestamp or t.creation_timestamp or 0) or ts_recv
        mark = (
            _wire.positive(t.mark_price, "mark_price", "Deribit ticker") if t.mark_price is not None else None
        )
        inverse = inst.contract_type is ContractType.INVERSE
        if t.open_interest is not None and (mark or not inverse):  # inverse OI is USD: base needs the mark
            out.append(
                _wire.open_interest(
                    inst,
                    raw_value=t.open_interest,
                    raw_unit=OpenInterestUnit.USD if inverse else OpenInterestUnit.BASE,
                    two_sided=False,  # Deribit counts one side
                    ts_event=ts_event,
                    ts_recv=ts_recv,
                    origin=origin,
                    price=mark,
                )
            )
        out.append(
            _wire.mark_price(
                inst,
                ts_event=ts_event,
                ts_recv=ts_recv,
                mark_price=mark,
                index_price=t.index_price,
                funding_rate=t.funding_8h,
                funding_interval_s=_FUNDING_INTERVAL_S if t.funding_8h is not None else None,
            )
        )
    if unknown:
        raise UnknownInstruments(VENUE, unknown, out)
    if not out and error is not None:
        raise error
    return out


def _candle(bar: _Chart, inst: Instrument, ts_recv: int) -> Candle:
    return _wire.candle(
        inst,
        ts_event=ms_to_ns(bar.tick),
        ts_recv=ts_recv,
        interval_s=60,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        volume_usd=bar.cost if inst.quote_is_usd else None,
        closed=False,  # chart.trades pushes the running bar; the last push of a tick is final
    )


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return nothing: OI streams on the ticker channel."""
    return []


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse a get_book_summary_by_* response (tag `book_summary`) into OI and mark events."""
    if tag != "book_summary":
        raise UnknownMessage(f"Deribit poll tag {tag!r} is not handled")
    return parse_frame(payload, instruments, ts_recv)
