"""The manual (docs/, Sphinx + MyST Markdown) builds in strict mode: a broken link, a reference to a missing page
or a page outside every toctree is a warning, and -W makes it an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
STRICT = ["-W", "--keep-going", "-n", "-b", "html"]


def _build(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sphinx", *STRICT, str(src), str(out)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sphinx", reason="the docs build needs the test extra: pip install -e '.[test]'")
    pytest.importorskip("myst_parser", reason="the docs build needs the test extra: pip install -e '.[test]'")
    out = tmp_path_factory.mktemp("docs-html")
    run = _build(DOCS, out)
    assert run.returncode == 0, f"sphinx -W failed:\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    return out


def test_the_manual_builds_strictly_with_its_front_page_and_architecture(built: Path) -> None:
    index = (built / "index.html").read_text()
    assert "liqwatch manual" in index
    for page in ("tutorial", "commands", "configuration", "architecture", "development", "venues", "analytics"):
        assert f'href="{page}.html"' in index, f"{page} is not linked from the front page's toctree"
    architecture = (built / "architecture.html").read_text()
    assert "The room map" in architecture and "roles/up.py" in architecture


def test_every_markdown_page_in_docs_is_built(built: Path) -> None:
    pages = sorted(p.stem for p in DOCS.glob("*.md"))
    missing = [p for p in pages if not (built / f"{p}.html").is_file()]
    assert pages and missing == []


def test_a_broken_internal_link_fails_the_strict_build(tmp_path: Path) -> None:
    pytest.importorskip("myst_parser", reason="the docs build needs the test extra: pip install -e '.[test]'")
    src = tmp_path / "docs"
    src.mkdir()
    (src / "conf.py").write_text((DOCS / "conf.py").read_text())
    (src / "index.md").write_text("# Index\n\n```{toctree}\npage\n```\n")
    (src / "page.md").write_text("# Page\n\n## A section\n\n[ok](#a-section), [missing](#no-such-section), "
                                 "[gone](nowhere.md)\n")
    run = _build(src, tmp_path / "out")
    assert run.returncode != 0
    assert "no-such-section" in run.stderr and "nowhere.md" in run.stderr
