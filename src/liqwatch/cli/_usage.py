"""Click's exceptions, wherever the installed typer gets them, and the one-line form of a usage error.

typer ≤ 0.2x runs on the `click` package; newer typer ships its own copy as `typer._click` and raises
`typer.exceptions.Exit`/`Abort`. `main()` runs the app outside click's standalone mode, so it must catch the
classes of whichever copy is installed: both are collected here (a missing module is simply absent).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TextIO


def _modules() -> list[ModuleType]:
    out: list[ModuleType] = []
    for name in ("typer._click.exceptions", "click.exceptions", "typer.exceptions"):
        try:
            out.append(importlib.import_module(name))
        except ImportError:
            continue
    return out


def _classes(name: str, modules: list[ModuleType]) -> tuple[type[BaseException], ...]:
    found = (getattr(m, name, None) for m in modules)
    return tuple(dict.fromkeys(c for c in found if isinstance(c, type) and issubclass(c, BaseException)))


@dataclass(frozen=True)
class ClickExceptions:
    """The exception classes of every click copy installed (one or two of each)."""

    usage: tuple[type[BaseException], ...]  # UsageError: bad option, missing argument, unknown command, bad value
    click: tuple[type[BaseException], ...]  # ClickException: any other error click shows to the user
    exit: tuple[type[BaseException], ...]  # Exit: a requested exit with a code
    abort: tuple[type[BaseException], ...]  # Abort: Ctrl-C / EOF at a prompt


def click_exceptions() -> ClickExceptions:
    mods = _modules()
    return ClickExceptions(
        usage=_classes("UsageError", mods),
        click=_classes("ClickException", mods),
        exit=_classes("Exit", mods),
        abort=_classes("Abort", mods),
    )


def _message(exc: BaseException) -> str:
    fmt = getattr(exc, "format_message", None)
    text = str(fmt() if callable(fmt) else exc)
    return " ".join(text.split())  # one line, whatever the message carries


def show_usage_error(exc: BaseException, file: TextIO) -> None:
    """Print `error: <what>` on one line, then the command's usage line and where to find help."""
    print(f"error: {_message(exc)}", file=file)
    ctx: Any = getattr(exc, "ctx", None)
    if ctx is None:
        return
    try:
        usage = str(ctx.get_usage()).strip()
        help_names = list(ctx.help_option_names)
        path = str(ctx.command_path)
    except Exception:  # an unexpected context shape still leaves the error line
        return
    if usage:
        print(usage.splitlines()[0], file=file)
    if help_names:
        print(f"Try '{path} {help_names[0]}' for help.", file=file)


def show_click_error(exc: BaseException, file: TextIO) -> None:
    """Print any other click error on one line."""
    print(f"error: {_message(exc)}", file=file)


def exit_code(exc: BaseException, default: int) -> int:
    code = getattr(exc, "exit_code", default)
    return code if isinstance(code, int) else default
