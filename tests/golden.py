"""Golden files for every recorded frame in tests/data/recorded: generate and compare.

Regenerate after a reviewed change with `python tests/golden.py` and read the diff in git.
Each `tests/golden/<FILE>.expected.jsonl` line is {"line": n, "events": [...]} or {"line": n, "skipped": reason}.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
EXTRA_INSTRUMENTS = ROOT / "tests" / "fixtures" / "instruments"


def recorded_dir() -> Path:
    """Return the recorded exchange frames carried in the repository (tests/data/recorded; see its README.md)."""
    return ROOT / "tests" / "data" / "recorded"


def venue_files(venue_name: str) -> list[Path]:
    """Return the recorded data files (not instruments) of one venue."""
    from liqwatch.venues import get_venue

    spec = get_venue(venue_name).SPEC
    out: list[Path] = []
    for prefix in spec.recorded_prefixes:
        out.extend(p for p in sorted(recorded_dir().glob(f"{prefix}.*.jsonl")) if ".rest_instruments." not in p.name)
    return out


@functools.cache
def instruments_for(venue_name: str):  # -> InstrumentIndex
    """Return the venue's instruments from its recorded REST responses plus tests/fixtures/instruments/<venue>.json."""
    from liqwatch.capture.playback import load_instruments
    from liqwatch.model import Instrument, InstrumentIndex
    from liqwatch.venues import get_venue

    venue = get_venue(venue_name)
    index = InstrumentIndex()
    for prefix in venue.SPEC.recorded_prefixes:
        path = recorded_dir() / f"{prefix}.rest_instruments.jsonl"
        if path.exists():
            index.update(load_instruments(path, venue))
    extra = EXTRA_INSTRUMENTS / f"{venue_name}.json"
    if extra.exists():
        index.update(msgspec.json.decode(extra.read_bytes(), type=list[Instrument]))
    return index


def render(venue_name: str, path: Path) -> list[dict[str, object]]:
    """Parse every frame of a recorded file; return one golden record per line."""
    from liqwatch.capture.format import read_recording
    from liqwatch.feeds.parse import FrameCounters
    from liqwatch.venues import get_venue

    venue = get_venue(venue_name)
    index = instruments_for(venue_name)
    out: list[dict[str, object]] = []
    from liqwatch.feeds.parse import safe_parse

    for rec in read_recording(path):
        counters = FrameCounters()
        if isinstance(rec, Exception):
            out.append({"line": None, "skipped": "malformed"})
            continue
        events = safe_parse(venue, rec.frame, index, rec.ts_recv or 0, counters)
        if counters.skipped and not events:
            out.append({"line": rec.line_no, "skipped": next(iter(counters.skipped))})
        else:
            record: dict[str, object] = {"line": rec.line_no, "events": json.loads(msgspec.json.encode(events))}
            if counters.partial:  # a multi-symbol frame: the known symbols' events, the unknown ones counted
                record["unknown_symbols"] = list(counters.unknown)
            out.append(record)
    return out


def golden_path(path: Path) -> Path:
    return GOLDEN / path.name.replace(".jsonl", ".expected.jsonl")


def regenerate(venues: list[str]) -> None:
    from liqwatch.venues import VENUES

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in venues or list(VENUES):
        for path in venue_files(name):
            lines = [json.dumps(r, sort_keys=True) for r in render(name, path)]
            golden_path(path).write_text("\n".join(lines) + "\n")
            print(f"wrote {golden_path(path).relative_to(ROOT)} ({len(lines)} lines)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    regenerate(sys.argv[1:])
