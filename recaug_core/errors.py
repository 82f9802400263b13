"""Errors that reach the user as one sentence (exit code 2) instead of a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

SHOWN_CHARACTERS = 60


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters: a bad value may be
    megabytes long, and the message must stay one readable line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value):,} characters)" if isinstance(value, (str, bytes)) else ""
    return f"{text[: limit - 3]}...{size}"


def unknown_name_message(
    what: str, name: str, known: Iterable[str], label: str, guess: str | None = None
) -> str:
    """``unknown option 'epoch' for strategy 'x'; did you mean 'epochs'? (valid options:
    ...)``: the closest known names (difflib, or one the name begins) first, then all.
    ``guess`` is the caller's own better guess, used when no known name is close."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
    # a prefix ("lora" for "lora-gen") is as good a guess as a near spelling
    close += [n for n in names if name and n.startswith(name) and n not in close][:1]
    if close:
        guess = " or ".join(f"'{c}'" for c in close[:2])
    hint = f"; did you mean {guess}?" if guess else ""
    return f"unknown {what}{hint} ({label}: {', '.join(names) or 'none'})"


class RecaugError(Exception):
    """Bad input, usage or configuration: the CLI prints the message and exits with code 2.

    ``stage`` names the step of an augmentation the error stopped (set on the way out).
    """

    exit_code = 2
    stage: str | None = None


class DataError(RecaugError):
    """A data file or table that cannot be read, naming where: file, line (or row of a table
    that did not come from a file, 1-based) and column."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.row = row
        self.column = column
        self.reason = message
        where = []
        if file is not None:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        elif row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class OptionsError(RecaugError):
    """An option that a component does not know or cannot accept."""


class PluginError(RecaugError):
    """A plugin that failed to load, registered a clashing name, or is unknown."""


class PluginFailure(PluginError):
    """A plugin raised while running: not the user's input, so the CLI exits with code 1.

    ``component`` and ``stage`` name the failing component and the method it was in, for
    callers (the experiment runner) that report them without parsing the message.
    """

    exit_code = 1

    def __init__(self, message: str, *, component: str, stage: str) -> None:
        super().__init__(message)
        self.component = component
        self.stage = stage


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what the user can do next (``run the same command with --resume``): the
    CLI prints the message and exits with code 130."""
