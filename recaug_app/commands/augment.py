"""`recaug augment`: split, generate with a strategy, filter, and write a run folder."""

from __future__ import annotations

import shlex
from typing import Any

import click

from recaug_app.commands.common import (
    continue_command,
    data_options,
    data_spec,
    echo_json,
    folder_to_write,
    invoked_command,
    named_options,
    option_pairs,
    split_options,
    split_spec,
)


def register(cli: click.Group) -> None:
    cli.add_command(augment_command)


def filter_specs(specs: tuple[str, ...] | list[str]) -> list[Any]:
    """``--filter NAME[:key=value,...]`` values as FilterSpecs; a malformed one is an error."""
    from recaug_core.settings import FilterSpec

    parsed = []
    for spec in specs:
        name, options = named_options(spec, "--filter")
        parsed.append(FilterSpec(name=name, options=options))
    return parsed


@click.command("augment")
@data_options
@click.option(
    "--strategy",
    required=True,
    metavar="NAME[:K=V,...]",
    help="Augmentation strategy (see `recaug list strategies`), with options after ':'.",
)
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A strategy option (the same as NAME:KEY=VALUE). Repeatable.",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="NAME[:K=V,...]",
    help="A quality filter with its options after ':', applied in the order given. Repeatable.",
)
@click.option(
    "--dedupe/--no-dedupe", default=True, help="Run the `dedupe` filter first (the default)."
)
@click.option(
    "--budget", type=click.IntRange(min=0), default=None, help="At most N synthetic rows."
)
@click.option(
    "--target",
    type=click.Choice(["sparse", "all", "new", "long-tail"]),
    default="sparse",
    show_default=True,
    help="Whom to augment.",
)
@split_options
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the split and the strategy.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    callback=folder_to_write,
    help="Run folder to write.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted or failed run in --out (one that failed with other settings, "
    "or that differs only in its filters, is taken over: see docs/cli.md).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Delete an unfinished or failed run in --out and start afresh (never a finished one).",
)
@click.option(
    "--mixed-precision",
    type=click.Choice(["no", "fp16", "bf16"]),
    default="no",
    show_default=True,
    help="Mixed precision for torch-based strategies.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's counts as JSON.")
def augment_command(
    split_protocol: str,
    ratios: str,
    split_column: str,
    split_file: str | None,
    train_share: float,
    seed: int,
    out: str,
    resume: bool,
    force: bool,
    mixed_precision: str,
    as_json: bool,
    **given: Any,
) -> None:
    """Generate synthetic training data for DATA (default: demo) into a run folder."""
    from pathlib import Path

    from recaug_core.augmentation import augment, load_and_split
    from recaug_core.errors import Interrupted
    from recaug_core.settings import AugmentPlan, AugmentSettings

    # Each option named like a field of AugmentSettings goes to it by that name.
    chosen = {k: given.pop(k) for k in list(given) if k in AugmentSettings.model_fields}
    chosen["strategy"], given_options = named_options(chosen["strategy"], "--strategy")
    chosen["options"] = given_options | option_pairs(chosen["options"], "--option")
    chosen["filters"] = filter_specs(chosen["filters"])
    # Validate everything the user typed before any data is read.
    settings = AugmentSettings(**chosen).resolved()
    spec = split_spec(split_protocol, ratios, split_column, split_file, train_share)
    plan = AugmentPlan(data=data_spec(**given), split=spec, seed=seed, augment=settings)
    try:
        done = augment(
            Path(out),
            plan,
            lambda: load_and_split(plan.data, spec, seed),
            command=invoked_command(),
            resume=resume,
            force=force,
            mixed_precision=mixed_precision,
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; to continue where it stopped, run: {continue_command('--resume')}"
        ) from None
    if done.result is None:
        click.echo(f"{out} already holds this finished run; nothing to do", err=True)
    if done.main_process:  # under a multi-process launch, the main process reports for all
        _report(done.manifest, as_json, out)


def _report(manifest: Any, as_json: bool, out: str) -> None:
    counts = manifest.counts
    if as_json:
        echo_json(
            {
                "counts": counts.model_dump(mode="json", exclude_none=True),
                "timings": manifest.timings,
                "filter_stats": manifest.filter_stats,
            }
        )
        return
    reasons = ", ".join(f"{k}: {v}" for k, v in counts.rejected_by_reason.items())
    click.echo(
        f"generated {counts.generated} synthetic rows, kept {counts.kept}, "
        f"rejected {counts.rejected}" + (f" ({reasons})" if reasons else "")
    )
    click.echo(f"run folder: {out}")
    click.echo(
        f"next: recaug evaluate --augmented {shlex.quote(out)}  "
        "(a recommender with and without the kept rows, on this run's split)"
    )
