"""Generate docs/cli.md from the click commands, so the reference cannot drift.

    python tools/docgen.py > docs/cli.md              # write
    python tools/docgen.py --check docs/cli.md        # exit 1 if the file is stale

A maintainer's tool, not part of the installed package.

Only recaug's own commands are listed (commands that plugins add vary by installation).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

HEADER = """\
# CLI reference

Generated from the commands by `python tools/docgen.py > docs/cli.md`; a test fails when
this page is out of date. Exit codes: 0 done, 2 bad input or usage (one sentence naming the
file, line or option), 1 internal error, a plugin's failure (naming the component and its
plugin) or (for `recaug run`) a failed arm. `--debug` shows tracebacks. On a terminal, long
steps (reading, cleaning, splitting, writing) show the time they have taken so far;
`RECAUG_PROGRESS=0` turns progress output off.
"""


def render() -> str:
    from recaug_core.cli import cli, register_commands

    register_commands(cli)
    parts = [HEADER]
    parts += _command(cli, "recaug", None, level=2)
    return "\n".join(parts).rstrip() + "\n"


def _own(command: click.Command) -> bool:
    module = getattr(command.callback, "__module__", "") or ""
    return module.startswith("recaug_core") or isinstance(command, click.Group)


def _command(
    command: click.Command, path: str, parent: click.Context | None, level: int
) -> list[str]:
    # context_settings as click applies them (help names -h/--help come from the root's)
    ctx = click.Context(
        command, info_name=path.split()[-1], parent=parent, **command.context_settings
    )
    lines = [f"{'#' * level} `{path}`", ""]
    help_text = (command.help or "").strip()
    if help_text:
        lines += [_dedent(help_text), ""]
    pieces = command.collect_usage_pieces(ctx)
    lines += ["```", f"{path} {' '.join(pieces)}".rstrip(), "```", ""]
    rows = [_option_row(p) for p in command.get_params(ctx) if isinstance(p, click.Option)]
    rows = [r for r in rows if r]
    if rows:
        lines += ["| option | meaning |", "|---|---|", *rows, ""]
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden and _own(sub):
                lines += _command(sub, f"{path} {name}", ctx, level=min(level + 1, 4))
    return lines


def _dedent(text: str) -> str:
    import inspect

    return inspect.cleandoc(text).replace("\b\n", "")


def _option_row(option: click.Option) -> str:
    if option.hidden:
        return ""
    names = ", ".join(f"`{n}`" for n in [*option.opts, *option.secondary_opts])
    if not option.is_flag:
        metavar = option.metavar or (
            "[" + "\\|".join(str(c) for c in option.type.choices) + "]"
            if isinstance(option.type, click.Choice)
            else option.type.name.upper()
        )
        names += f" {metavar}"
    meaning = " ".join((option.help or "").split())
    default = option.default
    if option.show_default and default is not None and default is not False and default != ():
        meaning += f" (default: `{default}`)"
    if option.required:
        meaning += " (required)"
    if option.multiple and "repeatable" not in meaning.lower():
        meaning += " (repeatable)"
    escaped = meaning.replace("|", "\\|")
    return f"| {names} | {escaped} |"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args[:1] == ["--check"] and len(args) == 2:
        current = Path(args[1]).read_text(encoding="utf-8") if Path(args[1]).exists() else ""
        if current != text:
            print(f"{args[1]} is stale: run python tools/docgen.py > {args[1]}")
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
