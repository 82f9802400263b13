"""`recaug evaluate`: train a backend on the training split, rank all items for test users."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from recaug_app.commands.common import (
    data_options,
    echo_json,
    load_from_cli,
    named_options,
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
    metavar="NAME[:K=V,...]",
    help="Recommender backend (see `recaug list backends`), with options after ':'.",
)
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A backend option (the same as NAME:KEY=VALUE). Repeatable.",
)
@click.option(
    "--merge",
    "merge_spec",
    default="concat",
    show_default=True,
    metavar="POLICY",
    help="With --augmented: how synthetic rows enter training: concat, pretrain, view, or "
    "weighted:weight=W[,by=score] (docs/experiments.md#merge-policies).",
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
    merge_spec: str,
    k_text: str,
    seeds: int,
    seed: int,
    split_protocol: str,
    ratios: str,
    split_column: str,
    split_file: str | None,
    train_share: float,
    mixed_precision: str,
    as_json: bool,
    **data_args: Any,
) -> None:
    """Measure a recommender on DATA's held-out test split (baseline, or vs an augmented run)."""
    from recaug_app.evaluate import evaluate_augmented, evaluate_baseline
    from recaug_core.api import Recommender
    from recaug_core.errors import RecaugError
    from recaug_core.merge import MergePolicy, check_supported
    from recaug_core.registry import get_registry

    ks = parse_ks(k_text)
    backend, given_options = named_options(backend, "--backend")
    backend_cls = get_registry().get("backends", backend)
    assert issubclass(backend_cls, Recommender)
    backend_options = backend_cls.parse_options(given_options | option_pairs(options, "--option"))
    merge = MergePolicy.parse(merge_spec)
    if augmented_dir is None and merge.policy != "concat":
        raise RecaugError("--merge applies to synthetic rows: give --augmented DIR with it")
    check_supported(backend_cls, merge)
    started = time.perf_counter()
    if augmented_dir is not None:
        result = evaluate_augmented(
            Path(augmented_dir),
            backend_cls,
            backend_options,
            ks,
            seeds,
            mixed_precision,
            data_ref=data_args["data"],
            merge=merge,
        )
    else:
        spec = split_spec(split_protocol, ratios, split_column, split_file, train_share)
        dataset = load_from_cli(**data_args).dataset
        result = evaluate_baseline(
            dataset,
            spec,
            backend_cls,
            backend_options,
            ks,
            range(seed, seed + seeds),
            mixed_precision,
        )
    result.backend = {"name": backend, "options": backend_options.model_dump(mode="json")}
    result.timings["total_s"] = round(time.perf_counter() - started, 4)
    if as_json:
        echo_json(result.model_dump(mode="json", exclude_none=True))
    else:
        _print_table(result, ks)


def _print_table(result: Any, ks: tuple[int, ...]) -> None:
    baseline, augmented = result.baseline, result.augmented
    tests = result.tests or {}
    header = f"{'metric':<18}{'baseline':>16}"
    if augmented is not None:
        header += f"{'augmented':>16}{'change':>9}  test (paired, Holm-adjusted)"
    click.echo(header)
    for name in (f"{m}@{k}" for m in SHOWN for k in ks):
        line = f"{name:<18}{_fmt(baseline, name):>16}"
        if augmented is not None:
            change = result.change.get(name)
            shown = "n/a" if change is None else f"{change:+.1%}"
            line += f"{_fmt(augmented, name):>16}{shown:>9}  {_test(tests.get('all', {}), name)}"
        click.echo(line.rstrip())
    key = f"ndcg@{ks[0]}"
    for group, values in baseline.groups.items():
        line = f"  {group} users ({values.users:g}): {key} {values.values[key]:.4f}"
        if augmented is not None:
            after = augmented.value(key, group)
            line += f" -> {after:.4f}  {_test(tests.get(group, {}), key)}"
        click.echo(line.rstrip())
    split = result.split
    click.echo(
        f"split {split['protocol']}: {split['train']['rows']} train / "
        f"{split['valid']['rows']} valid / {split['test']['rows']} test rows; "
        f"{baseline.users:g} test users ranked over all items"
    )
    if result.run is not None:
        click.echo(
            f"augmented by strategy '{result.run['strategy']['name']}', synthetic rows merged "
            f"with '{result.run['merge']}'"
        )
    if result.validation is not None:
        hits = result.validation
        share = "-" if hits.share is None else f"{hits.share:.1%}"
        chance = "" if not hits.rows else f", random unseen items {hits.by_chance / hits.rows:.1%}"
        click.echo(
            f"kept synthetic rows on their user's validation items: {share} "
            f"({hits.hits} of {hits.rows} rows of users with validation items{chance})"
        )
    if result.verdict:
        click.echo(f"verdict: {result.verdict}")


def _test(tests: dict[str, Any], name: str) -> str:
    """A change's test in a few characters: the mark, the adjusted p and the interval."""
    test = tests.get(name)
    if test is None:
        return "not tested"
    if test.significant:
        word = "better" if test.ci_low > 0 else "worse"
    else:
        word = "no measurable difference"
    return f"{word}: p={test.p_adjusted:.2g}, 95% CI {test.ci_low:+.1%} to {test.ci_high:+.1%}"


def _fmt(metrics: Any, name: str) -> str:
    value = metrics.values.get(name)
    if value is None:
        return "-"
    std = metrics.std.values.get(name)
    return f"{value:.4f}" if not std else f"{value:.4f}±{std:.3f}"
