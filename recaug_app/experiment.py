"""`recaug run`: baseline and every arm, over several seeds, on shared splits.

Protocol: the data is loaded once; each seed draws one split that the baseline and every arm
share; an arm augments that split's training part only; every backend is trained on the
(augmented) training part and ranks all items for the untouched test users.

Output folder (names fixed here; only arm and backend labels, checked to be plain folder
names, come from the experiment file)::

    OUT/manifest.json, experiment.toml        the experiment's own record
    OUT/arms/ARM/seed-N/                      an augmentation folder per arm and seed
    OUT/arms/ARM/seed-N/eval/BACKEND.json     one evaluation (the baseline has only these)
    OUT/arms/ARM/seed-N/eval/BACKEND.users.parquet   its test users' own scores (paired test)
    OUT/arms/ARM/seed-N/candidate-*/          a validation-selected arm's augmentations
    OUT/results.json, results.csv, report.md, report.html, figures/

Everything per arm and seed is cached: a re-run, or a run after an interruption, reuses what
is finished and computes only the rest. results.json and results.csv are written after every
finished arm and seed (marked ``partial`` until the end), so a long experiment can be read while
it runs and an interrupted one leaves what it finished. A plugin that fails stops its arm only;
the arm is recorded as failed, the others go on, and ``run_experiment`` returns the failures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from recaug_app.arm_evaluation import (
    ArmFailed,
    Checkpoint,
    Echo,
    Job,
    Scores,
    evaluate_all,
    select_backend,
)
from recaug_app.experiment_file import Arm, Experiment
from recaug_app.results import (
    BASELINE,
    ArmResult,
    BackendInfo,
    ExperimentInfo,
    ExperimentResults,
    Provenance,
    RunResult,
    SeedFacts,
    ValidationHits,
    write_results,
)
from recaug_app.selection import NONE, Candidate
from recaug_core.data import Dataset
from recaug_core.errors import PluginFailure, RecaugError
from recaug_core.files import (
    confined,
    write_text,
)
from recaug_core.manifest import ExperimentManifest, Invocation
from recaug_core.outputs import OtherSettings, OutputFolder
from recaug_core.settings import AugmentPlan, AugmentSettings
from recaug_core.split import Split


class Clock:
    """This invocation's time, recorded in the manifest beside the earlier invocations', so
    that the total covers every `recaug run` that worked on the folder."""

    def __init__(self, folder: OutputFolder[ExperimentManifest]) -> None:
        manifest = folder.manifest
        earlier = [i.seconds for i in manifest.invocations]
        # a folder written before invocations were recorded holds its last one's total only
        self.earlier_s = sum(earlier) if earlier else manifest.timings.get("total_s", 0.0)
        self.invocations = len(earlier) + 1 if earlier else (2 if self.earlier_s else 1)
        self.folder = folder
        self.started = time.perf_counter()
        manifest.invocations.append(
            Invocation(started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), seconds=0.0)
        )

    def this_run_s(self) -> float:
        return round(time.perf_counter() - self.started, 4)

    def record(self) -> None:
        """Store this invocation's time so far (the folder's manifest is saved)."""
        self.folder.manifest.invocations[-1].seconds = self.this_run_s()
        self.folder.save()


def run_experiment(
    experiment: Experiment,
    out: Path,
    echo: Echo,
    command: list[str],
    mixed_precision: str = "no",
    checkpoint: Checkpoint | None = None,
) -> ExperimentResults:
    """Run (or continue) ``experiment`` into ``out``; returns the results (results.json).
    ``checkpoint`` gets the partial results after every finished arm and seed."""
    folder = OutputFolder(out, ExperimentManifest)
    try:
        folder.open(experiment.fingerprint(), resume=True, command=command)
    except OtherSettings as exc:
        raise RecaugError(
            f"--out {out} holds an experiment with another {' and '.join(exc.changed)}; its "
            "results would not be comparable, so choose another folder (or delete that one "
            "if you no longer need its results)"
        ) from None
    clock = Clock(folder)
    try:
        results = _run(Job(experiment, out, echo, mixed_precision, checkpoint), folder, clock)
        failed = [name for name, *_ in results.failed_arms()]
        clock.record()
        folder.finish(failed_arms=failed, timings=results.timings)
    except BaseException as exc:
        folder.manifest.invocations[-1].seconds = clock.this_run_s()
        folder.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        folder.close()
    return results


def _run(job: Job, folder: OutputFolder[ExperimentManifest], clock: Clock) -> ExperimentResults:
    from recaug_core.fidelity import distributions as dist
    from recaug_core.loading import load
    from recaug_core.split import split_dataset

    experiment, echo = job.experiment, job.echo
    config = experiment.config
    loaded = load(experiment.data)
    folder.mark_stage("load", rows=len(loaded.dataset))
    # Written only once the data loaded: bad data must leave no output folder behind.
    write_text(confined(folder.path, "experiment.toml"), experiment.text)
    echo(
        f"data {experiment.data.ref}: {len(loaded.dataset)} interactions; "
        f"{len(experiment.arms)} arm(s) + baseline, {len(config.seeds)} seed(s), "
        f"backends {', '.join(b.key for b in experiment.backends)}"
    )
    arms: list[Arm | None] = [None, *experiment.arms]  # None: the baseline
    states = {BASELINE: ArmResult(status="ok")}
    states |= {arm.name: _arm_result(arm) for arm in experiment.arms}
    record = Record(job, folder, clock, loaded.info, states)
    steps = len(config.seeds) * len(arms)
    for seed_position, seed in enumerate(config.seeds):
        t0 = time.perf_counter()
        split = split_dataset(loaded.dataset, config.split, seed=seed)
        record.split_s += time.perf_counter() - t0
        record.splits[str(seed)] = split.info()
        first = seed_position == 0
        if first:
            record.distributions[BASELINE] = dist(split.train, None)
        for position, arm in enumerate(arms):
            name = BASELINE if arm is None else arm.name
            state = states[name]
            if state.status == "failed":
                continue
            tag = (
                f"[seed {seed} {seed_position + 1}/{len(config.seeds)}] "
                f"arm {name} ({position + 1}/{len(arms)})"
            )
            try:
                train, kept = split.train, None
                if arm is not None and arm.candidates is not None:
                    runs, facts, kept = _select_all(job, arm, split, seed, tag, record)
                    record.runs += runs
                    state.augmentation[str(seed)] = facts
                elif arm is not None and arm.settings is not None:
                    where = confined(job.out, "arms", arm.name, f"seed-{seed}")
                    train, facts, kept = _augment(job, arm, arm.settings, where, split, seed, tag)
                    state.augmentation[str(seed)] = facts
                if kept is not None and first:
                    record.distributions[name] = dist(split.train, kept)
                if arm is None or arm.candidates is None:
                    record.runs += evaluate_all(job, arm, split, train, seed, tag, record.scores)
            except ArmFailed as exc:
                state.status, state.error, state.failed_stage = "failed", str(exc), exc.stage
                echo(f"{tag}: FAILED in {exc.stage}: {exc}; the other arms continue")
            done = seed_position * len(arms) + position + 1
            if done < steps:
                record.checkpoint(f"{done} of {steps} arm and seed steps finished")
    return record.write()


class Record:
    """The results so far: written as results.json / results.csv after every step."""

    def __init__(
        self,
        job: Job,
        folder: OutputFolder[ExperimentManifest],
        clock: Clock,
        data: dict[str, Any],
        arms: dict[str, ArmResult],
    ) -> None:
        self.job, self.folder, self.clock, self.data, self.arms = job, folder, clock, data, arms
        self.runs: list[RunResult] = []
        self.scores: Scores = {}
        self.splits: dict[str, dict[str, Any]] = {}
        self.distributions: dict[str, Any] = {}
        self.split_s = 0.0

    def results(self, progress: str | None = None) -> ExperimentResults:
        from recaug_app.stats import summaries

        experiment = self.job.experiment
        config = experiment.config
        this_run = self.clock.this_run_s()
        results = ExperimentResults(
            experiment=ExperimentInfo(
                file=str(experiment.path),
                description=config.description,
                seeds=list(config.seeds),
                ks=list(config.ks),
                split=config.split,
                backends=[BackendInfo(label=b.key, **b.as_dict()) for b in experiment.backends],
            ),
            data=self.data,
            splits=self.splits,
            arms=self.arms,
            runs=self.runs,
            distributions=self.distributions,
            timings={
                "load_s": self.data["load_s"],
                "clean_s": self.data["clean_s"],
                "split_s": round(self.split_s, 4),
                "this_run_s": this_run,
                "total_s": round(self.clock.earlier_s + this_run, 4),
            },
            invocations=self.clock.invocations,
            partial=progress is not None,
            progress=progress,
        )
        results.summary = summaries(results, self.scores)
        return results

    def write(self, progress: str | None = None) -> ExperimentResults:
        results = self.results(progress)
        write_results(self.folder.path, results)
        return results

    def checkpoint(self, progress: str) -> None:
        """Partial results after a step, and this invocation's time in the manifest."""
        results = self.write(progress)
        self.clock.record()
        if self.job.checkpoint is not None:
            self.job.checkpoint(results)


def _arm_result(arm: Arm) -> ArmResult:
    """An arm's record before it runs: its settings and which plugin provides each part."""
    from recaug_core.registry import get_registry

    registry = get_registry()
    infos = {info.name: info for info in registry.plugin_infos()}
    plugins = {}
    components = arm.settings.components() if arm.settings is not None else []
    for kind, name in components:
        plugin = registry.components(kind)[name].plugin
        info = infos.get(plugin)
        plugins[name] = Provenance(
            plugin=plugin,
            distribution=info.distribution if info else None,
            version=info.version if info else None,
        )
    tried = None if arm.candidates is None else [NONE, *(c.label for c in arm.candidates)]
    return ArmResult(
        status="ok",
        augment=arm.settings,
        backend_options=arm.backend_options,
        merge=None if arm.settings is None else str(arm.merge),
        candidates=tried,
        plugins=plugins,
    )


def _augment(
    job: Job,
    arm: Arm,
    settings: AugmentSettings,
    folder: Path,
    split: Split,
    seed: int,
    tag: str,
) -> tuple[Dataset, SeedFacts, Any]:
    """The augmented training set of ``settings`` (an arm's, or one of a validation-selected
    arm's candidates) for this seed: from ``folder``, or made there."""
    import pyarrow.compute as pc

    from recaug_core.augmentation import Prepared, augment, reload_augmented

    experiment, echo = job.experiment, job.echo
    plan = AugmentPlan(
        data=experiment.data, split=experiment.config.split, seed=seed, augment=settings
    )
    try:
        done = augment(
            folder,
            plan,
            lambda: Prepared(split, {"ref": experiment.data.ref}, {}),
            command=["recaug", "run", str(experiment.path)],
            resume=True,
            mixed_precision=job.mixed_precision,
            contained=True,
            fidelity=True,
            log=lambda message: echo(f"{tag}: {message}"),
        )
    except OtherSettings as exc:
        raise RecaugError(
            f"arm '{arm.name}': {folder} holds this arm's augmentation with other settings "
            f"({', '.join(exc.changed)} differ); delete that folder to redo the arm with the "
            "new settings (everything else in --out stays cached), rename the arm, or choose "
            "another --out"
        ) from None
    except RecaugError as exc:
        if exc.stage is None:
            raise
        # a plugin's refusal of the settings names the plugin (its failures name it already)
        named = not isinstance(exc, PluginFailure) and exc.stage == "setup"
        culprit = _plugin_of(settings, getattr(exc, "component", None))
        raise ArmFailed(f"{exc} (plugin '{culprit}')" if named else str(exc), exc.stage) from None
    from recaug_core.fidelity import validation_hits

    manifest = done.manifest
    if done.result is None:
        echo(f"{tag}: augmentation cached")
        augmented = reload_augmented(split, folder)
        kept = augmented.interactions.filter(
            pc.not_equal(augmented.interactions.column("origin"), "real")
        )
    else:
        counts = done.result.counts
        echo(f"{tag}: generated {counts.generated}, kept {counts.kept}, rejected {counts.rejected}")
        augmented, kept = done.result.augmented, done.result.kept
    rows, hits, by_chance = validation_hits(split.train, split.valid, kept)
    facts = SeedFacts(
        counts=manifest.counts,
        filter_stats=manifest.filter_stats,
        timings=manifest.timings,
        fidelity=manifest.fidelity,
        validation=ValidationHits(rows=rows, hits=hits, by_chance=round(by_chance, 4)),
    )
    return augmented, facts, kept


def _plugin_of(settings: AugmentSettings, component: str | None) -> str:
    """The plugin that provides ``component`` of an arm (default: its strategy's)."""
    from recaug_core.registry import get_registry

    kinds = {name: kind for kind, name in settings.components()}
    name = component if component in kinds else settings.strategy
    return get_registry().components(kinds[name])[name].plugin


def _select_all(
    job: Job, arm: Arm, split: Split, seed: int, tag: str, record: Record
) -> tuple[list[RunResult], SeedFacts, Any]:
    """A validation-selected arm for one seed: every backend chooses among the arm's
    candidates and "no augmentation" by validation NDCG@10 (see ``selection``). Returns the
    runs, and the augmentation facts and kept rows of the first backend's choice (none when it
    chose no augmentation)."""
    from recaug_core.data import empty_interactions

    assert arm.candidates is not None
    augmented: dict[str, tuple[Dataset, SeedFacts, Any, float]] = {}

    def training_set(candidate: Candidate) -> tuple[Dataset, SeedFacts, Any, float]:
        if candidate.folder not in augmented:
            folder = confined(job.out, "arms", arm.name, f"seed-{seed}", candidate.folder)
            started = time.perf_counter()
            made = _augment(job, arm, candidate.settings, folder, split, seed, tag)
            augmented[candidate.folder] = (*made, time.perf_counter() - started)
        return augmented[candidate.folder]

    runs = []
    for shared in job.experiment.backends:
        backend = job.experiment.backend_for(arm, shared)
        # "no augmentation" is the baseline's own model, unless the arm changes the backend
        baseline = None
        if backend == shared:
            baseline = next(
                r
                for r in record.runs
                if r.arm == BASELINE and r.backend == shared.key and r.seed == seed
            )
        runs.append(
            select_backend(
                job, arm, backend, split, seed, tag, record.scores, baseline, training_set
            )
        )
    first = runs[0].selection
    chosen = {c.label: c for c in arm.candidates}.get(first.chosen if first else NONE)
    if chosen is None:
        return runs, SeedFacts(), empty_interactions()
    _, facts, kept, _ = training_set(chosen)
    return runs, facts, kept
