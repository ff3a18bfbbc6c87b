"""The installed `liqwatch` program as a person meets it: every usage error and mistyped path is one line, no traceback.

Each case runs the console script pip installed (beside this interpreter), in a subprocess, and checks the exit code,
the exact first line of stderr and that no traceback was printed, on whichever typer/click is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from golden import recorded_dir
from liqwatch.storage import open_store

SCRIPT = Path(sys.executable).with_name("liqwatch")
VENUE_LIST = ("binance-usdm, binance-coinm, bybit, okx, bitmex, deribit, htx, bitget, gate, kraken-futures, dydx, "
              "hyperliquid")


def liqwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.is_file(), f"no installed console script at {SCRIPT}: pip install -e '.[test]'"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQWATCH__")}
    env["COLUMNS"] = "200"
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def first_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert lines, f"nothing on stderr (exit {result.returncode}); stdout: {result.stdout[:500]}"
    return lines[0]


@pytest.fixture
def empty_store(tmp_path: Path) -> Path:
    path = tmp_path / "empty.duckdb"
    open_store(path).close()
    return path


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can create files in, root included (chmod 555; as root chattr +i; else /sys)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if _writable(folder) and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        if _writable(folder):
            folder = Path("/sys")  # sysfs: no file can be created there, even by root
            assert not _writable(folder), "found no read-only folder to test with"
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(tmp_path / "ro")], check=False)
        (tmp_path / "ro").chmod(0o755)


def _writable(folder: Path) -> bool:
    probe = folder / f".probe-{uuid.uuid4().hex}"
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


# ---- item 2: usage errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "first", "usage"),
    [
        (["stats", "--bogus"], {"error: No such option: --bogus"}, "Usage: liqwatch stats [OPTIONS]"),
        # typer 0.29 names the argument by its metavar; click 8.1 appends "..." for a variadic one
        (["replay"], {"error: Missing argument 'FILE'.", "error: Missing argument 'FILE...'."}, "Usage: liqwatch replay [OPTIONS] "),
        (["bogus"], {"error: No such command 'bogus'."}, "Usage: liqwatch [OPTIONS] COMMAND [ARGS]..."),
        (["oi", "bogus"], {"error: No such command 'bogus'."}, "Usage: liqwatch oi [OPTIONS] COMMAND [ARGS]..."),
        (["liquidations", "--limit", "abc"], {"error: Invalid value for '--limit': "}, "Usage: liqwatch liquidations [OPTIONS]"),
    ],
    ids=["unknown-option", "missing-argument", "unknown-command", "unknown-subcommand", "bad-value"],
)
def test_usage_error_is_one_line_plus_the_usage_hint_exit_2(args: list[str], first: set[str], usage: str) -> None:
    result = liqwatch(*args)
    assert result.returncode == 2, result.stderr
    line = first_line(result)
    assert line in first or any(line.startswith(f) for f in first if f.endswith(": ")), line
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    assert lines[1].startswith(usage), lines[1]
    command = usage.removeprefix("Usage: ").split(" [OPTIONS]")[0]
    assert lines[2] == f"Try '{command} --help' for help."
    assert result.stdout == ""


def test_help_still_exits_0() -> None:
    result = liqwatch("stats", "--help")
    assert result.returncode == 0 and "--window" in result.stdout and result.stderr == ""


# ---- item 5: a mistyped path is an error, not an empty store ---------------------------------------------------------

def test_a_read_of_a_missing_store_names_it_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "nonexistent" / "sub" / "x.duckdb"
    result = liqwatch("stats", "--db", str(db))
    assert result.returncode == 2
    assert first_line(result) == (f"error: no store at {db}: check --db (or [store] path); "
                                  "'liqwatch up', 'liqwatch demo' or 'liqwatch replay' creates one")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("args", [["liquidations"], ["oi", "--json"], ["price", "BTC"], ["brief"], ["heatmap"],
                                  ["export", "liquidations", "--out", "x.parquet"], ["alerts", "recent"]])
def test_every_read_command_refuses_a_missing_store(args: list[str], tmp_path: Path) -> None:
    db = tmp_path / "missing" / "x.duckdb"
    result = liqwatch(*args, "--db", str(db), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert first_line(result).startswith(f"error: no store at {db}: ")
    assert not (tmp_path / "missing").exists() and not (tmp_path / "x.parquet").exists()


def test_the_python_api_does_not_create_a_missing_store(tmp_path: Path) -> None:
    import liqwatch as lw
    from liqwatch.errors import StoreNotFound

    with pytest.raises(StoreNotFound, match=r"no store at .*/gone/x\.duckdb"):
        lw.open(tmp_path / "gone" / "x.duckdb")
    assert not (tmp_path / "gone").exists()
    lw.open(tmp_path / "made" / "x.duckdb", writable=True).close()  # writable still creates
    assert (tmp_path / "made" / "x.duckdb").is_file()


def test_venues_without_a_store_lists_the_venues_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    result = liqwatch("venues", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert {r["venue"] for r in json.loads(result.stdout)} >= {"bybit", "okx", "hyperliquid"}
    assert first_line(result).startswith(f"note: no store at {db}: ")
    assert not db.exists()


def test_a_config_path_that_is_a_directory(tmp_path: Path) -> None:
    for args in (["config", "check"], ["up", "--no-view", "--no-web", "--duration", "1"], ["alerts", "list"]):
        result = liqwatch(*args, "--config", str(tmp_path))
        assert result.returncode == 2, (args, result.stderr)
        assert first_line(result) == f"error: config file {tmp_path} is a directory; pass the TOML file itself"


def test_db_in_a_read_only_folder(read_only_dir: Path) -> None:
    db = read_only_dir / "x.duckdb"
    result = liqwatch("replay", "--db", str(db), str(recorded_dir() / "BYBIT.liquidations.jsonl"))
    assert result.returncode == 1, result.stderr
    assert first_line(result).startswith(f"error: cannot open the database {db}: ")
    assert len(result.stderr.splitlines()) == 1
    sub = read_only_dir / "sub" / "x.duckdb"
    result = liqwatch("replay", "--db", str(sub), str(recorded_dir() / "BYBIT.liquidations.jsonl"))
    assert result.returncode == 1, result.stderr
    assert first_line(result).startswith(f"error: cannot create the folder of the database {sub}: ")


@pytest.mark.parametrize(("args", "name"), [(["export", "liquidations", "--out"], "x.parquet"),
                                             (["brief", "--out"], "brief.md")])
def test_out_in_a_read_only_folder(args: list[str], name: str, read_only_dir: Path, empty_store: Path) -> None:
    out = read_only_dir / name
    result = liqwatch(*args, str(out), "--db", str(empty_store))
    assert result.returncode == 2, result.stderr
    assert first_line(result).startswith(f"error: --out: cannot write {out}: ")
    assert len(result.stderr.splitlines()) == 1


def test_watch_with_a_url_that_is_not_one() -> None:
    result = liqwatch("watch", "--url", "notaurl", "--duration", "1")
    assert result.returncode == 2
    assert first_line(result) == "error: --url 'notaurl': use the dashboard's address, e.g. http://127.0.0.1:8000"


def test_replay_of_a_folder(tmp_path: Path) -> None:
    result = liqwatch("replay", "--db", str(tmp_path / "x.duckdb"), str(tmp_path))
    assert result.returncode == 2
    assert first_line(result) == f"error: {tmp_path}: a folder; pass the recorded files in it (e.g. {tmp_path}/*.jsonl)"
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.parametrize("args", [["heatmap"], ["map"], ["stress", "--coin", "BTC", "--move=-5%"],
                                  ["export", "liquidations", "--out", "x.parquet"]])
def test_an_unknown_venue(args: list[str], empty_store: Path, tmp_path: Path) -> None:
    result = liqwatch(*args, "--venue", "bybt", "--db", str(empty_store), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert first_line(result) == f"error: unknown venue 'bybt' (did you mean 'bybit'?); known venues: {VENUE_LIST}"
    assert not (tmp_path / "x.parquet").exists()


def test_replay_of_a_file_in_which_nothing_parses(tmp_path: Path) -> None:
    junk = tmp_path / "BYBIT.liquidations.jsonl"
    junk.write_text('{"raw": "not json {", "recv_ts": null}\n{"raw": "[1,2", "recv_ts": 1.0}\n')
    result = liqwatch("replay", "--db", str(tmp_path / "x.duckdb"), str(junk))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1] == "stored: nothing"
    assert "malformed: 2" in result.stdout  # the table still says what was skipped and why
    assert result.stderr.splitlines()[-1] == (
        "error: nothing in BYBIT.liquidations.jsonl parsed (2 frames malformed or of unknown kinds): "
        "is it a recording of that venue (--venue)?"
    )
    as_json = liqwatch("replay", "--json", "--db", str(tmp_path / "x.duckdb"), str(junk))
    assert as_json.returncode == 1 and json.loads(as_json.stdout)[0]["skipped"] == {"malformed": 2}


@pytest.mark.parametrize("kind", ["heatmap", "map"])
def test_a_figure_with_no_data_is_an_error_not_a_blank_chart(kind: str, empty_store: Path, tmp_path: Path) -> None:
    png = tmp_path / f"{kind}.png"
    with contextlib.suppress(FileNotFoundError):
        png.unlink()
    result = liqwatch(kind, "--png", str(png), "--db", str(empty_store))
    assert result.returncode == 1, result.stderr
    assert first_line(result).startswith("error: nothing to draw: no modelled liquidation levels for BTC (")
    assert first_line(result).endswith("); no file written")
    assert not png.exists()
