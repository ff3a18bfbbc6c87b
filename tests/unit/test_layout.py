"""The package layout: rooms, the direction of imports between them, one parse guard, names a newcomer can tell apart.

docs/architecture.md explains the rooms; this test is what keeps them true. Every `import` and `from … import` in
src/liqwatch counts (module level, inside functions and under TYPE_CHECKING alike).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import liqwatch

PKG = Path(liqwatch.__file__).parent

# The data flow, bottom first: a room may import itself and the rooms of a lower rank, nothing else.
RANKS: dict[str, int] = {
    "basics": 0,  # model/, errors.py, logs.py, redact.py
    "venues": 1,
    "config": 2,
    "transport": 2,
    "feeds": 3,
    "capture": 4,
    "bus": 5,
    "storage": 6,
    "heatmap": 7,
    "backfill": 7,
    "sim": 7,
    "analytics": 8,
    "alerts": 9,
    "web": 10,
    "roles": 11,
    "api": 11,
    "cli": 12,
}
BASICS = {"model", "errors", "logs", "redact"}
ENTRY = {"__init__", "__main__"}  # the public surface re-exports (and `python -m liqwatch` runs) from above
ROOT_MODULES = {"__init__", "__main__", "api", "errors", "logs", "redact"}


def room_of(module: str) -> str | None:
    """Return the room of a dotted liqwatch module name, or None for the package root's entry modules."""
    parts = module.split(".")
    assert parts[0] == "liqwatch", module
    if len(parts) == 1 or parts[1] in ENTRY:
        return None
    top = parts[1]
    return "basics" if top in BASICS else top


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _is_package(module: str) -> bool:
    return (PKG.parent / module.replace(".", "/") / "__init__.py").is_file()


def _resolve(node: ast.ImportFrom, current: str) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not _is_package(current):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def liqwatch_imports(path: Path) -> list[tuple[int, str]]:
    """Return (line, imported liqwatch module) for every import in a source file; `from pkg import sub` names sub."""
    current = _module_name(path)
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "liqwatch"]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, current)
            if module.split(".")[0] != "liqwatch":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if (PKG.parent / (sub.replace(".", "/") + ".py")).is_file() or _is_package(sub):
                    out.append((node.lineno, sub))
                elif module == "liqwatch" and alias.name == "__version__":
                    continue  # a constant of the package root, not an import of the public surface
                else:
                    out.append((node.lineno, module))
    return out


def sources() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def violations(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        mine = room_of(_module_name(path))
        if mine is None:
            continue
        for line, target in liqwatch_imports(path):
            theirs = room_of(target)
            if theirs is None:
                found.append(f"{path.relative_to(PKG)}:{line} imports {target}: the package root is the public surface")
            elif theirs != mine and RANKS[theirs] >= RANKS[mine]:
                found.append(f"{path.relative_to(PKG)}:{line} ({mine}) imports {target} ({theirs}): against the data flow")
    return found


def test_every_module_is_in_a_known_room() -> None:
    rooms = {room_of(_module_name(p)) for p in sources()} - {None}
    assert rooms <= set(RANKS), f"new room(s) {sorted(rooms - set(RANKS))}: give them a rank here and in docs/architecture.md"
    assert rooms == set(RANKS), f"rooms in RANKS that no longer exist: {sorted(set(RANKS) - rooms)}"


def test_no_import_points_against_the_data_flow() -> None:
    assert violations(sources()) == []


def test_the_direction_check_catches_a_new_wrong_import(tmp_path: Path) -> None:
    # the check itself: a venue parser importing the store, and the store importing the web, are both reported
    for rel, text in [("venues/_bad.py", "from liqwatch.storage import open_store\n"), ("storage/_bad.py", "import liqwatch.web.asgi\n")]:
        bad = PKG / rel
        bad.write_text(text)
        try:
            (found,) = violations([bad])
        finally:
            bad.unlink()
        assert "against the data flow" in found and rel in found


def test_the_package_root_holds_only_the_public_surface_and_basics() -> None:
    loose = {p.stem for p in PKG.glob("*.py")}
    assert loose == ROOT_MODULES


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    for init in sorted(PKG.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        room = init.parent.name
        assert doc.lower().startswith(room.lower()) or (room == "model" and doc.startswith("Model")), (
            f"{room}/__init__.py: the docstring should open with the room's name, then what lives there"
        )
        assert re.search(r"\bimport", doc) or room == "cli", f"{room}/__init__.py: say what the room may import"


def test_no_two_modules_differ_only_by_a_suffix() -> None:
    # record / recorder / recording, ingest / ingester, bus / bus_nats, serve / server: a newcomer cannot tell them apart
    names = {p.stem.lstrip("_") for p in sources() if p.stem not in ENTRY} | {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    suffixes = ("er", "ing", "r", "s", "or", "ion", "_nats", "_cmd", "_server")
    clash = sorted((a, b) for a in names for b in names if a != b and any(b == a + s for s in suffixes))
    assert clash == []


@pytest.mark.parametrize("command", ["up", "collect", "ingest", "serve", "record", "replay", "demo", "doctor"])
def test_each_command_is_assembled_by_its_role(command: str) -> None:
    assert (PKG / "roles" / f"{command}.py").is_file()
    cli = PKG / "cli" / f"{command}.py"
    assert f"liqwatch.roles.{command}" in {m for _, m in liqwatch_imports(cli)}, f"cli/{command}.py should call roles/{command}.py"


def test_venue_parsers_are_called_only_through_the_one_parse_guard() -> None:
    # live frames (feeds.venue_feed), polled bodies (feeds.poller), replayed files (capture.playback) and `doctor` all
    # go through feeds.parse: the same range checks and skip reasons for every frame wherever it comes from. The
    # backfill page parsers (backfill/<venue>.py) are venue-format code like venues/ (a history page may reuse a
    # venue's REST parser); backfill/runner.py passes their events through the same range checks (feeds.parse.in_range).
    calls = []
    for path in sources():
        rel = str(path.relative_to(PKG))
        if rel.startswith(("venues/", "sim/")) or rel == "feeds/parse.py" or (rel.startswith("backfill/") and rel != "backfill/runner.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("parse_frame", "parse_poll"):
                calls.append(f"{rel}:{node.lineno} calls {node.func.attr}")
    assert calls == []
    runner = {m for _, m in liqwatch_imports(PKG / "backfill" / "runner.py")}
    assert "liqwatch.feeds.parse" in runner, "backfilled events must pass the parse guard's range checks"
