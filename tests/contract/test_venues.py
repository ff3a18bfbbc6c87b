"""The venue contract, for every registered venue and every recorded frame of it."""

from __future__ import annotations

import json
import math

import msgspec
import pytest

from golden import ROOT, golden_path, instruments_for, recorded_dir, render, venue_files
from liqwatch.errors import ParseError, UnknownInstrument, UnknownMessage
from liqwatch.model import Channel, ContractType, Liquidation, MarkPrice, OpenInterest, PositionSide
from liqwatch.venues import VENUES

CASES = [(name, path) for name in VENUES for path in venue_files(name)]


@pytest.mark.parametrize(("venue", "path"), CASES, ids=[f"{v}:{p.name}" for v, p in CASES])
def test_recorded_frames_match_golden(venue, path):
    expected_file = golden_path(path)
    assert expected_file.exists(), f"no golden file for {path.name}; run: python tests/golden.py {venue}"
    expected = [json.loads(line) for line in expected_file.read_text().splitlines() if line.strip()]
    assert render(venue, path) == expected


@pytest.mark.parametrize(("venue", "path"), CASES, ids=[f"{v}:{p.name}" for v, p in CASES])
def test_recorded_events_hold_invariants(venue, path):
    index = instruments_for(venue)
    for record in render(venue, path):
        for raw in record.get("events", []):
            if raw["type"] != "liquidation":
                continue
            event = msgspec.convert(raw, Liquidation)
            assert event.venue == venue
            assert event.price > 0 and event.quantity > 0 and event.notional_usd > 0
            assert event.position_side in (PositionSide.LONG, PositionSide.SHORT)
            assert index.get(venue, event.symbol) is not None
            # notional and base quantity agree at the stated price, for every contract type
            assert math.isclose(event.notional_usd, event.quantity * event.price, rel_tol=1e-9)


LIQUIDATION_VENUES = [v for v, m in VENUES.items() if Channel.LIQUIDATIONS in m.SPEC.channels]


def test_venues_without_a_liquidation_feed_say_so():
    for name, module in VENUES.items():
        if name not in LIQUIDATION_VENUES:
            assert "no public" in module.SPEC.coverage_note.lower(), name
    assert "hyperliquid" not in LIQUIDATION_VENUES and len(LIQUIDATION_VENUES) >= 10


@pytest.mark.parametrize("venue", LIQUIDATION_VENUES)
def test_every_liquidation_channel_has_recorded_frames_that_yield_events(venue):
    files = [p for p in venue_files(venue) if ".liquidations." in p.name]
    if not files:  # no recording exists: the venue's documented example stands in (tests/fixtures/<venue>/)
        files = sorted((ROOT / "tests" / "fixtures" / venue).glob("*liquidat*.jsonl"))
    assert files, f"no recorded liquidation file for {venue} under {recorded_dir()} nor tests/fixtures/{venue}/"
    kinds = {e["type"] for p in files for r in render(venue, p) for e in r.get("events", [])}
    assert "liquidation" in kinds


@pytest.mark.parametrize("venue", list(VENUES))
@pytest.mark.parametrize(
    "frame",
    [b"", b"{", b"[]", b"null", b"123", b'"text"', b"{}", b'{"data": 5}', b"\xff\xfe\x00", b'{"topic": null}'],
)
def test_garbage_raises_only_the_contract_errors(venue, frame):
    module = VENUES[venue]
    index = instruments_for(venue)
    try:
        events = module.parse_frame(frame, index, 1)
    except (ParseError, UnknownMessage, UnknownInstrument):
        return
    assert events == []


@pytest.mark.parametrize("venue", list(VENUES))
def test_spec_is_complete(venue):
    spec = VENUES[venue].SPEC
    assert spec.name == venue
    assert spec.ws_url.startswith("wss://") and spec.rest_url.startswith("https://")
    assert spec.coverage_note
    assert spec.recorded_prefixes


@pytest.mark.parametrize("venue", list(VENUES))
def test_instruments_parse_with_positive_contract_sizes(venue):
    index = instruments_for(venue)
    assert len(index) > 0
    for inst in index:
        assert inst.contract_size > 0, inst
        assert inst.base and inst.quote
        if inst.contract_type is ContractType.INVERSE:
            assert inst.quote_is_usd, inst


def test_event_types_round_trip_through_json():
    from factories import make_liquidation

    event = make_liquidation()
    decoded = msgspec.json.decode(msgspec.json.encode(event), type=Liquidation | OpenInterest | MarkPrice)
    assert decoded == event
