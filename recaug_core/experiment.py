"""`recaug run`: baseline and every arm, over several seeds, on shared splits.

Protocol: the data is loaded once; each seed draws one split that the baseline and every arm
share; an arm augments that split's training part only; every backend is trained on the
(augmented) training part and ranks all items for the untouched test users.

Output folder (names fixed here; only arm and backend labels, checked to be plain folder
names, come from the experiment file)::

    OUT/manifest.json, experiment.toml        the experiment's own record
    OUT/arms/ARM/seed-N/                      a `recaug augment` run folder per arm and seed
    OUT/arms/ARM/seed-N/eval/BACKEND.json     one evaluation (the baseline has only these)
    OUT/results.json, results.csv, report.md, report.html, figures/

Everything per arm and seed is cached: a re-run, or a run after an interruption, reuses what
is finished and computes only the rest. A plugin that fails stops its arm only; the arm is
recorded as failed, the others go on, and ``run_experiment`` returns the failures.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recaug_core.api import GenerationRequest, Recommender
from recaug_core.data import Dataset
from recaug_core.errors import PluginFailure, RecaugError
from recaug_core.experiment_file import (
    BASELINE,
    Arm,
    Backend,
    Component,
    Experiment,
    confined,
    place_write_dirs,
)
from recaug_core.files import read_parquet, write_json, write_text
from recaug_core.runfolder import MANIFEST, RunFolder
from recaug_core.runtime import Context
from recaug_core.schema import normalize_interactions
from recaug_core.split import Split

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
Echo = Callable[[str], None]


@dataclass
class ArmState:
    """How one arm is doing across seeds."""

    arm: Arm | None  # None for the baseline
    error: str | None = None
    failed_stage: str | None = None
    seeds: dict[int, dict[str, Any]] = field(default_factory=dict)  # augmentation facts

    @property
    def name(self) -> str:
        return self.arm.name if self.arm is not None else BASELINE

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "failed" if self.error else "ok"}
        if self.arm is not None:
            out.update(self.arm.as_dict())
            out["plugins"] = _provenance([self.arm.strategy, *self.arm.filters])
        if self.error:
            out["error"] = self.error
            out["failed_stage"] = self.failed_stage
        out["augmentation"] = {str(s): facts for s, facts in self.seeds.items()}
        return out


def _provenance(components: list[Component]) -> dict[str, dict[str, Any]]:
    """Which plugin, from which distribution and version, provided each component."""
    from recaug_core.registry import get_registry

    infos = {info.name: info for info in get_registry().plugin_infos()}
    out = {}
    for component in components:
        info = infos.get(component.plugin)
        out[component.name] = {
            "plugin": component.plugin,
            "distribution": info.distribution if info else None,
            "version": info.version if info else None,
        }
    return out


@dataclass(frozen=True)
class Job:
    """What every step of one `recaug run` shares."""

    experiment: Experiment
    out: Path
    echo: Echo
    mixed_precision: str = "no"

    def context(self, seed: int, work_dir: Path, resume: bool = False) -> Context:
        return Context(
            seed=seed, work_dir=work_dir, resume=resume, mixed_precision=self.mixed_precision
        )


class ArmFailed(Exception):
    """Raised inside one arm's work; caught by the loop so the other arms continue."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


def run_experiment(
    experiment: Experiment,
    out: Path,
    echo: Echo,
    command: list[str],
    mixed_precision: str = "no",
) -> dict[str, Any]:
    """Run (or continue) ``experiment`` into ``out``; returns the results (see results.json)."""
    folder = RunFolder(out)
    _check_same_experiment(out, experiment)
    folder.open(experiment.data_fingerprint(), resume=True, command=command)
    try:
        results = _run(Job(experiment, out, echo, mixed_precision), folder)
        failed = [name for name, arm in results["arms"].items() if arm["status"] == "failed"]
        folder.finish(failed_arms=failed, timings=results["timings"])
    except BaseException as exc:
        folder.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        folder.close()
    return results


def _check_same_experiment(out: Path, experiment: Experiment) -> None:
    manifest_path = out / MANIFEST
    if not manifest_path.exists():
        return
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecaugError(f"{manifest_path}: unreadable manifest ({exc})") from None
    earlier = manifest.get("fingerprint", {})
    if not isinstance(earlier, dict) or earlier.get("experiment") != 1:
        raise RecaugError(
            f"--out {out} holds a recaug run that is not an experiment; choose another folder"
        )
    now = json.loads(json.dumps(experiment.data_fingerprint()))
    changed = sorted(k for k in set(earlier) | set(now) if earlier.get(k) != now.get(k))
    if changed:
        raise RecaugError(
            f"--out {out} holds an experiment with another {' and '.join(changed)}; its results "
            "would not be comparable, so choose another folder"
        )


def _run(job: Job, folder: RunFolder) -> dict[str, Any]:
    from recaug_core.loading import load_data
    from recaug_core.split import split_dataset

    experiment, echo = job.experiment, job.echo
    config = experiment.config
    started = time.perf_counter()
    loaded = load_data(
        experiment.data_ref,
        source=config.dataset.source,
        source_options=experiment.source_options,
        clean_options=config.dataset.clean,
    )
    folder.mark_stage("load", rows=len(loaded.dataset))
    # Written only once the data loaded: bad data must leave no output folder behind.
    write_text(folder.path / "experiment.toml", experiment.text)
    echo(
        f"data {experiment.data_ref}: {len(loaded.dataset)} interactions; "
        f"{len(experiment.arms)} arm(s) + baseline, {len(config.seeds)} seed(s), "
        f"backends {', '.join(b.key for b in experiment.backends)}"
    )
    states = [ArmState(None)] + [ArmState(arm) for arm in experiment.arms]
    runs: list[dict[str, Any]] = []
    split_info: dict[str, Any] = {}
    split_s = 0.0
    distributions: dict[str, Any] = {}
    for seed_position, seed in enumerate(config.seeds):
        t0 = time.perf_counter()
        split = split_dataset(loaded.dataset, config.split, seed=seed)
        split_s += time.perf_counter() - t0
        split_info[str(seed)] = split.info()
        if seed_position == 0:
            from recaug_core.fidelity import distributions as dist

            distributions[BASELINE] = dist(split.train, None)
        for position, state in enumerate(states):
            if state.error:
                continue
            tag = (
                f"[seed {seed} {seed_position + 1}/{len(config.seeds)}] "
                f"arm {state.name} ({position + 1}/{len(states)})"
            )
            try:
                runs.extend(
                    _run_arm(
                        job, state, split, seed, tag, distributions if seed_position == 0 else None
                    )
                )
            except ArmFailed as exc:
                state.error, state.failed_stage = str(exc), exc.stage
                echo(f"{tag}: FAILED in {exc.stage}: {exc}; the other arms continue")
    timings = {
        "load_s": loaded.info["load_s"],
        "clean_s": loaded.info["clean_s"],
        "split_s": round(split_s, 4),
        "total_s": round(time.perf_counter() - started, 4),
    }
    results = {
        "recaug_experiment": 1,
        "experiment": {
            "file": str(experiment.path),
            "description": config.description,
            "seeds": list(config.seeds),
            "ks": list(config.ks),
            "split": config.split.model_dump(mode="json"),
            "backends": [{"label": b.key, **b.component.as_dict()} for b in experiment.backends],
        },
        "data": loaded.info,
        "splits": split_info,
        "arms": {state.name: state.as_dict() for state in states},
        "runs": runs,
        "distributions": distributions,
        "timings": timings,
    }
    from recaug_core.stats import summaries

    results["summary"] = summaries(results)
    write_results(folder.path, results)
    return results


def _run_arm(
    job: Job,
    state: ArmState,
    split: Split,
    seed: int,
    tag: str,
    distributions: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Augment (unless baseline) and evaluate with every backend; ArmFailed on a plugin fault."""
    experiment, echo = job.experiment, job.echo
    arm_dir = confined(job.out, "arms", state.name, f"seed-{seed}")
    train = split.train
    if state.arm is not None:
        echo(f"{tag}: augmenting with strategy '{state.arm.strategy.name}'")
        train, facts, kept = _augment(job, state.arm, split, seed, arm_dir, tag)
        state.seeds[seed] = facts
        if distributions is not None:
            from recaug_core.fidelity import distributions as dist

            distributions[state.name] = dist(split.train, kept)
    rows = []
    for backend in experiment.backends:
        result = _evaluate(job, backend, split, train, seed, arm_dir)
        ndcg = result["metrics"].get(f"ndcg@{experiment.config.ks[0]}", 0.0)
        echo(
            f"{tag}: backend {backend.key}: ndcg@{experiment.config.ks[0]} {ndcg:.4f}"
            + (" (cached)" if result.pop("cached", False) else "")
        )
        rows.append({"arm": state.name, "backend": backend.key, "seed": seed, **result})
    return rows


def _augment(
    job: Job, arm: Arm, split: Split, seed: int, arm_dir: Path, tag: str
) -> tuple[Dataset, dict[str, Any], Any]:
    """The arm's augmented training set for this seed: from the cache, or made and cached."""
    from recaug_core.fidelity import fidelity_summary
    from recaug_core.pipeline import (
        augment_split,
        generate_synthetic,
        read_generated,
        write_generated,
        write_run,
    )

    experiment, echo = job.experiment, job.echo
    fingerprint = {**experiment.data_fingerprint(), "seed": seed, "arm": arm.as_dict()}
    _check_arm_settings(arm_dir, fingerprint, arm.name)
    folder = RunFolder(arm_dir)
    resuming = folder.open(
        fingerprint, resume=True, command=["recaug", "run", str(experiment.path)]
    )
    try:
        if resuming and folder.done:
            echo(f"{tag}: augmentation cached")
            augmented = _reload_augmented(split, arm_dir)
            kept = augmented.interactions.filter(_not_real(augmented.interactions))
            return augmented, _facts(folder.manifest), kept
        strategy = _build("strategies", arm.strategy, arm_dir)
        filters = [_build("filters", f, arm_dir) for f in arm.filters]
        request = GenerationRequest(budget=arm.budget, target=arm.target)  # type: ignore[arg-type]
        ctx = job.context(seed, arm_dir, resume=resuming)
        generated = None
        if resuming and folder.stage_done("generate"):
            generated = read_generated(folder)
        if generated is None:
            generated = _plugin_stage(
                arm, "generate", lambda: generate_synthetic(strategy, split.train, request, ctx)
            )
            write_generated(folder, generated)
            folder.mark_stage(
                "generate",
                rows=generated.interactions.num_rows,
                **{k: round(v, 4) for k, v in generated.timings.items()},
            )
        result = _plugin_stage(
            arm,
            "filter",
            lambda: augment_split(split, strategy, filters, request, ctx, generated=generated),
        )
        write_started = time.perf_counter()
        write_run(folder, split, result)
        timings = {k: round(v, 4) for k, v in result.timings.items()}
        if "fit_s" not in timings:  # generated in an earlier, interrupted run
            timings.update(
                {k: v for k, v in folder.manifest["stages"]["generate"].items() if k.endswith("_s")}
            )
        timings["write_s"] = round(time.perf_counter() - write_started, 4)
        folder.finish(
            seed=seed,
            data={"ref": experiment.data_ref},
            split=split.info(),
            strategy=arm.strategy.as_dict(),
            filters=[f.as_dict() for f in arm.filters],
            request={"budget": arm.budget, "target": arm.target},
            counts=result.counts,
            filter_stats=result.filter_stats,
            timings=timings,
            fidelity=fidelity_summary(split.train, result.kept),
        )
        counts = result.counts
        echo(
            f"{tag}: generated {counts['generated']}, kept {counts['kept']}, "
            f"rejected {counts['rejected']}"
        )
        return result.augmented, _facts(folder.manifest), result.kept
    except ArmFailed as exc:
        folder.fail(str(exc))
        raise
    except BaseException as exc:
        folder.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        folder.close()


def _not_real(table: Any) -> Any:
    import pyarrow.compute as pc

    return pc.not_equal(table.column("origin"), "real")


def _facts(manifest: dict[str, Any]) -> dict[str, Any]:
    return {key: manifest.get(key) for key in ("counts", "filter_stats", "timings", "fidelity")}


def _check_arm_settings(arm_dir: Path, fingerprint: dict[str, Any], name: str) -> None:
    path = arm_dir / MANIFEST
    if not path.exists():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        earlier = None
    if earlier != json.loads(json.dumps(fingerprint)):
        raise RecaugError(
            f"arm '{name}': {arm_dir} holds results of other settings for this arm; "
            "rename the arm or choose another --out"
        )


def _reload_augmented(split: Split, arm_dir: Path) -> Dataset:
    """The augmented training set of a finished arm folder, on the shared split's indexes."""
    rows = normalize_interactions(read_parquet(arm_dir / "augmented.parquet"))
    augmented = split.train.with_interactions(rows, extend_users=True)
    users_path = arm_dir / "users.parquet"
    return replace(
        augmented,
        items=read_parquet(arm_dir / "items.parquet"),
        users=read_parquet(users_path) if users_path.exists() else augmented.users,
    )


def _build(kind: str, component: Component, arm_dir: Path) -> Any:
    """The component of an arm, with its ``*_dir`` options placed inside the arm's folder."""
    from recaug_core.registry import create

    try:
        return create(kind, component.name, place_write_dirs(component.options, arm_dir))
    except RecaugError as exc:
        raise ArmFailed(f"{exc} (plugin '{component.plugin}')", "setup") from None


def _plugin_stage(arm: Arm, stage: str, work: Callable[[], Any]) -> Any:
    """Run a stage of an arm; a plugin's failure (or refusal of the data) stops the arm."""
    try:
        return work()
    except PluginFailure as exc:
        components = (arm.strategy, *arm.filters)
        named = [c.plugin for c in components if c.name == exc.component]
        culprit = named[0] if named else arm.strategy.plugin
        raise ArmFailed(f"{exc} (plugin '{culprit}')", exc.stage) from None
    except RecaugError as exc:
        raise ArmFailed(str(exc), stage) from None


def _evaluate(
    job: Job, backend: Backend, split: Split, train: Dataset, seed: int, arm_dir: Path
) -> dict[str, Any]:
    """One backend on one (augmented) training set, cached as eval/BACKEND.json."""
    from recaug_core.evaluate import evaluate_model
    from recaug_core.registry import get_registry

    ks = list(job.experiment.config.ks)
    cache = confined(arm_dir, "eval", f"{backend.key}.json")
    settings = {"backend": backend.component.as_dict(), "ks": ks}
    if cache.exists():
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if stored.get("settings") == settings:
            return {"metrics": stored["metrics"], "timings": stored["timings"], "cached": True}
        raise RecaugError(
            f"backend '{backend.key}': {cache} was computed with other settings; "
            "give the backend another label or choose another --out"
        )
    work = cache.parent / backend.key
    cls = get_registry().get("backends", backend.component.name)
    assert issubclass(cls, Recommender)
    options = place_write_dirs(backend.component.options, work)
    ctx = job.context(seed, work)
    try:
        metrics, timings = evaluate_model(cls, options, split, train, ks, ctx)
    except RecaugError as exc:
        raise ArmFailed(
            f"{exc} (plugin '{backend.component.plugin}')", f"backend {backend.key}"
        ) from None
    except Exception as exc:
        raise ArmFailed(
            f"backend '{backend.component.name}' (plugin '{backend.component.plugin}') failed: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())}",
            f"backend {backend.key}",
        ) from None
    timings = {k: round(v, 4) for k, v in timings.items()}
    write_json(cache, {"settings": settings, "metrics": metrics, "timings": timings})
    return {"metrics": metrics, "timings": timings}


# -- results files ----------------------------------------------------------------------------

CSV_COLUMNS = ("arm", "backend", "seed", "group", "metric", "value")


def write_results(out: Path, results: dict[str, Any]) -> None:
    write_json(out / RESULTS_JSON, results)
    write_text(out / RESULTS_CSV, results_csv(results))


def results_csv(results: dict[str, Any]) -> str:
    """Long format: one row per arm, backend, seed, user group (``all`` first) and metric."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in results["runs"]:
        metrics = run["metrics"]
        groups = {"all": metrics, **metrics.get("groups", {})}
        for group, values in groups.items():
            for name, value in values.items():
                if "@" in name:
                    writer.writerow((run["arm"], run["backend"], run["seed"], group, name, value))
    return buffer.getvalue()


def load_results(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RESULTS_JSON
    if not path.exists():
        raise RecaugError(f"{run_dir}: no {RESULTS_JSON}; is it the --out folder of `recaug run`?")
    try:
        results: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RecaugError(f"{path}: unreadable results ({exc})") from None
    if not isinstance(results, dict) or results.get("recaug_experiment") != 1:
        raise RecaugError(f"{path}: not the results of `recaug run`")
    return results
