"""What users install is what CI tested: every dependency has a range, the installed versions are in it, and CI runs
exactly the README's install-and-test command."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
EXTRAS = {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}
TESTED = RUNTIME + [r for name in ("web", "scale", "charts", "test") for r in EXTRAS[name] if r.name != "liqwatch"]


def _upper(req: Requirement) -> Version | None:
    bounds = [Version(s.version) for s in req.specifier if s.operator == "<"]
    return min(bounds) if bounds else None


@pytest.mark.parametrize("req", TESTED, ids=lambda r: r.name)
def test_every_dependency_has_a_lower_and_an_upper_bound(req: Requirement) -> None:
    assert any(s.operator == ">=" for s in req.specifier), f"{req}: no lower bound"
    upper = _upper(req)
    assert upper is not None, f"{req}: no upper bound (the next major, or next minor for a 0.x package)"
    low = min(Version(s.version) for s in req.specifier if s.operator == ">=")
    # the bound is the next major (next minor for 0.x): one release family, no more
    assert (upper.major == low.major + 1 and upper.minor == 0) or (low.major == 0 and upper.major == 0), str(req)
    if low.major == 0 and upper.major == 0:
        assert upper.minor == low.minor + 1 or req.name in ("fastapi", "uvicorn", "msgspec"), str(req)


@pytest.mark.parametrize("req", TESTED, ids=lambda r: r.name)
def test_the_installed_version_is_in_the_declared_range(req: Requirement) -> None:
    try:
        installed = version(req.name)
    except PackageNotFoundError:
        pytest.fail(f"{req.name} is declared but not installed: pip install -e '.[test]'")
    assert req.specifier.contains(installed, prereleases=True), f"{req.name} {installed} is outside {req.specifier}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_cmd = next(b.strip() for b in blocks if "pytest" in b)
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == test_cmd == "pip install -e '.[test]' && python -m pytest"
    assert not any("pip install" in line for line in ci[:-1]), "CI must install only what the README's command installs"
