"""`recaug augment`: split, generate with a strategy, filter, and write a run folder."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from recaug_core.commands.common import (
    data_options,
    echo_json,
    invoked_command,
    load_from_cli,
    option_pairs,
    split_options,
    split_spec,
)

DEFAULT_FILTER = "dedupe"


def register(cli: click.Group) -> None:
    cli.add_command(augment_command)


def parse_filter_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``NAME[:key=value,...]`` -> (name, options)."""
    from recaug_core.api import parse_spec
    from recaug_core.errors import RecaugError

    try:
        return parse_spec(spec)
    except ValueError as exc:
        raise RecaugError(f"--filter {spec!r}: {exc}") from None


def build_filters(specs: tuple[str, ...] | list[str], *, default_dedupe: bool) -> list[Any]:
    """Instantiate filters in order; ``dedupe`` goes first unless listed or disabled."""
    from recaug_core.registry import create, get_registry

    parsed = [parse_filter_spec(spec) for spec in specs]
    names = [name for name, _ in parsed]
    if (
        default_dedupe
        and DEFAULT_FILTER not in names
        and DEFAULT_FILTER in get_registry().components("filters")
    ):
        parsed.insert(0, (DEFAULT_FILTER, {}))
    return [create("filters", name, options) for name, options in parsed]


@click.command("augment")
@data_options
@click.option(
    "--strategy",
    required=True,
    metavar="NAME",
    help="Augmentation strategy (see `recaug list strategies`).",
)
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A strategy option. Repeatable.",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="NAME[:K=V,...]",
    help="A quality filter, applied in the order given. Repeatable.",
)
@click.option("--no-dedupe", is_flag=True, help="Do not run the `dedupe` filter first.")
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
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder to write.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option(
    "--mixed-precision",
    type=click.Choice(["no", "fp16", "bf16"]),
    default="no",
    show_default=True,
    help="Mixed precision for torch-based strategies.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's counts as JSON.")
def augment_command(
    strategy: str,
    options: tuple[str, ...],
    filters: tuple[str, ...],
    no_dedupe: bool,
    budget: int | None,
    target: str,
    split_protocol: str,
    ratios: str,
    split_column: str,
    seed: int,
    out: str,
    resume: bool,
    mixed_precision: str,
    as_json: bool,
    **data_args: Any,
) -> None:
    """Generate synthetic training data for DATA (default: demo) into a run folder."""
    from pathlib import Path

    from recaug_core.api import GenerationRequest
    from recaug_core.pipeline import (
        augment_split,
        generate_synthetic,
        read_generated,
        write_generated,
        write_run,
    )
    from recaug_core.registry import create
    from recaug_core.runfolder import RunFolder
    from recaug_core.runtime import Context
    from recaug_core.split import split_dataset

    # Validate everything the user typed before any data is read.
    strategy_obj = create("strategies", strategy, option_pairs(options, "--option"))
    filter_objs = build_filters(filters, default_dedupe=not no_dedupe)
    spec = split_spec(split_protocol, ratios, split_column)
    request = GenerationRequest(budget=budget, target=target)  # type: ignore[arg-type]
    fingerprint = {
        "data": {k: v for k, v in data_args.items()},
        "split": spec.model_dump(mode="json"),
        "seed": seed,
        "strategy": {"name": strategy, "options": strategy_obj.options_dict()},
        "filters": [{"name": f.name, "options": f.options_dict()} for f in filter_objs],
        "request": {"budget": budget, "target": target},
    }
    folder = RunFolder(Path(out))
    resuming = folder.open(fingerprint, resume=resume, command=invoked_command())
    try:
        if resuming and folder.done:
            click.echo(f"{out} already holds this finished run; nothing to do", err=True)
            _report(folder.manifest, as_json)
            return
        started = time.perf_counter()
        loaded = load_from_cli(**data_args)
        split = split_dataset(loaded.dataset, spec, seed=seed)
        split_s = time.perf_counter() - started - loaded.info["load_s"] - loaded.info["clean_s"]
        ctx = Context(
            seed=seed, work_dir=Path(out), resume=resuming, mixed_precision=mixed_precision
        )
        generated = None
        if resuming and folder.stage_done("generate"):
            generated = read_generated(folder)
        ctx.log(f"augmenting {len(split.train)} training rows with strategy '{strategy}'")
        if generated is None:
            generated = generate_synthetic(strategy_obj, split.train, request, ctx)
            write_generated(folder, generated)
            folder.mark_stage(
                "generate",
                rows=generated.interactions.num_rows,
                **{k: round(v, 4) for k, v in generated.timings.items()},
            )
        result = augment_split(split, strategy_obj, filter_objs, request, ctx, generated=generated)
        write_started = time.perf_counter()
        write_run(folder, split, result)
        timings = {
            "load_s": loaded.info["load_s"],
            "clean_s": loaded.info["clean_s"],
            "split_s": round(split_s, 4),
            **{k: round(v, 4) for k, v in result.timings.items()},
            "write_s": round(time.perf_counter() - write_started, 4),
        }
        folder.finish(
            seed=seed,
            data=loaded.info,
            split=split.info(),
            strategy={"name": strategy, "options": strategy_obj.options_dict()},
            filters=[{"name": f.name, "options": f.options_dict()} for f in filter_objs],
            request={"budget": budget, "target": target},
            counts=result.counts,
            filter_stats=result.filter_stats,
            timings=timings,
            plugins={info.name: info.version for info in _plugin_infos()},
        )
    except BaseException as exc:
        folder.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        folder.close()
    if folder.writer:  # under a multi-process launch, the main process reports for all
        _report(folder.manifest, as_json)


def _plugin_infos() -> list[Any]:
    from recaug_core.registry import get_registry

    return get_registry().plugin_infos()


def _report(manifest: dict[str, Any], as_json: bool) -> None:
    counts = manifest.get("counts", {})
    if as_json:
        echo_json(
            {
                "counts": counts,
                "timings": manifest.get("timings", {}),
                "filter_stats": manifest.get("filter_stats", {}),
            }
        )
        return
    reasons = ", ".join(f"{k}: {v}" for k, v in counts.get("rejected_by_reason", {}).items())
    click.echo(
        f"generated {counts.get('generated', 0)} synthetic rows, kept {counts.get('kept', 0)}, "
        f"rejected {counts.get('rejected', 0)}" + (f" ({reasons})" if reasons else ""),
        file=sys.stdout,
    )
