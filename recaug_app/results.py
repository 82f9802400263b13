"""Typed results: the metrics of one evaluation, and the ``results.json`` of `recaug run`.

The JSON keeps its flat layout (``{"ndcg@10": 0.31, "users": 120, "groups": {...}}``), so the
models read files of every version. ``results.json`` carries ``schema_version`` 2; version 1
(recaug 0.1.0, marked ``"recaug_experiment": 1``) recorded each arm's settings as separate keys
and is upgraded on reading.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from recaug_core.errors import RecaugError
from recaug_core.files import confined, safe_name, write_json, write_text
from recaug_core.pipeline import Counts
from recaug_core.settings import AugmentSettings, SplitSpec

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
SCHEMA_VERSION: Final = 2
BASELINE = "baseline"


_GROUP_FACTS = ("train_users", "min_length", "max_length")  # left out of JSON when unknown


class _Flat(BaseModel):
    """Metric values (``name@K``) are flat keys in JSON, ``values`` in Python."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "values" in data:
            return data
        values = {k: v for k, v in data.items() if "@" in k}
        return {"values": values, **{k: v for k, v in data.items() if "@" not in k}}

    @model_serializer(mode="wrap")
    def _spread(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        facts = {k: v for k, v in out.items() if not (k in _GROUP_FACTS and v is None)}
        if facts.get("validation") == {}:  # not measured (files before 0.2.0): not written
            del facts["validation"]
        return {**facts.pop("values"), **facts}


class GroupMetrics(_Flat):
    users: int | float  # a count; a mean over seeds when the seeds disagree
    # a user group's size among all training users and its history lengths (recaug >= 0.2)
    train_users: int | float | None = None
    min_length: int | float | None = None
    max_length: int | float | None = None


class Metrics(GroupMetrics):
    """One evaluation (or the mean of several): overall, and per user group. The group facts
    (``train_users``, lengths) belong to the groups, not to the overall figures."""

    groups: dict[str, GroupMetrics] = Field(default_factory=dict)
    group_thresholds: dict[str, float] = Field(default_factory=dict)
    # NDCG@10 of the fitted model on the validation split (what validation-selected arms
    # choose by); never a test figure. Empty in files written before 0.2.0.
    validation: dict[str, float] = Field(default_factory=dict)

    def value(self, name: str, group: str | None = None) -> float | None:
        source = self if group is None else self.groups.get(group)
        return None if source is None else source.values.get(name)


class Spread(_Flat):
    groups: dict[str, dict[str, float]] = Field(default_factory=dict)


class Aggregate(Metrics):
    """Metrics averaged over seeds, with their (population) standard deviation."""

    std: Spread = Field(default_factory=Spread)
    per_seed: list[dict[str, float]] | None = None


# -- results.json of `recaug run` -------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendInfo(Strict):
    label: str
    name: str
    options: dict[str, Any]

    @field_validator("label")
    @classmethod
    def _file_name(cls, value: str) -> str:
        # labels name report files: a results.json that says '../x' must not write there
        return safe_name(value)


class ExperimentInfo(Strict):
    file: str
    description: str
    seeds: list[int]
    ks: list[int]
    split: SplitSpec
    backends: list[BackendInfo]


class Provenance(Strict):
    plugin: str
    distribution: str | None
    version: str | None


class ValidationHits(Strict):
    """How many kept synthetic rows of real users are among that user's validation items: a
    generator's precision, measured without touching the test split."""

    rows: int  # kept synthetic rows of users with validation items (a new user has none)
    hits: int
    by_chance: float  # the hits expected of random items the user has not trained on

    @property
    def share(self) -> float | None:
        return self.hits / self.rows if self.rows else None


class SeedFacts(Strict):
    """What one seed's augmentation of an arm did (from its manifest)."""

    counts: Counts | None = None
    filter_stats: dict[str, dict[str, Any]] | None = None
    timings: dict[str, float] | None = None
    fidelity: dict[str, Any] | None = None
    validation: ValidationHits | None = None


class ArmResult(Strict):
    status: Literal["ok", "failed"]
    augment: AugmentSettings | None = None  # None for the baseline and arms adding no rows
    # the arm's own backend options, per backend label (see experiment_file.ArmConfig)
    backend_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    merge: str | None = None  # the merge policy (None for the baseline)
    candidates: list[str] | None = None  # a validation-selected arm's grid, `none` first
    plugins: dict[str, Provenance] = Field(default_factory=dict)
    error: str | None = None
    failed_stage: str | None = None
    augmentation: dict[str, SeedFacts] = Field(default_factory=dict)  # per seed


class CandidateResult(Strict):
    """One setting a validation-selected arm tried: its model's validation NDCG@10."""

    candidate: str
    validation: float | None
    fit_s: float = 0.0


class Selection(Strict):
    """How a validation-selected arm chose, for one backend and seed. Test rows played no
    part: only the chosen candidate's model was ever scored on the test split."""

    chosen: str
    metric: str = "ndcg@10"
    candidates: list[CandidateResult]
    search_s: float  # seconds spent augmenting and fitting the candidates


class RunResult(Strict):
    """One backend trained on one arm's training data for one seed."""

    arm: str
    backend: str
    seed: int
    metrics: Metrics
    timings: dict[str, float]
    selection: Selection | None = None


class Significance(Strict):
    """The paired test of an arm's change vs baseline (``stats.paired_test``)."""

    test: str  # its name, as the report states it
    p: float  # two-sided
    p_adjusted: float  # Holm-adjusted over every test of the report
    ci_low: float  # 95 % confidence interval of the relative change
    ci_high: float
    users: int  # users compared in every seed
    significant: bool  # p_adjusted < 0.05


class Summary(Strict):
    """Mean and spread over seeds; for an arm, the change vs baseline and its test."""

    mean: float
    std: float
    seeds: int
    change: float | None = None
    significance: Significance | None = None
    exceeds_spread: bool | None = None  # written by recaug 0.1.0, read and no longer shown


SummaryTable = dict[str, dict[str, dict[str, dict[str, Summary | None]]]]  # backend/arm/group


class ExperimentResults(Strict):
    schema_version: Literal[2] = SCHEMA_VERSION
    experiment: ExperimentInfo
    data: dict[str, Any]  # how the data was read and cleaned
    splits: dict[str, dict[str, Any]]  # per seed: rows and users per part
    arms: dict[str, ArmResult]
    runs: list[RunResult]
    distributions: dict[str, Any]  # popularity and length curves (first seed)
    timings: dict[str, float]  # total_s: every invocation of `recaug run` on this folder
    summary: SummaryTable = Field(default_factory=dict)
    invocations: int = 1  # how many `recaug run` commands produced these results
    partial: bool = False  # written while the experiment runs (or by one that was stopped)
    progress: str | None = None  # how far a partial experiment got

    @model_validator(mode="after")
    def _file_names(self) -> ExperimentResults:
        # arm names and backends name folders and report files too
        for name in [*self.arms, *(r.arm for r in self.runs), *(r.backend for r in self.runs)]:
            if name != BASELINE:
                safe_name(name)
        return self

    def backends(self) -> list[str]:
        return [b.label for b in self.experiment.backends]

    def arm_names(self, ok_only: bool = False) -> list[str]:
        return [a for a, s in self.arms.items() if not ok_only or s.status == "ok"]

    def failed_arms(self) -> list[tuple[str, str, str]]:
        """(arm, stage, error) of every failed arm."""
        return [
            (name, arm.failed_stage or "?", arm.error or "")
            for name, arm in self.arms.items()
            if arm.status == "failed"
        ]


def write_results(out: Path, results: ExperimentResults) -> None:
    write_json(confined(out, RESULTS_JSON), results.model_dump(mode="json"))
    write_text(confined(out, RESULTS_CSV), results_csv(results))


CSV_COLUMNS = ("arm", "backend", "seed", "group", "metric", "value")


def results_csv(results: ExperimentResults) -> str:
    """Long format: one row per arm, backend, seed, user group (``all`` first) and metric."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in results.runs:
        groups: dict[str, GroupMetrics] = {"all": run.metrics, **run.metrics.groups}
        for group, metrics in groups.items():
            for name, value in metrics.values.items():
                writer.writerow((run.arm, run.backend, run.seed, group, name, value))
    return buffer.getvalue()


def load_results(run_dir: Path) -> ExperimentResults:
    """``results.json`` of ``run_dir``, of any schema version; RecaugError naming the file."""
    path = run_dir / RESULTS_JSON
    if not path.exists():
        raise RecaugError(f"{run_dir}: no {RESULTS_JSON}; is it the --out folder of `recaug run`?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecaugError(f"{path}: unreadable results ({exc})") from None
    if not isinstance(raw, dict) or not ({"schema_version", "recaug_experiment"} & set(raw)):
        raise RecaugError(f"{path}: not the results of `recaug run`")
    version = raw.get("schema_version", 1)
    if version not in (1, SCHEMA_VERSION):
        raise RecaugError(
            f"{path}: results schema version {version!r}; this recaug reads versions 1 and "
            f"{SCHEMA_VERSION} (a newer recaug wrote it?)"
        )
    try:
        return ExperimentResults.model_validate(_upgrade_v1(raw) if version == 1 else raw)
    except (ValidationError, KeyError, TypeError, AttributeError) as exc:
        detail = str(exc).splitlines()[0]
        raise RecaugError(
            f"{path}: invalid results of schema version {version} ({detail})"
        ) from None


def _upgrade_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """recaug 0.1.0 results in the layout of version 2."""
    arms = {}
    for name, arm in raw["arms"].items():
        arm = dict(arm)
        arm.pop("name", None)
        if "strategy" in arm:
            strategy, filters = arm.pop("strategy"), arm.pop("filters")
            arm["augment"] = {
                "strategy": strategy["name"],
                "options": strategy["options"],
                "filters": filters,
                "dedupe": any(f["name"] == "dedupe" for f in filters),
                "budget": arm.pop("budget"),
                "target": arm.pop("target"),
            }
        arms[name] = arm
    rest = {k: v for k, v in raw.items() if k != "recaug_experiment"}
    return {**rest, "schema_version": SCHEMA_VERSION, "arms": arms}
