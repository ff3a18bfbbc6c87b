"""The README and the manual say what the program has: the README is the short front door (≤ 12 KB, the two contract
commands first, one line per command of `liqwatch --help` and no other), docs/commands.md has a section with every
option of every command, and docs/configuration.md and docs/alerts.md every config key."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import msgspec
import typer.main

from liqwatch.cli import app
from liqwatch.config import Settings, describe

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 12 * 1024


def _commands() -> dict[str, Any]:
    """Every command path of the CLI (`up`, `oi import-cme`, `alerts list` …) → its click command."""
    out: dict[str, Any] = {}

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            if not getattr(sub, "hidden", False):
                out[" ".join((*path, name))] = sub
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out


def _options(cmd: Any) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--") and o != "--help"}


def _sections(text: str) -> dict[str, str]:
    """`### liqwatch CMD` heading → the text up to the next heading."""
    parts = re.split(r"^(#{1,6} .*)$", text, flags=re.M)
    return {h.removeprefix("### liqwatch ").strip(): body for h, body in zip(parts[1::2], parts[2::2], strict=True)
            if h.startswith("### liqwatch ")}


def test_the_readme_is_short_and_opens_with_the_two_contract_commands() -> None:
    raw = README.read_bytes()
    assert len(raw) <= README_MAX_BYTES, f"README.md is {len(raw)} bytes; the manual belongs in docs/"
    text = raw.decode()
    before_first_block = text.split("```", 1)[0].strip().splitlines()
    assert before_first_block[0] == "# liqwatch"
    pitch = [line for line in before_first_block[1:] if line.strip()]
    assert len(pitch) <= 2, "at most a two-line pitch before the opening commands"
    blocks = re.findall(r"```(?:\w+)?\n(.*?)```", text, flags=re.S)
    assert [b.strip() for b in blocks[:2]] == ["pip install '.[web]' && liqwatch up",
                                                "pip install -e '.[test]' && python -m pytest"]


def test_the_readme_has_one_line_per_command_and_no_other() -> None:
    top = {path for path in _commands() if " " not in path}
    assert len(top) >= 25 and {"up", "demo", "collect", "ingest", "serve", "record", "replay"} <= top
    text = README.read_text()
    listed = re.findall(r"^\| `liqwatch ([a-z][a-z\-]*)", text, flags=re.M)
    assert sorted(listed) == sorted(top), "README's command table must list each command of `liqwatch --help` once"
    # after the two opening commands, the quick start leads with the offline demo, then `liqwatch up`
    quick = text[text.index("## Quick start"):text.index("\n## ", text.index("## Quick start") + 1)]
    assert "liqwatch demo" in quick and "liqwatch up" in quick
    assert quick.index("liqwatch demo") < quick.index("liqwatch up")
    assert text.index("liqwatch demo") > text.index("python -m pytest")


def test_the_commands_page_has_every_command_and_every_option() -> None:
    sections = _sections((DOCS / "commands.md").read_text())
    commands = _commands()
    assert sorted(sections) == sorted(commands), "docs/commands.md needs one `### liqwatch CMD` per command"
    missing = {path: sorted(o for o in _options(cmd) if o not in sections[path]) for path, cmd in commands.items()}
    assert {p: m for p, m in missing.items() if m} == {}
    assert "--token-file" in sections["watch"] and "--until-idle" in sections["ingest"]


def _fields(struct: type) -> list[str]:
    return [f.name for f in msgspec.structs.fields(struct)]


def test_the_configuration_page_has_every_key() -> None:
    page = (DOCS / "configuration.md").read_text()
    keys = [key for key, _, _ in describe(Settings())]
    assert "store.path" in keys and "bus.ack_timeout_s" in keys and len(keys) > 50
    hints = typing.get_type_hints(Settings)
    venue = typing.get_args(hints["venues"])[1]
    levels = typing.get_args(typing.get_type_hints(type(Settings().signals))["levels"])[1]
    keys += [f"venues.<name>.{f}" for f in _fields(venue)] + [f"signals.levels.<coin>.{f}" for f in _fields(levels)]
    assert [k for k in keys if f"`{k}`" not in page] == []


def test_the_alerts_page_has_every_rule_type_and_its_keys() -> None:
    page = (DOCS / "alerts.md").read_text()
    rules_hint = typing.get_type_hints(type(Settings().alerts))["rules"]
    rule_types = typing.get_args(typing.get_args(rules_hint)[0])
    assert len(rule_types) == 6
    common = {"name", "venue", "cooldown", "enabled"}
    common_line = next(line for line in page.splitlines() if line.startswith("Common keys of every rule"))
    assert all(f"`{k}`" in common_line for k in common)
    for rule in rule_types:
        tag = rule.__struct_config__.tag
        row = next((line for line in page.splitlines() if line.startswith(f"| `{tag}` |")), None)
        assert row is not None, f"docs/alerts.md has no row for rule type {tag}"
        assert [k for k in _fields(rule) if k not in common and f"`{k}`" not in row] == [], tag
