"""Run every liqwatch benchmark: `python bench/run.py [--quick] [--case SUBSTRING]`.

Prints one table per kind of case and writes them, under the machine description, to bench/RESULTS.md; the rows
also go to bench/results.json, from which `python bench/run.py --render bench/results.json` rewrites the Markdown
without running anything. Suites are modules with a `CASES` list (see bench/_harness.py); add new ones to `SUITES`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/ itself on the path, not the repo
    sys.path.insert(0, str(ROOT))

from bench import (  # noqa: E402
    _harness,
    anchored,
    e2e,
    heatmap,
    instructions,
    memory,
    parse,
    scale,
    store,
    store_pg,
    venues,
    web_latency,
)

SUITES = [parse, instructions, venues, anchored, e2e, store, store_pg, scale, web_latency, heatmap, memory]
LIBRARIES = ("liqwatch", "msgspec", "cryptofeed", "yapic.json", "ccxt", "psycopg", "nats-py", "duckdb")
RESULTS = ROOT / "bench" / "RESULTS.md"


def json_path(markdown: Path) -> Path:
    """Where the rows of a Markdown file are saved: bench/RESULTS.md -> bench/results.json."""
    return markdown.with_name(markdown.stem.lower() + ".json")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and repetitions (smoke run, noisier)")
    ap.add_argument("--case", default="", help="run only cases whose name contains this")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--out", type=Path, help=f"write the tables to this file instead of {RESULTS.relative_to(ROOT)} "
                    "(the rows to the same name in lower case, .json)")  # fmt: skip
    ap.add_argument("--render", type=Path, metavar="JSON",
                    help="run nothing: print and write the Markdown of saved results (beside the JSON unless --out)")  # fmt: skip
    args = ap.parse_args(argv)

    if args.render:
        results = _harness.Results.load(args.render)
        out = args.out or args.render.with_name(results.markdown)
        _print(results)
        if not args.no_write:
            out.write_text(_harness.markdown(results), encoding="utf-8")
            print(f"wrote {out}", file=sys.stderr)
        return 0

    started = dt.datetime.now(dt.UTC)
    rows = []
    for suite in SUITES:
        for case in suite.CASES:
            # callgrind cases take minutes per venue: they run only when `--case` names them
            if args.case in case.name and ("(callgrind)" not in case.name or "callgrind" in args.case):
                print(f"running {case.name} ...", file=sys.stderr, flush=True)
                try:
                    row = case.run(args.quick)
                except Exception as exc:  # one broken case must not lose the others' results
                    row = _harness.Row(case=case.name, n=0, unit="-", liqwatch=float("nan"))
                    row.checks.append(("ran", False, f"{type(exc).__name__}: {exc}"))
                row.kind = case.kind
                rows.append(row)

    env = _harness.machine(LIBRARIES, started)
    command = "python bench/run.py" + (" --quick" if args.quick else "") + (f" --case '{args.case}'" if args.case else "")
    reps = (
        f"{parse.QUICK_REPS} reps of {parse.QUICK_N:,} frames (quick)"
        if args.quick
        else f"best of {parse.FULL_REPS} reps of {parse.FULL_N:,} frames"
    )
    note = (
        f"Single thread, GC disabled in timed loops, {reps}. The VM is noisy: compare ratios, not absolutes."
    )
    out = args.out or RESULTS
    results = _harness.Results(machine=env, rows=rows, command=command, note=note, markdown=out.name)
    _print(results)
    if not args.no_write:
        out.write_text(_harness.markdown(results), encoding="utf-8")
        results.save(json_path(out))
        print(f"wrote {out} and {json_path(out)}", file=sys.stderr)
    failed = [c for r in rows for c in r.checks if not c[1]]
    return 1 if failed else 0


def _print(results: _harness.Results) -> None:
    """The terminal's view of `results`: the machine, one table per kind, the checks and notes by kind."""
    grouped = _harness.groups(results.rows)
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        for line in _harness.machine_lines(results.machine):
            print(line)
        for kind, rows in grouped:
            header, cells = _harness.table(kind, rows)
            print(f"\n{_harness.heading(kind)}: {kind.what}")
            print(" | ".join(header))
            for c in cells:
                print(" | ".join(c))
        for kind, rows in grouped:
            for r in rows:
                for name, ok, detail in r.checks:
                    print(f"  [{kind.name}] {r.case} / {name}: {'ok' if ok else 'FAILED'} ({detail})")
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print("[dim]" + escape("; ".join(_harness.machine_lines(results.machine))) + "[/]")
    for kind, rows in grouped:
        header, cells = _harness.table(kind, rows)
        t = Table(title=_harness.heading(kind), caption=kind.what)
        for h in header:
            t.add_column(h, justify="left" if h == "case" else "right")
        for c in cells:
            t.add_row(*(escape(x) for x in c))
        console.print(t)
    for kind, rows in grouped:
        if any(r.checks or r.notes for r in rows):
            console.print(f"[bold]{escape(kind.name)}[/]")
        for r in rows:
            for name, ok, detail in r.checks:
                verdict = "[green]ok" if ok else "[red]FAILED"
                console.print(f"  {escape(r.case)} / {escape(name)}: {verdict}[/] ({escape(detail)})")
            for n in r.notes:
                console.print(f"  [dim]{escape(r.case)}: {escape(n)}[/]")
    console.print(f"[dim]{escape(results.note)}[/]")


if __name__ == "__main__":
    sys.exit(main())
