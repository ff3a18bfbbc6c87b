"""Recorded files into a store: instruments first, then frames in batches through `safe_parse`.

An event the store refuses (a time beyond int64) is kept as a dead letter with the reason (`store_batch`); the rest
of its batch is stored and the replay goes on.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from liqwatch.capture.playback import is_instruments_file, load_instruments, replay_events, resolve_venue
from liqwatch.feeds.parse import SKIP_UNKNOWN_INSTRUMENT, FrameCounters
from liqwatch.model import Event, InstrumentIndex
from liqwatch.model.time import now_ns
from liqwatch.storage.base import EventStore
from liqwatch.storage.dead_letters import DeadLetterSink, letter_for, write_isolating

BATCH = 5000


def store_batch(store: EventStore, events: list[Event], sink: DeadLetterSink | None = None) -> tuple[dict[str, int], int]:
    """Store events; those the store refuses become dead letters (source "replay"); return (new rows per table, dead letters).

    Raises:
        StorageError: the store itself failed (transient: disk full, a lost connection); nothing is dead-lettered.
    """
    stored: Counter[str] = Counter()
    bad = write_isolating(store.write, events, stored.update)
    if bad:
        (sink if sink is not None else DeadLetterSink(store)).record([letter_for(e, exc, "replay") for e, exc in bad])
    return dict(stored), len(bad)


def replay_files(store: EventStore, files: list[Path], venue: str | None = None) -> list[dict[str, Any]]:
    """Replay recordings into the store; return one report per file (frames, events, stored, skipped)."""
    ordered = sorted(files, key=lambda p: not is_instruments_file(p))  # specs before the frames that need them
    index = InstrumentIndex()
    loaded: set[str] = set()
    reports = []
    sink = DeadLetterSink(store)
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
            dead = 0
            for _, events in replay_events(path, module, index, counters):
                batch.extend(events)
                if len(batch) >= BATCH:
                    new, refused = store_batch(store, batch, sink)
                    stored.update(new)
                    dead += refused
                    batch.clear()
            if batch:
                new, refused = store_batch(store, batch, sink)
                stored.update(new)
                dead += refused
            report.update(
                frames=counters.frames,
                events=counters.events,
                stored=dict(stored),
                duplicates=counters.events - sum(stored.values()) - dead,
                dead_letters=dead,
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
