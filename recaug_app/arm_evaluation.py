"""Evaluating the arms of `recaug run`: each backend on each arm's training set, per seed.

Every evaluation is cached as ``arms/ARM/seed-N/eval/BACKEND.json`` (with the settings that
produced it, so a changed backend or merge policy is refused rather than mixed in) and its
test users' own scores as ``BACKEND.users.parquet`` (for the paired test); a backend that
fails stops its arm (``ArmFailed``), naming the plugin. A validation-selected arm's choice
(``selection``) is made here too: candidates are fitted and compared on validation only, and
only the chosen model is scored on the test split.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from recaug_app.experiment_file import Arm, Backend, Experiment
from recaug_app.results import (
    BASELINE,
    CandidateResult,
    ExperimentResults,
    Metrics,
    RunResult,
    SeedFacts,
    Selection,
)
from recaug_app.selection import NONE, SELECT_METRIC, Candidate, choose
from recaug_core.api import Recommender
from recaug_core.data import Dataset
from recaug_core.errors import PluginFailure, RecaugError
from recaug_core.files import confined, place_write_dirs, read_parquet, write_json, write_parquet
from recaug_core.merge import CONCAT, MergePolicy
from recaug_core.ranking import UserScores
from recaug_core.runtime import Context
from recaug_core.split import Split

Echo = Callable[[str], None]
Checkpoint = Callable[[ExperimentResults], None]
Scores = dict[tuple[str, str, int], UserScores]  # (arm, backend, seed) -> test users' scores
USER_SCORES = ".users.parquet"  # beside eval/BACKEND.json


class ArmFailed(Exception):
    """Raised inside one arm's work; caught by the loop so the other arms continue."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


@dataclass(frozen=True)
class Job:
    """What every step of one `recaug run` shares."""

    experiment: Experiment
    out: Path
    echo: Echo
    mixed_precision: str = "no"
    checkpoint: Checkpoint | None = None  # called with the partial results after each step


def evaluate_all(
    job: Job, arm: Arm | None, split: Split, train: Dataset, seed: int, tag: str, scores: Scores
) -> list[RunResult]:
    """Every backend (as ``arm`` sets it; None: the baseline) on ``train``, merged as the arm
    says; each evaluation's users' scores go into ``scores``."""
    ks = job.experiment.config.ks
    name = BASELINE if arm is None else arm.name
    merge = CONCAT if arm is None else arm.merge
    rows = []
    for shared in job.experiment.backends:
        backend = job.experiment.backend_for(arm, shared)
        metrics, timings, users, cached = _evaluate(job, backend, name, split, train, seed, merge)
        if users is not None:
            scores[(name, backend.key, seed)] = users
        ndcg = metrics.values.get(f"ndcg@{ks[0]}", 0.0)
        job.echo(
            f"{tag}: backend {backend.key}: ndcg@{ks[0]} {ndcg:.4f}"
            + (" (cached)" if cached else "")
        )
        rows.append(
            RunResult(arm=name, backend=backend.key, seed=seed, metrics=metrics, timings=timings)
        )
    return rows


def _evaluate(
    job: Job,
    backend: Backend,
    arm: str,
    split: Split,
    train: Dataset,
    seed: int,
    merge: MergePolicy,
) -> tuple[Metrics, dict[str, float], UserScores | None, bool]:
    """One backend on one (augmented) training set, cached as eval/BACKEND.json with its
    users' scores in eval/BACKEND.users.parquet (None for an evaluation of recaug 0.1.0)."""
    from recaug_app.evaluate import evaluate_scored

    ks = list(job.experiment.config.ks)
    settings = _eval_settings(job, backend, merge)
    cache = _eval_cache(job, backend, arm, seed, settings)
    users_file = cache.with_name(f"{backend.key}{USER_SCORES}")
    if cache.exists():
        stored = _cached(cache)
        users = UserScores.from_table(read_parquet(users_file)) if users_file.exists() else None
        return Metrics.model_validate(stored["metrics"]), stored["timings"], users, True
    work = cache.parent / backend.key
    cls, options = _backend_class(backend, work)
    ctx = Context(
        seed=seed,
        work_dir=work,
        mixed_precision=job.mixed_precision,
        merge=merge,
        label=f"{arm}, seed {seed}",
    )
    done = _backend_stage(backend, partial(evaluate_scored, cls, options, split, train, ks, ctx))
    timings = {k: round(v, 4) for k, v in done.timings.items()}
    write_parquet(users_file, done.users.to_table())  # before the JSON that marks it cached
    write_json(
        cache,
        {"settings": settings, "metrics": done.metrics.model_dump(mode="json"), "timings": timings},
    )
    return done.metrics, timings, done.users, False


def _eval_settings(job: Job, backend: Backend, merge: MergePolicy) -> dict[str, Any]:
    settings: dict[str, Any] = {"backend": backend.as_dict(), "ks": list(job.experiment.config.ks)}
    if merge != CONCAT:  # (evaluations of 0.1.0, all concat, stay valid)
        settings["merge"] = str(merge)
    return settings


def _eval_cache(job: Job, backend: Backend, arm: str, seed: int, settings: Any) -> Path:
    """``arms/ARM/seed-N/eval/BACKEND.json``; RecaugError if it holds other settings."""
    cache = confined(job.out, "arms", arm, f"seed-{seed}", "eval", f"{backend.key}.json")
    stored = _cached(cache).get("settings") if cache.exists() else settings
    if stored != settings:
        raise RecaugError(
            f"backend '{backend.key}': {cache} was computed with other settings "
            f"({first_difference(stored, settings)} differs); give the backend another label, "
            "delete that file to evaluate again, or choose another --out"
        )
    return cache


def first_difference(stored: Any, current: Any, path: str = "settings") -> str:
    """Where two JSON-like values first differ, as a dotted path (``settings.backend.options.lr``):
    what a user needs to see to tell an upgrade's new option from a setting they changed."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current), key=str):
            if stored.get(key) != current.get(key):
                return first_difference(stored.get(key), current.get(key), f"{path}.{key}")
    if isinstance(stored, list) and isinstance(current, list) and len(stored) == len(current):
        for index, (a, b) in enumerate(zip(stored, current, strict=True)):
            if a != b and isinstance(a, dict | list):  # a list of plain values differs whole
                return first_difference(a, b, f"{path}[{index}]")
    return path


def _cached(cache: Path) -> dict[str, Any]:
    try:
        stored: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stored


def _backend_class(backend: Backend, work: Path) -> tuple[type[Recommender], dict[str, Any]]:
    """The backend's class and its options with every ``*_dir`` placed inside ``work``."""
    from recaug_core.registry import get_registry

    cls = get_registry().get("backends", backend.name)
    assert issubclass(cls, Recommender)
    return cls, place_write_dirs(backend.options, work)


def _backend_stage(backend: Backend, work: Callable[[], Any]) -> Any:
    """Run a backend's fit or scoring; a failure stops the arm, naming the plugin."""
    from recaug_core.registry import get_registry

    plugin = get_registry().components("backends")[backend.name].plugin
    try:
        return work()
    except PluginFailure as exc:  # names the plugin already
        raise ArmFailed(str(exc), f"backend {backend.key}") from None
    except RecaugError as exc:
        raise ArmFailed(f"{exc} (plugin '{plugin}')", f"backend {backend.key}") from None
    except Exception as exc:
        raise ArmFailed(
            f"backend '{backend.name}' (plugin '{plugin}') failed: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())}",
            f"backend {backend.key}",
        ) from None


# -- validation-selected arms ---------------------------------------------------------------

TrainingSet = Callable[[Candidate], tuple[Dataset, SeedFacts, Any, float]]


def select_backend(
    job: Job,
    arm: Arm,
    backend: Backend,
    split: Split,
    seed: int,
    tag: str,
    scores: Scores,
    baseline: RunResult | None,
    training_set: TrainingSet,
) -> RunResult:
    """One backend's choice for a validation-selected arm, cached as eval/BACKEND.json.
    ``baseline`` is the model "no augmentation" stands for; None: fit it here (the arm
    changes the backend's options)."""
    from recaug_app.evaluate import fit_model, score_on_test

    assert arm.candidates is not None
    ks = list(job.experiment.config.ks)
    settings = {
        **_eval_settings(job, backend, CONCAT),
        "select": [
            [c.label, c.settings.model_dump(mode="json"), str(c.merge)] for c in arm.candidates
        ],
    }
    cache = _eval_cache(job, backend, arm.name, seed, settings)
    users_file = cache.with_name(f"{backend.key}{USER_SCORES}")
    key = (arm.name, backend.key, seed)
    if cache.exists():
        cached = RunResult.model_validate(
            {"arm": arm.name, "backend": backend.key, "seed": seed, **_cached(cache)["run"]}
        )
        assert cached.selection is not None
        if users_file.exists():
            scores[key] = UserScores.from_table(read_parquet(users_file))
        job.echo(f"{tag}: backend {backend.key}: chose {cached.selection.chosen} (cached)")
        return cached
    work = cache.parent / backend.key
    cls, options = _backend_class(backend, work)
    started = time.perf_counter()
    own = None
    if baseline is None:
        ctx = Context(
            seed=seed,
            work_dir=work / NONE,
            mixed_precision=job.mixed_precision,
            label=f"{arm.name}: {NONE}, seed {seed}",
        )
        own = _backend_stage(
            backend, partial(fit_model, cls, options, split.train, split.valid, split.train, ctx)
        )
        none_validation = own.validation
    else:
        none_validation = baseline.metrics.validation
    tried = [CandidateResult(candidate=NONE, validation=none_validation.get(SELECT_METRIC))]
    best = None
    for position, candidate in enumerate(arm.candidates):
        train = training_set(candidate)[0]
        ctx = Context(
            seed=seed,
            work_dir=work / candidate.folder,
            mixed_precision=job.mixed_precision,
            merge=candidate.merge,
            label=f"{arm.name}: {candidate.label}, seed {seed}",
        )
        fitted = _backend_stage(
            backend, partial(fit_model, cls, options, split.train, split.valid, train, ctx)
        )
        score = fitted.validation.get(SELECT_METRIC)
        tried.append(
            CandidateResult(
                candidate=candidate.label, validation=score, fit_s=round(fitted.fit_s, 4)
            )
        )
        job.echo(
            f"{tag}: backend {backend.key}: candidate {position + 1}/{len(arm.candidates)} "
            f"{candidate.label}: validation {SELECT_METRIC} "
            + ("-" if score is None else f"{score:.4f}")
        )
        # only the best model so far is kept: memory stays that of two models
        if score is not None and (best is None or score > best[1]):
            best = (candidate.label, score, fitted)
    chosen = choose({c.candidate: c.validation for c in tried})
    augmenting_s = sum(training_set(c)[3] for c in arm.candidates)
    search_s = round(time.perf_counter() - started + augmenting_s, 4)
    if chosen == NONE and baseline is not None:
        metrics, timings = baseline.metrics, dict(baseline.timings)
        users = scores.get((BASELINE, backend.key, seed))
    else:
        fitted = own if chosen == NONE else best[2] if best else None
        assert fitted is not None
        done = _backend_stage(backend, partial(score_on_test, fitted, split, ks))
        metrics, users = done.metrics, done.users
        timings = {k: round(v, 4) for k, v in done.timings.items()}
    selection = Selection(chosen=chosen, candidates=tried, search_s=search_s)
    job.echo(
        f"{tag}: backend {backend.key}: chose {chosen} by validation {SELECT_METRIC} "
        f"(searched {len(tried)} candidates in {search_s:.0f} s; test rows untouched until now): "
        f"test ndcg@{ks[0]} {metrics.values.get(f'ndcg@{ks[0]}', 0.0):.4f}"
    )
    run = RunResult(
        arm=arm.name,
        backend=backend.key,
        seed=seed,
        metrics=metrics,
        timings=timings,
        selection=selection,
    )
    if users is not None:
        scores[key] = users
        write_parquet(users_file, users.to_table())  # before the JSON that marks it cached
    stored = run.model_dump(mode="json", exclude={"arm", "backend", "seed"})
    write_json(cache, {"settings": settings, "run": stored})
    return run
