"""`recaug evaluate`: train a backend on the training split, rank all items for test users."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from recaug_core.commands.common import (
    data_options,
    echo_json,
    load_from_cli,
    option_pairs,
    split_options,
    split_spec,
)

DEFAULT_BACKEND = "embedding"
SHOWN = ("recall", "ndcg", "hit", "mrr", "precision", "coverage", "tail_share")


def register(cli: click.Group) -> None:
    cli.add_command(evaluate_command)


def parse_ks(text: str) -> tuple[int, ...]:
    from recaug_core.errors import RecaugError

    try:
        ks = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        ks = ()
    if not ks or min(ks) < 1:
        raise RecaugError(f"--k {text!r}: expected positive cut-offs like 10,20")
    return ks


@click.command("evaluate")
@data_options
@click.option(
    "--augmented",
    "augmented_dir",
    type=click.Path(file_okay=False),
    help="A run folder of `recaug augment`: compare baseline vs augmented on its split.",
)
@click.option(
    "--backend",
    default=DEFAULT_BACKEND,
    show_default=True,
    metavar="NAME",
    help="Recommender backend (see `recaug list backends`).",
)
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A backend option. Repeatable.",
)
@click.option(
    "--k", "k_text", default="10,20", show_default=True, help="Cut-offs, comma-separated."
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Repeat with N seeds and report mean and standard deviation.",
)
@click.option(
    "--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="First seed."
)
@split_options
@click.option(
    "--mixed-precision", type=click.Choice(["no", "fp16", "bf16"]), default="no", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def evaluate_command(
    augmented_dir: str | None,
    backend: str,
    options: tuple[str, ...],
    k_text: str,
    seeds: int,
    seed: int,
    split_protocol: str,
    ratios: str,
    split_column: str,
    mixed_precision: str,
    as_json: bool,
    **data_args: Any,
) -> None:
    """Measure a recommender on DATA's held-out test split (baseline, or vs an augmented run)."""
    from recaug_core.registry import get_registry

    ks = parse_ks(k_text)
    backend_cls = get_registry().get("backends", backend)
    backend_options = backend_cls.parse_options(option_pairs(options, "--option"))
    started = time.perf_counter()
    if augmented_dir is not None:
        result = _compare_with_run(
            Path(augmented_dir), backend_cls, backend_options, ks, seeds, mixed_precision, data_args
        )
    else:
        spec = split_spec(split_protocol, ratios, split_column)
        loaded = load_from_cli(**data_args)
        result = _baseline_only(
            loaded.dataset,
            spec,
            backend_cls,
            backend_options,
            ks,
            range(seed, seed + seeds),
            mixed_precision,
        )
    result["backend"] = {"name": backend, "options": backend_options.model_dump(mode="json")}
    result["timings"]["total_s"] = round(time.perf_counter() - started, 4)
    if as_json:
        echo_json(result)
    else:
        _print_table(result, ks)


def _context(seed: int, mixed_precision: str) -> Any:
    from recaug_core.runtime import Context

    return Context(seed=seed, mixed_precision=mixed_precision)


def _baseline_only(
    dataset: Any,
    spec: Any,
    backend_cls: Any,
    options: Any,
    ks: tuple[int, ...],
    seeds: range,
    mixed_precision: str,
) -> dict[str, Any]:
    from recaug_core.evaluate import aggregate, evaluate_model
    from recaug_core.split import split_dataset

    # Each seed draws its own split and its own initialisation, as `recaug run` does: the
    # spread then covers both sources of chance. (A run folder has one split, so
    # --augmented repeats training only.)
    runs, timings, splits = [], [], []
    for s in seeds:
        split = split_dataset(dataset, spec, seed=s)
        metrics, timing = evaluate_model(
            backend_cls, options, split, split.train, ks, _context(s, mixed_precision)
        )
        runs.append(metrics)
        timings.append(timing)
        splits.append(split.info())
    return {
        "baseline": aggregate(runs),
        "split": splits[0] | {"seeds": list(seeds), "per_seed": splits},
        "timings": _sum_timings(timings, "baseline"),
    }


def _compare_with_run(
    folder: Path,
    backend_cls: Any,
    options: Any,
    ks: tuple[int, ...],
    seeds: int,
    mixed_precision: str,
    data_args: dict[str, Any],
) -> dict[str, Any]:
    from recaug_core.errors import RecaugError
    from recaug_core.evaluate import aggregate, evaluate_model, relative_change
    from recaug_core.runfolder import read_manifest
    from recaug_core.runs import load_run

    manifest = read_manifest(folder)
    recorded = manifest.get("data", {}).get("ref")
    if data_args.get("data") not in (None, recorded):
        raise RecaugError(
            f"DATA {data_args['data']!r} differs from the data of run {folder} ({recorded!r}); "
            "with --augmented the run's own split is used, so leave DATA out"
        )
    run = load_run(folder)
    base_seed = int(manifest.get("seed", 0))
    baseline, augmented, t_base, t_aug = [], [], [], []
    for s in range(base_seed, base_seed + seeds):
        m, t = evaluate_model(
            backend_cls, options, run.split, run.split.train, ks, _context(s, mixed_precision)
        )
        baseline.append(m)
        t_base.append(t)
        m, t = evaluate_model(
            backend_cls, options, run.split, run.augmented, ks, _context(s, mixed_precision)
        )
        augmented.append(m)
        t_aug.append(t)
    base, aug = aggregate(baseline), aggregate(augmented)
    return {
        "baseline": base,
        "augmented": aug,
        "change": relative_change(base, aug),
        "split": run.split.info() | {"from_run": str(folder)},
        "run": {"strategy": manifest.get("strategy"), "counts": manifest.get("counts")},
        "timings": _sum_timings(t_base, "baseline") | _sum_timings(t_aug, "augmented"),
    }


def _sum_timings(timings: list[dict[str, float]], prefix: str) -> dict[str, float]:
    keys = timings[0].keys() if timings else []
    return {f"{prefix}_{k}": round(sum(t[k] for t in timings), 4) for k in keys}


def _print_table(result: dict[str, Any], ks: tuple[int, ...]) -> None:
    baseline = result["baseline"]
    augmented = result.get("augmented")
    names = [f"{m}@{k}" for m in SHOWN for k in ks]
    header = f"{'metric':<18}{'baseline':>12}"
    if augmented is not None:
        header += f"{'augmented':>12}{'change':>10}"
    click.echo(header)
    for name in names:
        line = f"{name:<18}{_fmt(baseline, name):>12}"
        if augmented is not None:
            change = result["change"].get(name)
            shown = "n/a" if change is None else f"{change:+.1%}"
            line += f"{_fmt(augmented, name):>12}{shown:>10}"
        click.echo(line)
    groups = baseline.get("groups", {})
    for group, values in groups.items():
        key = f"ndcg@{ks[0]}"
        line = f"  {group} users ({values['users']}): {key} {values[key]:.4f}"
        if augmented is not None:
            line += f" -> {augmented['groups'][group][key]:.4f}"
        click.echo(line)
    split = result["split"]
    click.echo(
        f"split {split['protocol']}: {split['train']['rows']} train / "
        f"{split['valid']['rows']} valid / {split['test']['rows']} test rows; "
        f"{baseline['users']} test users ranked over all items"
    )


def _fmt(metrics: dict[str, Any], name: str) -> str:
    value = metrics.get(name)
    if value is None:
        return "-"
    std = metrics.get("std", {}).get(name)
    return f"{value:.4f}" if not std else f"{value:.4f}±{std:.3f}"
