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
plugin) or (for `recaug run`) a failed arm. `--debug` shows tracebacks.

**Progress** goes to stderr. On a terminal (or in a notebook) progress bars redraw in place
and long steps (reading, cleaning, splitting, writing) show the time they have taken so far;
each bar names what it trains (`lightgcn (baseline, seed 0)`), and an epoch bar under early
stopping counts up to its maximum and ends where training stopped. Where stderr is a file or
a pipe (a log, CI), nothing redraws: each finished bar writes one line instead
(`lightgcn (augmented, seed 0): 31/31 epoch in 00:12 (loss=..., stopped=no gain in 5 epochs)`).
`recaug --quiet COMMAND` (or `RECAUG_PROGRESS=0`) turns progress output off;
`RECAUG_PROGRESS=1` draws the bars even into a log. transformers' own bars (loading weights)
are never shown.

**Options** of a component follow its name after `:` everywhere: `--strategy vae:epochs=3`,
`--filter popularity:max_head_share=0.5`, `--backend embedding:model=bpr`, `--source
table:user=account`. `-o KEY=VALUE` (strategy or backend) and `-s KEY=VALUE` (source) say the
same one option at a time. A comma separates options except inside quotes
(`--filter 'blocklist:file="a,b.txt"'`) or before a part without `=` (`ops=crop,mask` is one
list). `recaug list KIND` prints each kind's syntax and options.

**Run folders.** `recaug augment` never overwrites a finished run. An interrupted or failed one
in `--out` is continued with `--resume` (when only the filters changed, its generated rows are
filtered again; a failed run of other settings is replaced, since nothing in it can be used),
or deleted with `--force` to start afresh. `recaug run` continues its `--out` by itself: run
the same command again; a failed arm's folder of other settings may be deleted safely, the
other arms stay cached.
"""


def render() -> str:
    from recaug_app.cli import cli, register_commands

    register_commands(cli)
    parts = [HEADER]
    parts += _command(cli, "recaug", None, level=2)
    return "\n".join(parts).rstrip() + "\n"


def _own(command: click.Command) -> bool:
    module = getattr(command.callback, "__module__", "") or ""
    return module.startswith("recaug_app") or isinstance(command, click.Group)


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
