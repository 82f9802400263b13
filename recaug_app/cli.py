"""The `recaug` command line.

Exit codes: 0 done, 2 bad input or usage (one sentence, no traceback), 1 internal error.
``--debug`` (or RECAUG_DEBUG=1) shows tracebacks. Command modules import heavy libraries
inside their functions, so ``recaug --help`` stays fast and never imports torch.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from recaug_core import __version__
from recaug_core.errors import Interrupted, RecaugError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="recaug")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Progress off: no bars, clocks or training messages (RECAUG_PROGRESS=0); each "
    "step's results and errors stay.",
)
def cli(debug: bool, quiet: bool) -> None:
    """Augment recommender training data and prove on held-out data whether it helps."""
    if debug:
        os.environ["RECAUG_DEBUG"] = "1"
    if quiet:  # through the environment, so that worker processes are quiet too
        os.environ["RECAUG_PROGRESS"] = "0"


def register_commands(group: click.Group) -> None:
    """Add the built-in commands, then those that plugins provide, to ``group``."""
    from recaug_app.commands import (
        augment,
        data,
        evaluate,
        export,
        models,
        plugins,
        report,
        run,
    )
    from recaug_core.registry import get_registry

    for module in (plugins, data, augment, evaluate, run, report, export, models):
        module.register(group)
    get_registry().register_commands(group)


def _debug() -> bool:
    return os.environ.get("RECAUG_DEBUG", "") not in {"", "0"} or "--debug" in sys.argv[1:]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and of ``python -m recaug_app``."""
    sys.exit(invoke(argv))


def invoke(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        register_commands(cli)
        # Without standalone mode click returns (not raises) the code of `ctx.exit(n)`.
        # The command line travels in the context, for manifests (commands.common.invoked_command).
        returned = cli.main(
            args=args, prog_name="recaug", standalone_mode=False, obj=["recaug", *args]
        )
        if isinstance(returned, int) and not isinstance(returned, bool):
            return returned
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        # One sentence, like every other bad input (not click's three-line usage block).
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        message = " ".join(exc.format_message().split())
        click.echo(f"error: {message.rstrip('.') if hint else message}{hint}", err=True)
        return 2
    except (click.Abort, KeyboardInterrupt) as exc:
        # click turns Ctrl-C into Abort; a command's Interrupted says how to continue
        cause = exc.__cause__ or exc.__context__
        said = next((str(e) for e in (exc, cause) if isinstance(e, Interrupted)), "")
        click.echo(said or "interrupted", err=True)
        return 130
    except RecaugError as exc:
        if _debug():
            traceback.print_exc()
        click.echo(f"error: {error_line(exc)}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if _debug():
            traceback.print_exc()
        detail = str(exc).strip().splitlines()
        click.echo(
            f"internal error: {type(exc).__name__}: {detail[0] if detail else ''} "
            "(rerun with --debug for the traceback, and please report it)",
            err=True,
        )
        return 1
    return 0


MAX_MESSAGE = 2_000


def error_line(exc: BaseException) -> str:
    """An error's message on one line: a newline inside a name or value the user typed (a
    file name, an option) is shown escaped instead of breaking the sentence; a message made
    huge by something the user passed keeps its start and end."""
    text = str(exc).replace("\r", "\\r").replace("\n", "\\n")
    if len(text) > MAX_MESSAGE:
        cut = len(text) - MAX_MESSAGE
        text = (
            f"{text[: MAX_MESSAGE // 2]} ...({cut:,} characters cut)... {text[-MAX_MESSAGE // 2 :]}"
        )
    return text
