"""Shared benchmark plumbing: timing, the result row, machine description, table rendering.

A benchmark module (e.g. `bench/parse.py`) exposes `CASES: list[Case]`; `bench/run.py` lists the modules in
`SUITES` and runs every case. Add a venue, an end-to-end or a store-query benchmark by adding a case to an
existing module or a new module to `SUITES`. Every case names its kind (a key of `KINDS`): the results render as
one table per kind, each with only the columns its rows fill, and the machine and date on top. A run's rows are
saved as JSON (`Results`), so the Markdown can be rendered again without measuring anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Kind:
    """A kind of case: the cases of one kind share a table, whose columns are the ones that apply to them."""

    key: str
    name: str  # short name: the table's heading, and the heading of the kind's sanity checks and notes
    unit: str  # the unit of the rate columns, in the heading
    what: str  # one line under the heading: what is measured, against what
    items: str  # header of the item-count column ("frames", "rows", ...)
    rate: str | None = "liqwatch"  # header of liqwatch's rate column; None: the kind has no rate (memory)


# In the order of the data flow: receive/parse, store, serve, whole process.
KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("parse-anchored", "Parse vs cryptofeed and ccxt.pro", "frames/s",
             "The same liquidation frames through liqwatch and through each library's own handler, rounds "
             "interleaved; ratio = liqwatch ÷ library.", "frames"),
        Kind("parse-recorded", "Recorded frames parse, per venue", "frames/s",
             "Every venue's recorded frames, cycled, through liqwatch's parse guard.", "frames"),
        Kind("callgrind", "Parse cost in CPU instructions (callgrind)", "frames per 10^9 instructions",
             "Instructions per frame under valgrind, immune to the VM's speed (higher is better); "
             "ratio = liqwatch ÷ library.", "frames counted"),
        Kind("store-write", "Store writes", "rows/s",
             "DuckDB batch insert into a fresh file, dedup and rollups included.", "rows"),
        Kind("store-stats", "Store queries: 24h stats", "window rows/s",
             "Everything `stats --json` returns for 24h, against a raw scan of the window's totals only and a "
             "full-table scan; ratio = liqwatch ÷ scan.", "window rows"),
        Kind("store-series", "Store queries: 24h per-minute series", "bars/s",
             "24h of 1-minute bars of every coin from the minute rollup, against the same bars by a raw-table "
             "scan; ratio = liqwatch ÷ scan.", "bars"),
        Kind("postgres", "PostgreSQL", "window rows/s",
             "The 24h stats query on PostgreSQL, against the same query on embedded DuckDB; "
             "ratio = PostgreSQL ÷ DuckDB.", "window rows", "PostgreSQL"),
        Kind("scale-out", "Scale-out (NATS JetStream)", "events/s",
             "Events published to JetStream and stored in PostgreSQL by `liqwatch ingest`, against the same "
             "events written to embedded DuckDB; ratio = JetStream ÷ DuckDB.", "events", "JetStream"),
        Kind("e2e", "End to end on loopback", "frames stored/s",
             "A local exchange process → websocket → parse → bus → DuckDB and the dashboard's live stream, "
             "at a fixed offered rate; latencies in the checks and notes.", "frames sent", "stored"),
        Kind("web", "Web latency", "frames/s",
             "Frames → the dashboard in a real browser at a fixed offered rate; latency in the checks.", "frames"),
        Kind("heatmap", "Heatmap", "bars/s",
             "The 30-day 1-minute liquidation-level heatmap of one coin, from the store.", "bars"),
        Kind("memory", "Memory (RSS)", "MB",
             "Resident memory of a real `liqwatch up` with 12 venues over one simulated hour.", "events stored",
             None),
    )
}  # fmt: skip
OTHER = Kind("other", "Other cases", "the unit of each row", "Cases of no known kind.", "items")


@dataclass
class Row:
    """One measured case: liqwatch's rate and the anchors' rates on the same input."""

    case: str
    n: int  # items per repetition
    unit: str  # "frames/s", "rows/s", ...
    liqwatch: float  # items per second, best of N
    anchors: dict[str, float | None] = field(default_factory=dict)  # name -> items/s (None: not available)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (name, passed, detail)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # further columns of the row's table: header -> cell
    kind: str = ""  # a key of KINDS; bench/run.py sets it from the Case

    def ratio(self, anchor: str) -> float | None:
        rate = self.anchors.get(anchor)
        return self.liqwatch / rate if rate and not math.isnan(self.liqwatch) else None

    def to_json(self) -> dict[str, object]:
        row = asdict(self)
        row["liqwatch"] = None if math.isnan(self.liqwatch) else self.liqwatch  # JSON has no NaN
        row["checks"] = [{"name": name, "ok": ok, "detail": detail} for name, ok, detail in self.checks]
        return row

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Row:
        return cls(
            case=d["case"],
            n=d["n"],
            unit=d["unit"],
            liqwatch=float("nan") if d["liqwatch"] is None else d["liqwatch"],
            anchors=dict(d.get("anchors", {})),
            checks=[(c["name"], bool(c["ok"]), c["detail"]) for c in d.get("checks", [])],
            notes=list(d.get("notes", [])),
            extra=dict(d.get("extra", {})),
            kind=d.get("kind", ""),
        )


@dataclass
class Case:
    """A named benchmark of one kind (a key of KINDS): `run(quick)` returns its Row."""

    name: str
    run: Callable[[bool], Row]
    kind: str


def best_rate(loop: Callable[[], object], n: int, reps: int) -> float:
    """Run `loop` (which processes `n` items) `reps` times with GC disabled; return the best items/s."""
    best = float("inf")
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(reps):
            t0 = time.perf_counter()
            loop()
            best = min(best, time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
        gc.collect()
    return n / best


def best_ms(fn: Callable[[], object], reps: int) -> float:
    """Best of `reps` timed calls of `fn` in ms, after one untimed call (warms the buffer cache, prepared statements)."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000.0


def best_rate_async(loop: Callable[[], Awaitable[object]], n: int, reps: int) -> float:
    """`best_rate` for a coroutine loop: one event loop for all repetitions, timing inside it."""

    async def main() -> float:
        best = float("inf")
        gc.collect()
        gc.disable()
        try:
            for _ in range(reps):
                t0 = time.perf_counter()
                await loop()
                best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
            gc.collect()
        return n / best

    return asyncio.run(main())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _ram() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if dirty else "")


def machine(libraries: tuple[str, ...], started: dt.datetime | None = None) -> dict[str, str]:
    """Describe where and when the numbers were measured (`started`: when the run began, UTC)."""
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    now = dt.datetime.now(dt.UTC)
    if started is None or started.strftime("%Y-%m-%d %H:%M") == now.strftime("%Y-%m-%d %H:%M"):
        date = now.strftime("%Y-%m-%d %H:%M UTC")
    elif started.date() == now.date():
        date = f"{started:%Y-%m-%d %H:%M}–{now:%H:%M} UTC"
    else:
        date = f"{started:%Y-%m-%d %H:%M} – {now:%Y-%m-%d %H:%M} UTC"
    return {
        "date": date,
        "commit": _commit(),
        "cpu": _cpu_model(),
        "cores": nproc,
        "ram": _ram(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": ", ".join(f"{d} {_version(d) or 'not installed'}" for d in libraries),
    }


MISSING = "–"  # a cell that does not apply to this row (the notes say why)


def fmt_rate(rate: float | None) -> str:
    if rate is None or math.isnan(rate):
        return MISSING
    return f"{rate / 1e6:.2f} M" if rate >= 1e6 else f"{rate / 1e3:.0f} k"


def fmt_ratio(r: float | None) -> str:
    return MISSING if r is None else f"{r:.2f}x"


@dataclass
class Results:
    """One run: where and when, how, and every row. Saved as JSON so the Markdown can be rendered again."""

    machine: dict[str, str]
    rows: list[Row]
    command: str  # how the numbers were made
    note: str = ""  # one paragraph under the machine block (repetitions, noise)
    markdown: str = "RESULTS.md"  # the Markdown file's name, beside the JSON
    title: str = "liqwatch benchmark results"

    def to_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "note": self.note,
            "markdown": self.markdown,
            "title": self.title,
            "machine": self.machine,
            "rows": [r.to_json() for r in self.rows],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Results:
        return cls(
            machine=dict(d["machine"]),
            rows=[Row.from_json(r) for r in d["rows"]],
            command=d["command"],
            note=d.get("note", ""),
            markdown=d.get("markdown", "RESULTS.md"),
            title=d.get("title", "liqwatch benchmark results"),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Results:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def groups(rows: list[Row]) -> list[tuple[Kind, list[Row]]]:
    """The rows by kind, kinds in KINDS order (rows of no known kind last), rows in run order."""
    by_kind: dict[str, list[Row]] = {}
    for row in rows:
        by_kind.setdefault(row.kind if row.kind in KINDS else OTHER.key, []).append(row)
    return [(KINDS.get(key, OTHER), by_kind[key]) for key in [*KINDS, OTHER.key] if key in by_kind]


def table(kind: Kind, rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of one kind's table: case, items, liqwatch's rate, each anchor's rate and ratio, the rows'
    extra columns. A column with no value in any row is left out; a missing cell is `MISSING`."""
    anchors: list[str] = []
    extras: list[str] = []
    for row in rows:
        anchors += [a for a, rate in row.anchors.items() if rate is not None and a not in anchors]
        extras += [e for e in row.extra if e not in extras]
    header = ["case", kind.items] + ([kind.rate] if kind.rate else [])
    for a in anchors:
        header += [a, f"ratio vs {a}"]
    header += extras
    cells = []
    for row in rows:
        rate = fmt_rate(row.liqwatch)
        if kind is OTHER and rate != MISSING:
            rate += f" {row.unit}"
        line = [row.case, f"{row.n:,}" if row.n else MISSING] + ([rate] if kind.rate else [])
        for a in anchors:
            line += [fmt_rate(row.anchors.get(a)), fmt_ratio(row.ratio(a))]
        line += [row.extra.get(e, MISSING) for e in extras]
        cells.append(line)
    keep = [i for i in range(len(header)) if i == 0 or any(line[i] != MISSING for line in cells)]
    return [header[i] for i in keep], [[line[i] for i in keep] for line in cells]


def heading(kind: Kind) -> str:
    """The one-line heading of a kind's table: what it measures, and the unit."""
    return f"{kind.name} — {kind.unit}"


_LABELS = {"source": "Numbers from", "date": "Date", "commit": "Commit", "cpu": "CPU", "cores": "Cores",
           "ram": "RAM", "os": "OS", "python": "Python", "libraries": "Libraries"}  # fmt: skip


def machine_lines(env: dict[str, str]) -> list[str]:
    """`Label: value` for each entry, the run's provenance (`source`) first."""
    keys = sorted(env, key=lambda k: k != "source")
    return [f"{_LABELS.get(k, k)}: {env[k]}" for k in keys]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(results: Results) -> str:
    """The Markdown file: machine and date first, one table per kind, then the checks and notes by kind."""
    out = [f"# {results.title}", ""]
    out += [f"- {line}" for line in machine_lines(results.machine)]
    out += ["", f"Generated by `{results.command}`; do not edit by hand. {results.note}".rstrip()]
    grouped = groups(results.rows)
    for kind, rows in grouped:
        header, cells = table(kind, rows)
        out += ["", f"## {heading(kind)}", "", kind.what, ""]
        out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        out += ["| " + " | ".join(_cell(c) for c in line) + " |" for line in cells]
    if any(row.checks for row in results.rows):
        out += ["", "## Sanity checks"]
        for kind, rows in grouped:
            checks = [(row.case, *check) for row in rows for check in row.checks]
            if checks:
                out += ["", f"### {kind.name}", ""]
                out += [f"- {case} / {name}: **{'ok' if ok else 'FAILED'}** ({detail})" for case, name, ok, detail in checks]
    if any(row.notes for row in results.rows):
        out += ["", "## Notes"]
        for kind, rows in grouped:
            notes = [(row.case, note) for row in rows for note in row.notes]
            if notes:
                out += ["", f"### {kind.name}", ""]
                out += [f"- {case}: {note}" for case, note in notes]
    return "\n".join(out) + "\n"
