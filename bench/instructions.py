"""Parse cost in CPU instructions per frame (valgrind callgrind): the same comparison as `bench/parse.py`, immune to
the VM's speed drift.

Wall-clock rates on a shared 2-core VM swing by 2x within a minute, so a ratio of two rates measured one after the
other is noisy. Callgrind counts instructions, which do not depend on what else the machine is doing. Each side
runs twice under callgrind in a fresh interpreter, over the first `SMALL` and the first `LARGE` of the same
frames; the difference of the two totals, divided by the extra frames, is the per-frame cost with all set-up
(imports, frame generation, instrument maps, the anchors' feed objects) cancelled out. The row reports frames per
10⁹ instructions, so a higher number is better and the ratio reads like the wall-clock table's.

Instructions are not time (cache misses and branch mispredictions weigh differently), but on this kind of code —
an interpreter loop and small C calls — the two ratios agree within the wall-clock noise; both are in the table.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import Case, Row

ROOT = Path(__file__).resolve().parents[1]
SMALL, LARGE = 1_000, 21_000
QUICK_LARGE = 6_000
ANCHORED_LARGE = 6_000  # the bench/anchored.py venues: the libraries are slow under callgrind; 5,000 frames counted
# Passes over the frames each side makes per run: liqwatch parses once; the anchors' measure() makes one timed
# pass (reps=1) and one sanity pass, both through the library's full handler.
PASSES = {"liqwatch": 1, "msgspec-typed": 1, "msgspec-scan": 1, "cryptofeed": 2, "ccxt.pro": 2}
_TOTAL = re.compile(rb"Collected : (\d+)")


def _work_anchored(venue: str, side: str, n: int) -> None:
    """`_work` for a bench/anchored.py venue: the first `n` of its frames through liqwatch's `safe_parse` or an anchor's
    measure() (one timed pass and one sanity pass)."""
    from bench import anchored
    from liqwatch.feeds.parse import FrameCounters, safe_parse

    spec = anchored.spec(venue)
    frames = spec.frames(ANCHORED_LARGE)[:n]  # every generator is sequential: a prefix is the same frames
    side, _, reps = side.partition("@")
    if side == "liqwatch":
        module, index = anchored.venue_index(venue)
        counters = FrameCounters()
        for frame in frames:
            safe_parse(module, frame, index, anchored.TS_RECV, counters)
    else:
        spec.anchors[side](frames, int(reps or 1))


def _work(side: str, n: int) -> None:
    """Run inside the child interpreter: set up everything, then push the first `n` frames through `side`
    (`venue:side` for a bench/anchored.py venue)."""
    if ":" in side:
        venue, _, lib = side.partition(":")
        _work_anchored(venue, lib, n)
        return
    import msgspec

    from bench import anchors, parse
    from liqwatch.venues import binance

    frames = parse.binance_force_order_frames(LARGE)[:n]
    index = parse.binance_instruments()
    if side == "liqwatch":
        parse_frame = binance.parse_frame
        for frame in frames:
            parse_frame(frame, index, parse.TS_RECV)
    elif side == "msgspec-typed":
        typed = binance._COMBINED.decode
        for frame in frames:
            typed(frame)
    elif side == "msgspec-scan":

        class _Nothing(msgspec.Struct):
            pass

        scan = msgspec.json.Decoder(_Nothing).decode
        for frame in frames:
            scan(frame)
    elif side == "cryptofeed":
        anchors.cryptofeed_binance(frames, 1)
    elif side == "ccxt.pro":
        anchors.ccxt_pro_binanceusdm(frames, 1)
    else:
        raise SystemExit(f"unknown side {side!r}")


def _instructions(side: str, n: int) -> int:
    valgrind = shutil.which("valgrind")
    assert valgrind is not None
    # a fixed hash seed: both runs of a difference then do the same set-up work (set/dict layouts follow the seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={Path(tmp) / 'cg.out'}",
                # the real interpreter, not a pyenv shim script
                os.path.realpath(sys.executable),
                "-m",
                "bench.instructions",
                side,
                str(n),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=1800,
        )
    found = _TOTAL.search(out.stderr)
    if out.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {side} ({n} frames) failed: {out.stderr[-400:].decode(errors='replace')}")
    return int(found.group(1))


def per_frame(side: str, large: int = LARGE) -> float:
    """Instructions one frame costs `side`, set-up cancelled (two callgrind runs)."""
    extra = _instructions(side, large) - _instructions(side, SMALL)
    return extra / ((large - SMALL) * PASSES[side.rpartition(":")[2]])


def run_instructions(quick: bool) -> Row:
    """Binance USD-M forceOrder frames: instructions per frame, liqwatch vs cryptofeed and ccxt.pro."""
    name = "binance-usdm forceOrder parse, instructions (callgrind)"
    large = QUICK_LARGE if quick else LARGE
    if shutil.which("valgrind") is None:
        row = Row(case=name, n=0, unit="frames/G instr", liqwatch=float("nan"))
        row.notes.append("not measured: valgrind is not installed (apt-get install valgrind)")
        return row
    cost = {side: per_frame(side, large) for side in ("liqwatch", "msgspec-typed", "msgspec-scan")}
    row = Row(case=name, n=large - SMALL, unit="frames/G instr", liqwatch=1e9 / cost["liqwatch"])
    for anchor in ("cryptofeed", "ccxt.pro"):
        try:
            cost[anchor] = per_frame(anchor, large)
        except RuntimeError as exc:
            row.anchors[anchor] = None
            row.notes.append(f"{anchor}: not measured ({str(exc)[:200]})")
            continue
        row.anchors[anchor] = 1e9 / cost[anchor]
    row.notes.append(
        "instructions per frame: "
        + ", ".join(f"{side} {c:,.0f}" for side, c in cost.items())
        + f" (difference of callgrind totals over {SMALL:,} and {large:,} frames, set-up cancelled)"
    )
    if "cryptofeed" in cost:
        row.notes.extend(
            f"ceiling: {label} alone = {cost['cryptofeed'] / cost[side]:.2f}x cryptofeed"
            for side, label in (
                ("msgspec-typed", "msgspec typed decode to the wire structs (no event built)"),
                ("msgspec-scan", "msgspec JSON scan (empty struct)"),
            )
        )
    row.checks.append(("every cost positive", all(c > 0 for c in cost.values()), f"{len(cost)} sides"))
    return row


def anchor_per_frame(venue: str, anchor: str, large: int) -> float:
    """Instructions one frame costs an anchor of a bench/anchored.py venue: the same `large` frames measured with 3
    and with 1 timed passes, so set-up AND the untimed sanity pass (which adds up notionals) cancel out."""
    extra = _instructions(f"{venue}:{anchor}@3", large) - _instructions(f"{venue}:{anchor}@1", large)
    return extra / (2 * large)


def run_anchored_instructions(venue: str, quick: bool) -> Row:
    """A bench/anchored.py venue: instructions per frame, liqwatch (`safe_parse`) vs the anchors measured there."""
    from bench import anchored

    spec = anchored.spec(venue)
    name = f"{spec.title.removesuffix(' (anchored)')}, instructions (callgrind)"
    large = QUICK_LARGE if quick else ANCHORED_LARGE
    if shutil.which("valgrind") is None:
        row = Row(case=name, n=0, unit="frames/G instr", liqwatch=float("nan"))
        row.notes.append("not measured: valgrind is not installed (apt-get install valgrind)")
        return row
    cost = {"liqwatch": per_frame(f"{venue}:liqwatch", large)}
    row = Row(case=name, n=large - SMALL, unit="frames/G instr", liqwatch=1e9 / cost["liqwatch"])
    from bench.anchors import Unavailable

    for anchor, measure in spec.anchors.items():
        try:
            measure([], 0)  # no frames, no timing: raises at once for a library that does not handle these frames
        except Unavailable as exc:
            row.anchors[anchor] = None
            row.notes.append(f"{anchor}: not measured ({exc})")
            continue
        try:
            cost[anchor] = anchor_per_frame(venue, anchor, large)
        except RuntimeError as exc:
            reason = str(exc)
            row.anchors[anchor] = None
            row.notes.append(f"{anchor}: not measured ({reason[reason.find('Unavailable'):][:300]})")
            continue
        row.anchors[anchor] = 1e9 / cost[anchor]
    row.notes.append(
        "instructions per frame: "
        + ", ".join(f"{side} {c:,.0f}" for side, c in cost.items())
        + f" (liqwatch: difference of callgrind totals over {SMALL:,} and {large:,} frames; an anchor: {large:,} "
        "frames with 3 and with 1 timed passes, so its set-up and untimed sanity pass cancel out)"
    )
    row.checks.append(("every cost positive", all(c > 0 for c in cost.values()), f"{len(cost)} sides"))
    return row


def _anchored_case(venue: str, channel: str) -> Case:
    return Case(
        f"{venue} {channel} parse, instructions (callgrind)", lambda quick: run_anchored_instructions(venue, quick), "callgrind"
    )


CASES = [
    Case("binance-usdm forceOrder parse, instructions (callgrind)", run_instructions, "callgrind"),
    _anchored_case("bybit", "allLiquidation"),
    _anchored_case("okx", "liquidation-orders"),
    _anchored_case("binance-coinm", "forceOrder"),
    _anchored_case("bitmex", "liquidation"),
    _anchored_case("deribit", "trades+liquidation"),
]

if __name__ == "__main__":
    _work(sys.argv[1], int(sys.argv[2]))
