"""Event identity (liqwatch.model.identity): the fast liquidation key equals the general hash, and ids are stable."""

from __future__ import annotations

from tests.factories import make_liquidation, make_open_interest

from liqwatch.model import PositionSide
from liqwatch.model.identity import _hash, _liquidation_key, dedup_key, event_id


def test_the_fast_liquidation_key_is_the_general_hash_with_and_without_the_venues_id() -> None:
    with_id = make_liquidation(venue_event_id="abc-123")
    assert _liquidation_key(with_id) == _hash("liq", with_id.venue, "abc-123")
    without = make_liquidation(venue_event_id=None, contracts=0.125, price=64_321.5, position_side=PositionSide.SHORT)
    expected = _hash("liq", without.venue, without.symbol, without.ts_event, without.position_side, 0.125, 64_321.5)
    assert _liquidation_key(without) == expected
    assert event_id(without) == expected


def test_ids_are_the_same_for_equal_events_and_differ_otherwise() -> None:
    a, b = make_liquidation(venue_event_id=None), make_liquidation(venue_event_id=None)
    assert event_id(a) == event_id(b) and dedup_key(a) == dedup_key(b)
    c = make_liquidation(venue_event_id=None, price=a.price + 1)
    assert event_id(c) != event_id(a) and dedup_key(c) != dedup_key(a)
    oi = make_open_interest()
    assert event_id(oi) == dedup_key(oi) == _hash("oi", oi.venue, oi.symbol, oi.ts_event, oi.origin.value)
    assert -(2**63) <= event_id(oi) < 2**63  # fits a BIGINT column
