"""The evaluation protocol: train a backend, rank ALL items for each test user, score.

- Split first; a backend trains on the training part (plus kept synthetic rows when
  evaluating an augmented run) and may use the validation part for early stopping only.
- Full ranking over every catalog item, only real known items masked (``ranking``).
- Baseline and augmented runs use the same split; ``seeds`` repeats training with other seeds
  and reports mean and standard deviation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from recaug_app.results import Aggregate, Metrics, Significance, ValidationHits
from recaug_core.api import Recommender
from recaug_core.data import Dataset
from recaug_core.errors import RecaugError
from recaug_core.guards import checked_scores
from recaug_core.merge import CONCAT, MergePolicy, check_supported, merged_training_set
from recaug_core.ranking import RankingTask, UserScores, ranking_means, score_users
from recaug_core.registry import call_plugin
from recaug_core.runtime import Context
from recaug_core.schema import REAL
from recaug_core.split import Split, SplitSpec, split_dataset

DEFAULT_KS = (10, 20)


@dataclass
class ModelEvaluation:
    metrics: Metrics
    timings: dict[str, float]  # fit_s, evaluate_s
    users: UserScores  # every test user's own scores, for the paired test


@dataclass
class FittedModel:
    """A backend fitted on a training set, with what it learnt from and how long it took."""

    model: Recommender
    train: Dataset  # the training set as the backend saw it (merge policy applied)
    validation: dict[str, float]  # its NDCG@10 on the validation split
    fit_s: float


def fit_model(
    backend: type[Recommender],
    options: Mapping[str, Any] | None,
    real_train: Dataset,
    valid: Dataset,
    train: Dataset,
    ctx: Context,
) -> FittedModel:
    """Fit ``backend`` on ``train`` (real training rows, plus synthetic rows merged as
    ``ctx.merge`` says) and measure it on ``valid``. No test row is read: validation-selected
    arms choose among such fits."""
    check_supported(backend, ctx.merge)
    if ctx.merge is not None and len(train.real()) < len(train):
        train = merged_training_set(real_train, train, ctx.merge)
    model = backend(options)
    started = time.perf_counter()
    call_plugin(model, "fit", lambda: model.fit(train, ctx, valid=valid))
    fit_s = time.perf_counter() - started
    return FittedModel(model, train, validation_metrics(model, train, valid), fit_s)


def score_on_test(
    fitted: FittedModel, split: Split, ks: Sequence[int], task: RankingTask | None = None
) -> ModelEvaluation:
    """The fitted model on ``split.test``: every item ranked, known real items masked. Its
    scores are checked (``checked_scores``)."""
    started = time.perf_counter()
    task = task or users_to_rank(fitted.train, split)
    ranking = task.rank(checked_scores(fitted.model, fitted.train.n_items), max(ks))
    scored, users = score_users(ranking, fitted.train, ks)
    metrics = Metrics.model_validate(scored)
    metrics.validation = fitted.validation
    timings = {"fit_s": fitted.fit_s, "evaluate_s": time.perf_counter() - started}
    return ModelEvaluation(metrics, timings, users)


def evaluate_model(
    backend: type[Recommender],
    options: Mapping[str, Any] | None,
    split: Split,
    train: Dataset,
    ks: Sequence[int],
    ctx: Context,
) -> tuple[Metrics, dict[str, float]]:
    """Fit one backend on ``train`` (under the merge policy ``ctx.merge``) and score it on
    ``split.test``; returns metrics (with the fitted model's validation NDCG@10) and timings."""
    done = evaluate_scored(backend, options, split, train, ks, ctx)
    return done.metrics, done.timings


def users_to_rank(train: Dataset, split: Split) -> RankingTask:
    """The test split's ranking task; with nobody to rank the metrics would be zeros that
    look measured, so that is an error."""
    task = RankingTask.build(train, split.test, [split.train, split.valid])
    if len(task.users) == 0:
        found = (
            "the test split is empty"
            if len(split.test) == 0
            else f"none of the test split's {len(split.test)} rows belongs to a user with real "
            "training rows"
        )
        raise RecaugError(
            f"nobody to evaluate: {found}; hold out part of each user's history "
            "(e.g. --ratios 0.8,0.1,0.1 with --split random-by-user)"
        )
    return task


def evaluate_scored(
    backend: type[Recommender],
    options: Mapping[str, Any] | None,
    split: Split,
    train: Dataset,
    ks: Sequence[int],
    ctx: Context,
) -> ModelEvaluation:
    """``evaluate_model`` that also keeps every test user's own scores."""
    if ctx.merge is not None and len(train.real()) < len(train):
        train = merged_training_set(split.train, train, ctx.merge)
    task = users_to_rank(train, split)  # nobody to rank: an error before any training
    fitted = fit_model(backend, options, split.train, split.valid, train, ctx)
    return score_on_test(fitted, split, ks, task)


def validation_metrics(model: Recommender, train: Dataset, valid: Dataset) -> dict[str, float]:
    """NDCG@10 of a fitted model on ``valid``, ranked as backends rank for early stopping
    (real training items masked); empty when nobody can be ranked."""
    task = RankingTask.for_validation(train, valid)
    if task is None:
        return {}
    ranking = task.rank(checked_scores(model, train.n_items), 10)
    return {"ndcg@10": ranking_means(ranking, task.n_items, [10])["ndcg@10"]}


def aggregate(per_seed: Sequence[Metrics]) -> Aggregate:
    """Mean over seeds; ``std`` mirrors the metrics (population std); ``per_seed`` keeps each."""
    items = [m.model_dump(mode="json") for m in per_seed]
    result: dict[str, Any] = _mean(items)
    result["std"] = _std(items)
    if len(items) > 1:
        result["per_seed"] = [_metrics_only(item) for item in items]
    return Aggregate.model_validate(result)


def _is_metric(key: str) -> bool:
    return "@" in key


def _mean(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, dict):
        return {key: _mean([item[key] for item in items]) for key in first}
    if isinstance(first, int) and not isinstance(first, bool) and all(i == first for i in items):
        return first  # counts such as `users` agree across seeds: keep them whole
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return float(np.mean(items))
    return first


def _std(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items[0].items():
        if isinstance(value, dict) and key == "groups":
            out[key] = {g: _std([item[key][g] for item in items]) for g in value}
        elif _is_metric(key):
            out[key] = float(np.std([item[key] for item in items]))
    return out


def _metrics_only(item: dict[str, Any]) -> dict[str, float]:
    return {key: value for key, value in item.items() if _is_metric(key)}


def relative_change(baseline: Metrics, other: Metrics) -> dict[str, float | None]:
    """(other - baseline) / baseline for every shared metric (None when baseline is 0)."""
    return {
        key: None if value == 0 else (other.values[key] - value) / value
        for key, value in baseline.values.items()
        if key in other.values
    }


# -- `recaug evaluate` --------------------------------------------------------------------------


class Evaluation(BaseModel):
    """What `recaug evaluate` reports: a baseline, or a baseline and an augmented run."""

    model_config = ConfigDict(extra="forbid")

    baseline: Aggregate
    augmented: Aggregate | None = None
    change: dict[str, float | None] | None = None
    split: dict[str, Any]
    run: dict[str, Any] | None = None  # the augmented run's strategy and counts
    # with --augmented: the paired test per group ("all", "sparse", ...) and metric, how
    # often the kept rows are validation items, and the verdict sentence
    tests: dict[str, dict[str, Significance]] | None = None
    validation: ValidationHits | None = None
    verdict: str | None = None
    timings: dict[str, float]
    backend: dict[str, Any] = Field(default_factory=dict)


def evaluate_baseline(
    dataset: Dataset,
    spec: SplitSpec,
    backend: type[Recommender],
    options: Any,
    ks: Sequence[int],
    seeds: range,
    mixed_precision: str = "no",
) -> Evaluation:
    """The backend on ``dataset``'s test split, once per seed."""
    # Each seed draws its own split and its own initialisation, as `recaug run` does: the
    # spread then covers both sources of chance. (A run folder has one split, so
    # --augmented repeats training only.)
    runs, timings, splits = [], [], []
    for s in seeds:
        split = split_dataset(dataset, spec, seed=s)
        ctx = Context(seed=s, mixed_precision=mixed_precision, label=f"baseline, seed {s}")
        metrics, timing = evaluate_model(backend, options, split, split.train, ks, ctx)
        runs.append(metrics)
        timings.append(timing)
        splits.append(split.info())
    return Evaluation(
        baseline=aggregate(runs),
        split=splits[0] | {"seeds": list(seeds), "per_seed": splits},
        timings=_sum_timings(timings, "baseline"),
    )


def evaluate_augmented(
    folder: Path,
    backend: type[Recommender],
    options: Any,
    ks: Sequence[int],
    seeds: int,
    mixed_precision: str = "no",
    data_ref: str | None = None,
    merge: MergePolicy | None = None,
) -> Evaluation:
    """The backend trained on an augmentation folder's real and on its augmented training
    set (under the merge policy ``merge``), on the folder's own split, once per seed from the
    folder's seed on."""
    from recaug_core.augmentation import read_augmentation

    done = read_augmentation(folder)
    plan = done.manifest.fingerprint
    if data_ref not in (None, plan.data.ref):
        raise RecaugError(
            f"DATA {data_ref!r} differs from the data of run {folder} ({plan.data.ref!r}); "
            "with --augmented the run's own split is used, so leave DATA out"
        )
    baseline: list[Metrics] = []
    augmented: list[Metrics] = []
    t_base: list[dict[str, float]] = []
    t_aug: list[dict[str, float]] = []
    scores: dict[tuple[str, str, int], UserScores] = {}
    for s in range(plan.seed, plan.seed + seeds):
        for arm, train, runs, times, policy in (
            ("baseline", done.split.train, baseline, t_base, None),
            ("augmented", done.augmented, augmented, t_aug, merge),
        ):
            ctx = Context(
                seed=s, mixed_precision=mixed_precision, merge=policy, label=f"{arm}, seed {s}"
            )
            scored = evaluate_scored(backend, options, done.split, train, ks, ctx)
            runs.append(scored.metrics)
            times.append(scored.timings)
            scores[(arm, "backend", s)] = scored.users
    base, aug = aggregate(baseline), aggregate(augmented)
    counts = done.manifest.counts
    tests = _tests(scores, ks)
    name = plan.augment.strategy
    change = relative_change(base, aug)
    return Evaluation(
        baseline=base,
        augmented=aug,
        change=change,
        split=done.split.info() | {"from_run": str(folder)},
        run={
            "strategy": {"name": name, "options": plan.augment.options},
            "merge": str(merge or CONCAT),
            "counts": None if counts is None else counts.model_dump(mode="json"),
        },
        tests=tests,
        validation=_validation(done),
        verdict=_verdict(name, base, aug, tests, ks[0]),
        timings=_sum_timings(t_base, "baseline") | _sum_timings(t_aug, "augmented"),
    )


def _tests(
    scores: dict[tuple[str, str, int], UserScores], ks: Sequence[int]
) -> dict[str, dict[str, Significance]]:
    """The paired test of every ranking metric `recaug evaluate` prints, and of NDCG at the
    first K per user group, Holm-adjusted together."""
    from recaug_app.results import Summary
    from recaug_app.stats import TESTED, attach, compare
    from recaug_core.targets import GROUPS

    cells = [("all", f"{m}@{k}") for m in TESTED for k in ks]
    cells += [(group, f"ndcg@{ks[0]}") for group in GROUPS]
    found: list[tuple[Summary, Any]] = []
    where: list[tuple[str, str]] = []
    for group, metric in cells:
        test = compare(scores, "augmented", "backend", metric, group)
        if test is not None:
            found.append((Summary(mean=0.0, std=0.0, seeds=0), test))
            where.append((group, metric))
    attach(found)
    out: dict[str, dict[str, Significance]] = {}
    for (group, metric), (holder, _) in zip(where, found):
        if holder.significance is not None:
            out.setdefault(group, {})[metric] = holder.significance
    return out


def _validation(done: Any) -> ValidationHits:
    from recaug_core.fidelity import validation_hits

    train, rows = done.split.train, done.augmented.interactions
    kept = rows.filter(pc.not_equal(rows.column("origin"), REAL))
    found, hits, chance = validation_hits(train, done.split.valid, kept)
    return ValidationHits(rows=found, hits=hits, by_chance=round(chance, 4))


def _verdict(
    name: str,
    base: Aggregate,
    aug: Aggregate,
    tests: dict[str, dict[str, Significance]],
    k: int,
) -> str:
    from recaug_app.stats import Finding, verdict

    metric = f"ndcg@{k}"
    findings = []
    for group, where in (("all", "overall"), ("sparse", "for sparse users")):
        before, after = (
            base.value(metric, None if group == "all" else group),
            aug.value(metric, None if group == "all" else group),
        )
        if not before or after is None:
            continue
        test = tests.get(group, {}).get(metric)
        findings.append(
            Finding(where, after / before - 1, None if test is None else test.significant)
        )
    return verdict({f"the '{name}' augmentation": findings}, f"NDCG@{k}").sentence


def _sum_timings(timings: list[dict[str, float]], prefix: str) -> dict[str, float]:
    keys = timings[0].keys() if timings else []
    return {f"{prefix}_{k}": round(sum(t[k] for t in timings), 4) for k in keys}
