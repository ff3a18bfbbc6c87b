"""A clone is self-contained: `git clone` of this commit into a folder with nothing beside it collects every test and
passes the golden contract tests, and nothing the clone carries points to a folder beside it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# built from parts so this file does not match itself
OUTSIDE = re.compile("|".join(re.escape(p) for p in ("../" + "shared", "shared" + "/data", "shared" + "/docs",
                                                     "shared" + "/DESIGN", "/work/" + "shared")))


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the clone test needs git and the repository's history")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    dest = tmp_path_factory.mktemp("fresh") / "liqwatch"  # its parent holds nothing else: no shared/ beside it
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(dest)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", head.stdout.strip()], check=True, timeout=120)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["liqwatch"]
    return dest


def _pytest(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIQWATCH", "PYTEST_"))}
    env["PYTHONPATH"] = str(clone / "src")  # the clone's own code, ahead of this checkout's editable install
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_clone_carries_the_recorded_frames_and_points_nowhere_outside(clone: Path) -> None:
    recorded = sorted(p.name for p in (clone / "tests" / "data" / "recorded").iterdir())
    assert len(recorded) == 62 and "README.md" in recorded and "BYBIT.liquidations.jsonl" in recorded
    hits = []
    for top in ("src", "tests", "bench", ".ci", "README.md"):
        base = clone / top
        for path in [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()):
            if path.suffix in (".py", ".md", ".toml", ".txt", ".cfg", "") and OUTSIDE.search(path.read_text(errors="replace")):
                hits.append(str(path.relative_to(clone)))
    assert hits == []


def test_the_clone_collects_every_test(clone: Path) -> None:
    result = _pytest(clone, "--collect-only")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    match = re.search(r"^(\d+) tests collected", result.stdout, flags=re.M)
    assert match, result.stdout[-2000:]
    assert int(match.group(1)) > 1000 and "error" not in result.stdout.lower().split("collected")[-1]
    assert "FileNotFoundError" not in result.stdout + result.stderr


def test_the_clone_passes_the_golden_contract_tests(clone: Path) -> None:
    result = _pytest(clone, "tests/contract", "tests/unit/venues/test_bybit.py", "-o", "addopts=", "-q")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^\d+ passed", result.stdout.splitlines()[-1]), result.stdout[-500:]
