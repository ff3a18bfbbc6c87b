"""Recorded files into a store: instruments first, then frames in batches through `safe_parse`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from liqwatch.model import Event, InstrumentIndex
from liqwatch.model.time import now_ns
from liqwatch.parsing import SKIP_UNKNOWN_INSTRUMENT, FrameCounters
from liqwatch.replay import is_instruments_file, load_instruments, replay_events, resolve_venue
from liqwatch.storage.base import EventStore

BATCH = 5000


def replay_files(store: EventStore, files: list[Path], venue: str | None = None) -> list[dict[str, Any]]:
    """Replay recordings into the store; return one report per file (frames, events, stored, skipped)."""
    ordered = sorted(files, key=lambda p: not is_instruments_file(p))  # specs before the frames that need them
    index = InstrumentIndex()
    loaded: set[str] = set()
    reports = []
    for path in ordered:
        module = resolve_venue(path, venue)
        name = module.SPEC.name
        if name not in loaded:
            index.update(store.load_instruments(name))
            loaded.add(name)
        counters = FrameCounters()
        report: dict[str, Any] = {"file": str(path), "venue": name}
        if is_instruments_file(path):
            instruments = load_instruments(path, module, counters)
            store.write_instruments(instruments, now_ns())
            index.update(instruments)
            report.update(frames=counters.frames, events=0, stored={"instruments": len(instruments)}, duplicates=0)
        else:
            stored: Counter[str] = Counter()
            batch: list[Event] = []
            for _, events in replay_events(path, module, index, counters):
                batch.extend(events)
                if len(batch) >= BATCH:
                    stored.update(store.write(batch))
                    batch.clear()
            if batch:
                stored.update(store.write(batch))
            report.update(
                frames=counters.frames,
                events=counters.events,
                stored=dict(stored),
                duplicates=counters.events - sum(stored.values()),
            )
        report["skipped"] = dict(counters.skipped)
        if counters.skipped.get(SKIP_UNKNOWN_INSTRUMENT):
            report["hints"] = [
                f"{name}: {counters.skipped[SKIP_UNKNOWN_INSTRUMENT]} frame(s) name symbols with no contract spec; "
                f"import specs with 'liqwatch instruments import {name} FILE' or add the venue's *.rest_instruments.jsonl "
                "to the replay, then replay again (events already stored are not duplicated)"
            ]
        reports.append(report)
    return reports
