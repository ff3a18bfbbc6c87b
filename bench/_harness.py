"""Shared benchmark plumbing: timing, the result row, machine description, table rendering.

A benchmark module (e.g. `bench/parse.py`) exposes `CASES: list[Case]`; `bench/run.py` lists the modules in
`SUITES` and runs every case. Add a venue, an end-to-end or a store-query benchmark by adding a case to an
existing module or a new module to `SUITES`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import metadata


@dataclass
class Row:
    """One measured case: liqwatch's rate and the anchors' rates on the same input."""

    case: str
    n: int  # items per repetition
    unit: str  # "frames/s", "rows/s", ...
    liqwatch: float  # items per second, best of N
    anchors: dict[str, float | None] = field(default_factory=dict)  # name -> items/s (None: not available)
    target: tuple[str, float] | None = None  # (anchor name, minimum liqwatch/anchor ratio)
    more_targets: list[tuple[str, float]] = field(default_factory=list)  # further (anchor, ratio) targets
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (name, passed, detail)
    notes: list[str] = field(default_factory=list)

    def ratio(self, anchor: str) -> float | None:
        rate = self.anchors.get(anchor)
        return self.liqwatch / rate if rate else None

    @property
    def targets(self) -> list[tuple[str, float]]:
        return ([self.target] if self.target else []) + self.more_targets

    def met(self, target: tuple[str, float]) -> bool | None:
        """Whether liqwatch reaches `target`; None when that anchor was not measured."""
        r = self.ratio(target[0])
        return None if r is None else r >= target[1]

    @property
    def target_met(self) -> bool | None:
        """All targets met (None: no target, or an anchor not measured)."""
        verdicts = [self.met(t) for t in self.targets]
        if not verdicts or None in verdicts:
            return None
        return all(verdicts)


@dataclass
class Case:
    """A named benchmark: `run(quick)` returns its Row."""

    name: str
    run: Callable[[bool], Row]


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


def machine(libraries: tuple[str, ...]) -> dict[str, str]:
    """Describe where the numbers were measured."""
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        import os

        nproc = str(os.cpu_count())
    libs = ", ".join(f"{d} {_version(d) or 'not installed'}" for d in libraries)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc,
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "libraries": libs,
    }


def fmt_rate(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate / 1e6:.2f} M" if rate >= 1e6 else f"{rate / 1e3:.0f} k"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    """Header and cells: case, n, liqwatch rate, every anchor's rate and ratio, target."""
    anchors: list[str] = []
    for row in rows:
        anchors += [a for a in row.anchors if a not in anchors]
    header = ["case", "items", "liqwatch"]
    for a in anchors:
        header += [a, f"ratio vs {a}"]
    header.append("target")
    cells = []
    for row in rows:
        line = [row.case, f"{row.n:,}", f"{fmt_rate(row.liqwatch)} {row.unit}"]
        for a in anchors:
            line += [fmt_rate(row.anchors.get(a)), fmt_ratio(row.ratio(a))]
        if not row.targets:
            line.append("-")
        else:
            verdicts = []
            for target in row.targets:
                met = row.met(target)
                verdict = "n/a" if met is None else ("met" if met else "NOT met")
                verdicts.append(f">= {target[1]:g}x {target[0]}: {verdict}")
            line.append("; ".join(verdicts))
        cells.append(line)
    return header, cells


def markdown(rows: list[Row], env: dict[str, str], command: str, reps_note: str) -> str:
    header, cells = table(rows)
    out = [
        "# liqwatch benchmark results",
        "",
        f"Generated by `{command}`; do not edit by hand. {reps_note}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    out += ["| " + " | ".join(c) + " |" for c in cells]
    out += ["", "## Sanity checks", ""]
    for row in rows:
        for name, ok, detail in row.checks:
            out.append(f"- {row.case} / {name}: **{'ok' if ok else 'FAILED'}** ({detail})")
    notes = [(row.case, n) for row in rows for n in row.notes]
    if notes:
        out += ["", "## Notes", ""]
        out += [f"- {case}: {n}" for case, n in notes]
    out += ["", "## Machine", ""]
    out += [f"- {k}: {v}" for k, v in env.items()]
    return "\n".join(out) + "\n"
