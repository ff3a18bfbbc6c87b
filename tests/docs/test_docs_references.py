"""Every reference to the manual is real: a `docs/<name>.md` named in the code, the tests, the benchmarks, CI or the
README is a file in docs/, a `§N` / `§N.M` after it is a numbered section of that file, and a
`#anchor` after it is one of its headings; every relative link in README.md resolves to a file."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# not docs/ itself: its research notes cite other repositories' own `docs/…` files (their links are checked by the
# strict Sphinx build, tests/docs/test_docs_build.py)
SCANNED = ("src", "bench", "tests", ".ci", "README.md")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".json", ".jsonl", ".ini", ".sh", ""}

# `docs/<name>.md`, not a URL path of a venue's site (`https://x.com/docs/v5/…` or `/docs/…`: preceded by a host or
# `/`), then optionally `#anchor`, or ` §N`, `§N.M`, a range `§1-2` and more after commas (`§6, §13.1`)
_SECTION = r"§\d+(?:\.\d+)?(?:-\d+)?"
REFERENCE = re.compile(r"(?<![\w/.\-])docs/(?P<name>[A-Za-z0-9_\-]+)\.md"
                       r"(?:#(?P<anchor>[\w\-]+)|`?\s?(?P<sections>" + _SECTION + r"(?:,\s*" + _SECTION + r")*))?")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)")
LIST_ITEM = re.compile(r"^\s{0,3}(\d+)\.\s")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _files() -> list[Path]:
    out: list[Path] = []
    for top in SCANNED:
        base = ROOT / top
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        out += [p for p in paths if p.suffix in TEXT_SUFFIXES and ".egg-info" not in p.as_posix()
                and "__pycache__" not in p.parts]
    return out


def _slug(title: str) -> str:
    """The anchor MyST (myst_heading_anchors) and GitHub give a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link in a heading anchors by its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def _headings(name: str) -> list[tuple[int, str]]:
    """(level, title) of every heading of docs/<name>.md, outside fenced code."""
    out: list[tuple[int, str]] = []
    fenced = False
    for line in (DOCS / f"{name}.md").read_text().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            out.append((len(m.group(1)), m.group(2)))
    return out


@cache
def _sections(name: str) -> frozenset[str]:
    """Section numbers of docs/<name>.md: numbered headings (`## 2.`, `### 2.2`), and `N.M` for the numbered list
    items `M.` directly under a heading `## N.` (docs/venues.md numbers the rules of its §13 that way)."""
    numbers: set[str] = set()
    current = ""
    fenced = False
    for line in (DOCS / f"{name}.md").read_text().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            continue
        if m := HEADING.match(line):
            n = NUMBERED.match(m.group(2))
            current = n.group(1) if n else ""
            if n:
                numbers.add(current)
        elif current and "." not in current and (item := LIST_ITEM.match(line)):
            numbers.add(f"{current}.{item.group(1)}")
    return frozenset(numbers)


def _section_numbers(text: str) -> list[str]:
    out: list[str] = []
    for m in re.finditer(r"§(\d+)((?:\.\d+)?)(?:-(\d+))?", text):
        out.append(m.group(1) + m.group(2))
        if m.group(3):  # §1-2: both ends
            out.append(m.group(3))
    return out


def _references() -> list[tuple[str, str, str | None, list[str]]]:
    refs = []
    for path in _files():
        text = path.read_text(errors="replace")
        for m in REFERENCE.finditer(text):
            where = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
            refs.append((where, m.group("name"), m.group("anchor"), _section_numbers(m.group("sections") or "")))
    return refs


def test_the_scan_finds_the_references_the_code_makes() -> None:
    refs = _references()
    found = {(name, tuple(secs)) for _, name, _, secs in refs}
    # known citations in src/: the heatmap model and the venue research; if these stop being found the scan is broken
    assert ("analytics", ("2.2",)) in found and any(name == "venues" and secs for name, secs in found)
    assert len(refs) > 40
    # a venue site's own docs path is not a reference to this manual
    venue_url = "see https://www.example.com/" + "docs/v5/overview.md and " + "docs" + "/cme.md §1"
    names = [m.group("name") for m in REFERENCE.finditer(venue_url)]
    assert names == ["cme"]


@pytest.mark.parametrize("where,name,anchor,sections", _references(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_docs_reference_is_a_page_a_section_or_a_heading(where: str, name: str, anchor: str | None,
                                                               sections: list[str]) -> None:
    assert (DOCS / f"{name}.md").is_file(), f"{where}: docs/{name}.md does not exist"
    missing = [s for s in sections if s not in _sections(name)]
    assert missing == [], f"{where}: docs/{name}.md has no section §{', §'.join(missing)}"
    if anchor:
        assert anchor in {_slug(t) for _, t in _headings(name)}, f"{where}: docs/{name}.md has no #{anchor}"


def test_the_section_numbers_the_code_cites_exist() -> None:
    assert {"0", "1", "2", "13", "13.1", "13.7", "14"} <= _sections("venues")
    assert {"1.1", "2.2", "4.4", "4.6"} <= _sections("analytics")
    assert "13.8" not in _sections("venues") and "3" not in _sections("analytics")


def test_every_relative_link_in_the_readme_resolves() -> None:
    readme = (ROOT / "README.md").read_text()
    links = [t for t in LINK.findall(readme) if not re.match(r"^[a-z][a-z0-9+.\-]*:", t)]
    assert any(t.startswith("docs/") for t in links), "the README links to the manual"
    for target in links:
        path, _, anchor = target.partition("#")
        file = ROOT / path if path else ROOT / "README.md"
        assert file.exists(), f"README.md links to {target}: no such file"
        if anchor and file.suffix == ".md" and file.parent == DOCS:
            assert anchor in {_slug(t) for _, t in _headings(file.stem)}, f"README.md links to {target}: no heading"
