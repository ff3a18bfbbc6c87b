"""Run a backfill: per (venue, kind, symbol) job, page through the REST history into the store, resumably.

Progress lives in the store's `backfill_progress` table, one row per (venue, kind, symbol): the contiguous
range already covered and the segment in progress with its cursor, saved after every page (after the page's
events are written). A re-run resumes the segment in progress from its cursor, then fetches only the parts of
(since, until] the covered range lacks. Writes are idempotent on event ids, so an overlap stores nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from liqwatch.backfill import BACKFILL, KINDS, no_history_reason
from liqwatch.backfill._common import BackfillModule
from liqwatch.errors import LiqwatchError
from liqwatch.feeds.parse import in_range
from liqwatch.model import Event, Instrument, InstrumentIndex
from liqwatch.model.time import now_ns
from liqwatch.storage.duckdb_store import DuckDBStore
from liqwatch.transport.rest import RestClient
from liqwatch.venues import get_venue

logger = logging.getLogger(__name__)

BATCH = 5000
# Seconds between requests per venue, below each venue's public REST limit:
MIN_INTERVAL_S = {
    "okx": 0.1,  # liquidation-orders: 40 requests / 2 s per IP
    "htx": 0.05,  # public reference data: 240 requests / 3 s per IP
    "dydx": 0.1,  # indexer: 100 requests / 10 s per IP (conservative)
    "binance-usdm": 0.25,  # openInterestHist weight 0 but "1000 requests / 5 min per IP"
    "bybit": 0.1,  # 600 requests / 5 s per IP
}

_DDL = (
    "CREATE TABLE IF NOT EXISTS backfill_progress (venue VARCHAR, kind VARCHAR, symbol VARCHAR, "
    "covered_since BIGINT, covered_until BIGINT, seg_since BIGINT, seg_until BIGINT, cursor VARCHAR, "
    "updated_ns BIGINT, PRIMARY KEY (venue, kind, symbol))"
)


@dataclass
class JobState:
    """One job's persisted state."""

    covered: tuple[int, int] | None = None
    segment: tuple[int, int] | None = None
    cursor: str | None = None


@dataclass
class JobReport:
    """What one (venue, kind, symbol) job did."""

    venue: str
    kind: str
    symbol: str
    pages: int = 0
    events: int = 0
    stored: int = 0
    error: str = ""
    rejected: int = 0  # events a page gave that fail the range checks every parsed event passes (dropped, page kept)
    rejected_detail: str = ""  # why the first of them failed


@dataclass
class BackfillReport:
    """Every job's report, plus the (venue, kind) pairs with no history and why."""

    jobs: list[JobReport] = field(default_factory=list)
    unavailable: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether no job failed."""
        return not any(j.error for j in self.jobs)


class ProgressTable:
    """The `backfill_progress` table of a DuckDB store."""

    def __init__(self, store: DuckDBStore) -> None:
        self._store = store
        store.execute(_DDL)

    def load(self, venue: str, kind: str, symbol: str) -> JobState:
        """Return a job's state (empty when never run)."""
        rows = self._store.execute(
            "SELECT covered_since, covered_until, seg_since, seg_until, cursor FROM backfill_progress "
            "WHERE venue = ? AND kind = ? AND symbol = ?",
            [venue, kind, symbol],
        )
        if not rows:
            return JobState()
        cs, cu, ss, su, cursor = rows[0]
        return JobState(
            covered=(cs, cu) if cs is not None else None,
            segment=(ss, su) if ss is not None else None,
            cursor=cursor,
        )

    def save(self, venue: str, kind: str, symbol: str, p: JobState) -> None:
        """Persist a job's state."""
        cs, cu = p.covered or (None, None)
        ss, su = p.segment or (None, None)
        self._store.execute(
            "INSERT OR REPLACE INTO backfill_progress VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [venue, kind, symbol, cs, cu, ss, su, p.cursor, now_ns()],
        )


def gaps(since: int, until: int, covered: tuple[int, int] | None) -> list[tuple[int, int]]:
    """Return the parts of (since, until] outside `covered`."""
    if covered is None:
        return [(since, until)] if since < until else []
    lo, hi = covered
    out = []
    if since < min(until, lo):
        out.append((since, min(until, lo)))
    if max(since, hi) < until:
        out.append((max(since, hi), until))
    return out


def merge(covered: tuple[int, int] | None, done: tuple[int, int]) -> tuple[int, int]:
    """Return the covered range after `done` completes (the union when they touch, else `done`)."""
    if covered is None or done[1] < covered[0] or done[0] > covered[1]:
        return done
    return min(covered[0], done[0]), max(covered[1], done[1])


class BackfillRunner:
    """Backfill the selected venues, kinds and coins over (since, until] into a DuckDB store."""

    def __init__(
        self,
        store: DuckDBStore,
        *,
        since_ns: int,
        until_ns: int,
        venues: Sequence[str] | None = None,
        kinds: Sequence[str] = KINDS,
        coins: Sequence[str] | None = None,
        rest_urls: dict[str, str] | None = None,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        show_progress: bool | None = None,
    ) -> None:
        self.store = store
        self.since_ns = since_ns
        self.until_ns = until_ns
        self.venues = list(venues) if venues else list(BACKFILL) + [v for v in _all_venues() if v not in BACKFILL]
        for name in self.venues:
            get_venue(name)  # raises ConfigError for an unknown name
        self.kinds = list(kinds)
        self.coins = {c.upper() for c in coins} if coins else None
        self.rest_urls = rest_urls or {}
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.show_progress = sys.stdout.isatty() if show_progress is None else show_progress
        self.progress_table = ProgressTable(store)
        self.index = InstrumentIndex()

    async def run(self) -> BackfillReport:
        """Run every (venue, kind) that has history, venues concurrently; return the report."""
        report = BackfillReport()
        plan: list[tuple[str, list[str]]] = []
        for venue in self.venues:
            kinds = []
            for kind in self.kinds:
                reason = no_history_reason(venue, kind)
                if reason is None:
                    kinds.append(kind)
                else:
                    report.unavailable.append((venue, kind, reason))
            if kinds:
                plan.append((venue, kinds))
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), disable=not self.show_progress, transient=False,
        ) as bar:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_connect=10)) as session:
                results = await asyncio.gather(*(self._venue(session, venue, kinds, bar) for venue, kinds in plan))
        for jobs in results:
            report.jobs.extend(jobs)
        return report

    async def _venue(self, session: aiohttp.ClientSession, venue: str, kinds: list[str], bar: Progress) -> list[JobReport]:
        module = BACKFILL[venue]
        spec = get_venue(venue).SPEC
        client = RestClient(
            session, self.rest_urls.get(venue) or spec.rest_url, venue,
            min_interval_s=MIN_INTERVAL_S.get(venue, 0.2), max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s,
        )
        try:
            instruments = await self._instruments(client, venue)
        except LiqwatchError as exc:
            return [JobReport(venue, kind, "*", error=f"instruments: {exc}") for kind in kinds]
        out = []
        for kind in kinds:
            task = bar.add_task(f"{venue} {kind}", total=len(instruments), info="")
            for inst in instruments:
                job = JobReport(venue, kind, inst.symbol)
                try:
                    await self._job(client, module, kind, inst, job, bar, task)
                except LiqwatchError as exc:
                    job.error = str(exc)
                    logger.warning("backfill %s %s %s stopped: %s", venue, kind, inst.symbol, exc)
                out.append(job)
                bar.advance(task)
        return out

    async def _instruments(self, client: RestClient, venue: str) -> list[Instrument]:
        found = self.store.load_instruments(venue)
        if not found:
            module = get_venue(venue)
            for request in module.instrument_requests():
                found.extend(module.parse_instruments(await client.get(request)))
            self.store.write_instruments(found, now_ns())
        self.index.update(found)
        return sorted(
            (i for i in found if i.active and (self.coins is None or i.coin in self.coins)), key=lambda i: i.symbol
        )

    def _window(self, module: BackfillModule, kind: str) -> tuple[int, int]:
        limit = module.HISTORY_NS.get(kind)
        since = max(self.since_ns, now_ns() - limit) if limit else self.since_ns
        return since, self.until_ns

    async def _job(
        self, client: RestClient, module: BackfillModule, kind: str, inst: Instrument, job: JobReport, bar: Progress, task: Any
    ) -> None:
        venue, symbol = module.VENUE, inst.symbol
        since, until = self._window(module, kind)
        table = self.progress_table
        while True:
            state = table.load(venue, kind, symbol)
            if state.segment is None:
                todo = gaps(since, until, state.covered)
                if not todo:
                    return
                state.segment, state.cursor = todo[0], None
                table.save(venue, kind, symbol, state)
            seg_since, seg_until = state.segment
            cursor = state.cursor
            while True:
                requests = module.backfill_requests(kind, inst, seg_since, seg_until, cursor)
                if not requests:
                    break
                batch: list[Event] = []
                next_cursor: str | None = None
                for request in requests:
                    payload = await client.get(request)
                    events, next_cursor = module.parse_backfill(request.tag, payload, self.index, now_ns())
                    events, rejected = in_range(events, venue)
                    if rejected:
                        if not job.rejected:
                            job.rejected_detail = rejected[0][:300]
                            logger.warning("backfill %s %s %s: skipped an event out of range: %s", venue, kind, symbol, rejected[0][:300])
                        job.rejected += len(rejected)
                    batch.extend(e for e in events if getattr(e, "symbol", None) == symbol and seg_since < e.ts_event <= seg_until)
                    job.pages += 1
                job.events += len(batch)
                for k in range(0, len(batch), BATCH):
                    job.stored += sum(self.store.write(batch[k : k + BATCH]).values())
                state.cursor = next_cursor
                table.save(venue, kind, symbol, state)  # after the write: a crash re-fetches at most one page
                bar.update(task, info=f"{symbol} {job.pages} pages, {job.events} events")
                if next_cursor is None:
                    break
                cursor = next_cursor
            state.covered, state.segment, state.cursor = merge(state.covered, state.segment), None, None
            table.save(venue, kind, symbol, state)


def _all_venues() -> list[str]:
    from liqwatch.venues import VENUES

    return list(VENUES)
