"""Run every liqwatch benchmark: `python bench/run.py [--quick] [--case SUBSTRING]`.

Prints the table and writes it, with the machine description, to bench/RESULTS.md. Suites are modules with a
`CASES` list (see bench/_harness.py); add new ones to `SUITES`.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and repetitions (smoke run, noisier)")
    ap.add_argument("--case", default="", help="run only cases whose name contains this")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--out", type=Path, default=RESULTS, help="write the table to this file instead")
    args = ap.parse_args(argv)

    rows = []
    for suite in SUITES:
        for case in suite.CASES:
            # callgrind cases take minutes per venue: they run only when `--case` names them
            if args.case in case.name and ("(callgrind)" not in case.name or "callgrind" in args.case):
                print(f"running {case.name} ...", file=sys.stderr, flush=True)
                try:
                    rows.append(case.run(args.quick))
                except Exception as exc:  # one broken case must not lose the others' results
                    row = _harness.Row(case=case.name, n=0, unit="-", liqwatch=float("nan"))
                    row.checks.append(("ran", False, f"{type(exc).__name__}: {exc}"))
                    rows.append(row)

    env = _harness.machine(LIBRARIES)
    command = "python bench/run.py" + (" --quick" if args.quick else "") + (f" --case '{args.case}'" if args.case else "")
    reps = (
        f"{parse.QUICK_REPS} reps of {parse.QUICK_N:,} frames (quick)"
        if args.quick
        else f"best of {parse.FULL_REPS} reps of {parse.FULL_N:,} frames"
    )
    note = (
        f"Single thread, GC disabled in timed loops, {reps}. The VM is noisy: compare ratios, not absolutes."
    )
    _print(rows, env, note)
    if not args.no_write:
        args.out.write_text(_harness.markdown(rows, env, command, note))
        print(f"wrote {args.out}", file=sys.stderr)
    failed = [c for r in rows for c in r.checks if not c[1]]
    return 1 if failed else 0


def _print(rows: list[_harness.Row], env: dict[str, str], note: str) -> None:
    header, cells = _harness.table(rows)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(" | ".join(header))
        for c in cells:
            print(" | ".join(c))
        for r in rows:
            for name, ok, detail in r.checks:
                print(f"  {r.case} / {name}: {'ok' if ok else 'FAILED'} ({detail})")
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    t = Table(title="liqwatch benchmarks", caption=note)
    for h in header:
        t.add_column(h, justify="left" if h == "case" else "right")
    for c in cells:
        t.add_row(*c)
    console.print(t)
    for r in rows:
        for name, ok, detail in r.checks:
            console.print(f"  {r.case} / {name}: {'[green]ok' if ok else '[red]FAILED'}[/] ({detail})")
        for n in r.notes:
            console.print(f"  [dim]{r.case}: {n}[/]")
    console.print("  [dim]" + "; ".join(f"{k}: {v}" for k, v in env.items()) + "[/]")


if __name__ == "__main__":
    sys.exit(main())
