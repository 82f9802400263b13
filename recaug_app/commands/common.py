"""Options that several commands share: where the data comes from and how it is cleaned."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def folder_to_write(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback for --out and RUN_DIR: an empty path would mean the current folder,
    and a FIFO or a device cannot be one."""
    from recaug_core.files import special_file_kind

    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("is empty; name the folder to write")
    kind = special_file_kind(value)
    if kind is not None:
        raise click.BadParameter(f"{value} is {kind}, not a folder")
    return value


def data_options(func: F) -> F:
    """DATA (default `demo`), --source, -s KEY=VALUE, and the cleaning options."""
    decorators = [
        click.argument("data", default=None, required=False),
        click.option(
            "--source",
            metavar="NAME[:K=V,...]",
            help="Read DATA with this source (default: detect), with options after ':'.",
        ),
        click.option(
            "-s",
            "--source-option",
            "source_options",
            multiple=True,
            metavar="KEY=VALUE",
            help="An option of the data source (e.g. -s user=userId); works with a detected "
            "source too. Repeatable.",
        ),
        click.option(
            "--min-rating",
            type=float,
            default=None,
            help="Drop rated interactions below this rating.",
        ),
        click.option(
            "--kcore",
            type=click.IntRange(min=0),
            default=0,
            help="Keep only users and items with at least K interactions.",
        ),
        click.option(
            "--keep-repeats",
            is_flag=True,
            help="Keep repeated (user, item) pairs (default: keep the latest).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def data_spec(
    data: str | None,
    source: str | None,
    source_options: tuple[str, ...],
    min_rating: float | None,
    kcore: int,
    keep_repeats: bool,
) -> Any:
    """The data the options of ``data_options`` describe."""
    from pydantic import ValidationError

    from recaug_core.clean import CleanOptions
    from recaug_core.errors import RecaugError
    from recaug_core.settings import DataSpec

    try:
        clean = CleanOptions(keep_repeats=keep_repeats, min_rating=min_rating, kcore=kcore)
    except ValidationError:
        raise RecaugError(f"--min-rating {min_rating}: expected a finite number") from None
    name, options = (None, {}) if source is None else named_options(source, "--source")
    return DataSpec(
        ref=data or "demo",
        source=name,
        options=options | option_pairs(source_options, "--source-option"),
        clean=clean,
    )


def load_from_cli(**data_args: Any) -> Any:
    """The cleaned data the options of ``data_options`` describe."""
    from recaug_core.loading import load

    return load(data_spec(**data_args))


def split_options(func: F) -> F:
    decorators = [
        click.option(
            "--split",
            "split_protocol",
            default="random-by-user",
            show_default=True,
            type=click.Choice(
                ["random-by-user", "temporal-by-user", "leave-one-out", "global-temporal", "given"]
            ),
            help="How to hold out validation and test interactions.",
        ),
        click.option(
            "--ratios",
            default="0.8,0.1,0.1",
            show_default=True,
            help="Train,valid,test shares for ratio-based splits.",
        ),
        click.option(
            "--split-column",
            default="split",
            show_default=True,
            help="Column holding train/valid/test for --split given.",
        ),
        click.option(
            "--split-file",
            default=None,
            metavar="FILE",
            type=click.Path(dir_okay=False),
            help="For --split given: a CSV file of user_id,item_id,split instead of a column.",
        ),
        click.option(
            "--train-share",
            type=click.FloatRange(0.0, 1.0, min_open=True),
            default=1.0,
            show_default=True,
            help="Keep this random share of each user's training rows (at least one), "
            "validation and test untouched: a sparser copy of the data.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def split_spec(
    protocol: str, ratios: str, column: str, file: str | None = None, train_share: float = 1.0
) -> Any:
    from pathlib import Path

    from pydantic import ValidationError

    from recaug_core.errors import RecaugError
    from recaug_core.split import SplitSpec

    if file is not None and protocol != "given":
        raise RecaugError(f"--split-file {file}: it gives the split, so add --split given")
    try:
        shares = tuple(float(x) for x in ratios.split(","))
        spec = SplitSpec(
            protocol=protocol,  # type: ignore[arg-type]
            ratios=shares,  # type: ignore[arg-type]
            column=column,
            train_share=train_share,
        )
    except (ValueError, ValidationError):
        raise RecaugError(
            f"--ratios {ratios!r}: expected three shares like 0.8,0.1,0.1 that sum to 1"
        ) from None
    # absolute: a run continued from another folder must find (and fingerprint) the same file
    return spec if file is None else spec.model_copy(update={"file": str(Path(file).resolve())})


def option_pairs(pairs: tuple[str, ...] | list[str], option: str) -> dict[str, str]:
    """Repeated ``KEY=VALUE`` values of ``option``; a malformed one is a usage error."""
    from recaug_core.api import parse_pairs
    from recaug_core.errors import RecaugError

    try:
        return parse_pairs(pairs)
    except ValueError as exc:
        raise RecaugError(f"{option} {exc}") from None


def named_options(spec: str, option: str) -> tuple[str, dict[str, str]]:
    """``NAME[:key=value,...]`` given to ``option`` (``--strategy``, ``--filter``, ...):
    the syntax every component accepts on the command line."""
    from recaug_core.api import parse_spec
    from recaug_core.errors import RecaugError

    try:
        return parse_spec(spec)
    except ValueError as exc:
        raise RecaugError(f"{option} {spec!r}: {exc}") from None


def invoked_command() -> list[str]:
    """The command line being run, as `recaug.cli.invoke` put it in the click context (for
    run manifests)."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and isinstance(root.obj, list):
        return list(root.obj)
    return list(sys.argv)


def continue_command(flag: str | None = None) -> str:
    """The command line being run, ready to paste (with ``flag`` added if it is missing): what
    an interrupted command tells the user to run to continue."""
    import shlex

    args = invoked_command()
    if flag is not None and flag not in args:
        args.append(flag)
    return shlex.join(args)


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))
