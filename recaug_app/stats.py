"""Statistics over an experiment's results: mean ± spread, change vs baseline, its test, and
the verdict.

Numbers are means over seeds ± their (population) standard deviation; an arm's change is
relative to the baseline's mean. Whether a change is real is decided by ``paired_test``: the
per-user differences between arm and baseline on the same split and training seed, pooled
over users and seeds with a variance that counts both (two-way random effects), so a change
that only one seed shows, or only a few users, is not called significant. The p-values of
every test a report shows are Holm-adjusted together (``holm``); a claim that an arm helped or
hurt needs an adjusted p below ``ALPHA``. docs/metrics.md derives the test.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from recaug_app.results import (
    BASELINE,
    ExperimentResults,
    Significance,
    Summary,
    SummaryTable,
)
from recaug_core.ranking import UserScores
from recaug_core.targets import GROUPS

TABLE_METRICS = ("ndcg", "recall", "hit", "mrr", "coverage", "tail_share")
GROUP_METRICS = ("ndcg", "recall")
# Metrics of single users (ranking metrics) can be tested per user; coverage and tail share
# describe all lists together and are shown without a test.
TESTED = ("ndcg", "recall", "hit", "mrr", "precision")
ALPHA = 0.05
TEST_NAME = "paired per-user test over users and seeds, Holm-adjusted"
ALL = "all"

# (arm, backend, seed) -> every test user's scores in that evaluation
Scores = Mapping[tuple[str, str, int], UserScores]


def shown_cells(ks: Sequence[int]) -> list[tuple[str, str]]:
    """(metric, group) of every figure the report shows per arm: all table metrics at the
    first K, NDCG and Recall at the other Ks, and NDCG and Recall at the first K per group."""
    first = [f"{m}@{ks[0]}" for m in TABLE_METRICS]
    later = [f"{m}@{k}" for k in ks[1:] for m in GROUP_METRICS]
    groups = [(f"{m}@{ks[0]}", g) for g in GROUPS for m in GROUP_METRICS]
    return [(name, ALL) for name in first + later] + groups


def is_tested(metric: str) -> bool:
    return metric.split("@")[0] in TESTED


def metric_values(
    results: ExperimentResults, arm: str, backend: str, metric: str, group: str | None = None
) -> dict[int, float]:
    """{seed: value} of one metric (overall, or for a user group)."""
    group = None if group == ALL else group
    out = {}
    for run in results.runs:
        if run.arm == arm and run.backend == backend:
            value = run.metrics.value(metric, group)
            if value is not None:
                out[run.seed] = value
    return out


def summary(
    results: ExperimentResults, arm: str, backend: str, metric: str, group: str | None = None
) -> Summary | None:
    """Mean, std and relative change vs baseline (without a test: see ``summaries``)."""
    values = metric_values(results, arm, backend, metric, group)
    if not values:
        return None
    mine = np.array(list(values.values()))
    out = Summary(mean=float(mine.mean()), std=float(mine.std()), seeds=len(mine))
    base = metric_values(results, BASELINE, backend, metric, group)
    shared = sorted(set(base) & set(values))
    if arm == BASELINE or not shared:
        return out
    diffs = np.array([values[s] - base[s] for s in shared])
    base_mean = float(np.mean([base[s] for s in shared]))
    out.change = None if base_mean == 0 else float(diffs.mean()) / base_mean
    return out


def cell(
    results: ExperimentResults, backend: str, arm: str, metric: str, group: str = ALL
) -> Summary | None:
    """The summary results.json holds for a shown figure (with its test), else computed."""
    stored = results.summary.get(backend, {}).get(arm, {}).get(group, {})
    if metric in stored:
        return stored[metric]
    return summary(results, arm, backend, metric, group)


def summaries(results: ExperimentResults, scores: Scores | None = None) -> SummaryTable:
    """Every shown figure per backend, arm and group, each arm's change tested against the
    baseline where ``scores`` hold both evaluations' per-user scores, Holm-adjusted together."""
    table: SummaryTable = {}
    tests: list[tuple[Summary, PairedTest]] = []
    for backend in results.backends():
        table[backend] = {}
        for arm in results.arms:
            groups = table[backend][arm] = {}
            for metric, group in shown_cells(results.experiment.ks):
                s = summary(results, arm, backend, metric, group)
                groups.setdefault(group, {})[metric] = s
                if s is None or arm == BASELINE or scores is None or not is_tested(metric):
                    continue
                found = compare(scores, arm, backend, metric, group)
                if found is not None:
                    tests.append((s, found))
    attach(tests)
    return table


def compare(scores: Scores, arm: str, backend: str, metric: str, group: str) -> PairedTest | None:
    """The paired test of one arm against the baseline, over the seeds both were scored on."""
    mine = {seed: s for (a, b, seed), s in scores.items() if a == arm and b == backend}
    base = {seed: s for (a, b, seed), s in scores.items() if a == BASELINE and b == backend}
    matrices = aligned(mine, base, metric, None if group == ALL else group)
    return None if matrices is None else paired_test(*matrices)


def attach(tests: Sequence[tuple[Summary, PairedTest]]) -> None:
    """Holm-adjust the tests together and record each on its summary."""
    adjusted = holm([t.p for _, t in tests])
    for (target, t), p_adjusted in zip(tests, adjusted):
        target.significance = t.significance(float(p_adjusted))


# -- the paired test ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedTest:
    """Relative change of the mean (arm / baseline - 1) with its 95 % interval and p-value."""

    change: float
    ci_low: float
    ci_high: float
    p: float
    users: int
    seeds: int
    df: float

    def significance(self, p_adjusted: float) -> Significance:
        return Significance(
            test=TEST_NAME,
            p=self.p,
            p_adjusted=p_adjusted,
            ci_low=self.ci_low,
            ci_high=self.ci_high,
            users=self.users,
            significant=p_adjusted < ALPHA,
        )


def aligned(
    arm: Mapping[int, UserScores],
    base: Mapping[int, UserScores],
    metric: str,
    group: str | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """[seeds, users] matrices of ``metric`` for arm and baseline, over the users scored in
    every shared seed (and in ``group`` there); None when nothing can be compared."""
    seeds = sorted(set(arm) & set(base))
    if not seeds or any(metric not in arm[s].values or metric not in base[s].values for s in seeds):
        return None
    import pyarrow.compute as pc

    code = None if group is None else GROUPS.index(group)
    common = None
    for s in seeds:
        ids = base[s].user_ids
        keep = pc.is_in(ids, value_set=arm[s].user_ids).to_numpy(zero_copy_only=False)
        if code is not None:
            keep &= base[s].groups == code
        present = ids.filter(keep)
        common = present if common is None else common.filter(pc.is_in(common, value_set=present))
    if common is None or len(common) == 0:
        return None
    rows_a, rows_b = [], []
    for s in seeds:
        at_a = pc.index_in(common, value_set=arm[s].user_ids).to_numpy(zero_copy_only=False)
        at_b = pc.index_in(common, value_set=base[s].user_ids).to_numpy(zero_copy_only=False)
        rows_a.append(arm[s].values[metric][at_a.astype(np.int64)])
        rows_b.append(base[s].values[metric][at_b.astype(np.int64)])
    return np.vstack(rows_a), np.vstack(rows_b)


def paired_test(arm: np.ndarray, base: np.ndarray) -> PairedTest | None:
    """Test whether the mean of ``arm`` differs from the mean of ``base`` ([seeds, users],
    paired cell by cell: the same user, split and training seed).

    The relative change R = mean(arm) / mean(base) - 1 is linearised per cell,
    z = (arm - (1 + R) base) / mean(base), and the variance of mean(z) is estimated as in a
    two-way random-effects ANOVA over users and seeds: users that gain in every seed count
    once per user, and a shift that differs from seed to seed (training chance) widens the
    interval. Degrees of freedom by Satterthwaite; with one seed it is a paired t-test over
    users. None when the baseline's mean is 0 and the arm's is not (no relative change).
    """
    from scipy import stats as st

    a = np.asarray(arm, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    n_seeds, n_users = a.shape
    base_mean, arm_mean = b.mean(), a.mean()
    if base_mean == 0:
        if arm_mean != 0:
            return None
        return PairedTest(0.0, 0.0, 0.0, 1.0, n_users, n_seeds, float("inf"))
    change = arm_mean / base_mean - 1.0
    z = (a - (1.0 + change) * b) / base_mean  # mean(z) is 0 at the estimate
    by_user = z.mean(axis=0) - z.mean()
    ms_user = n_seeds * float((by_user**2).sum()) / (n_users - 1) if n_users > 1 else 0.0
    variance, df = ms_user / (n_seeds * n_users), float(max(n_users - 1, 1))
    if n_seeds > 1 and n_users > 1:
        by_seed = z.mean(axis=1) - z.mean()
        ms_seed = n_users * float((by_seed**2).sum()) / (n_seeds - 1)
        residual = z - z.mean(axis=1, keepdims=True) - z.mean(axis=0, keepdims=True) + z.mean()
        ms_res = float((residual**2).sum()) / ((n_seeds - 1) * (n_users - 1))
        # Seeds that differ beyond what users explain add their variance; the degrees of
        # freedom always count the seed term, so few seeds keep the test cautious even when
        # their estimated extra variance happens to be 0.
        combined = ms_user + max(ms_seed - ms_res, 0.0)
        variance = combined / (n_seeds * n_users)
        spread = (
            ms_user**2 / (n_users - 1)
            + ms_seed**2 / (n_seeds - 1)
            + ms_res**2 / ((n_seeds - 1) * (n_users - 1))
        )
        df = combined**2 / spread if spread > 0 else df
    se = float(np.sqrt(variance))
    if se == 0:
        p = 1.0 if change == 0 else 0.0
        return PairedTest(change, change, change, p, n_users, n_seeds, df)
    p = float(2 * st.t.sf(abs(change) / se, df))
    half = float(st.t.ppf(0.975, df)) * se
    return PairedTest(change, change - half, change + half, p, n_users, n_seeds, df)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: the family-wise error stays below alpha for any dependence
    between the tests (metrics of one arm are strongly correlated)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


# -- the verdict --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One tested change of an arm: where (``"overall"``, ``"sparse users"``), by how much."""

    where: str
    change: float | None
    significant: bool | None  # None: not tested


@dataclass(frozen=True)
class Verdict:
    helped: list[str] = field(default_factory=list)
    hurt: list[str] = field(default_factory=list)
    mixed: list[str] = field(default_factory=list)
    no_difference: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    sentence: str = ""


def verdict(
    findings: Mapping[str, Sequence[Finding]], metric: str, selected: Collection[str] = ()
) -> Verdict:
    """One sentence on which arms helped, hurt or made no measurable difference on ``metric``
    (a change counts only when significant after correction), and what to try next;
    ``selected`` names the arms that validation already tuned (``select = "validation"``),
    for which a search on validation is no longer the advice."""
    groups: dict[str, list[str]] = {k: [] for k in ("helped", "hurt", "mixed", "none", "untested")}
    said: dict[str, str] = {}
    for arm, found in findings.items():
        tested = [f for f in found if f.significant is not None]
        ups = [f for f in tested if f.significant and (f.change or 0) > 0]
        downs = [f for f in tested if f.significant and (f.change or 0) < 0]
        kind = (
            "untested"
            if not tested
            else "mixed"
            if ups and downs
            else "helped"
            if ups
            else "hurt"
            if downs
            else "none"
        )
        groups[kind].append(arm)
        shown = ups + downs if ups or downs else tested
        said[arm] = ", ".join(f"{_percent(f.change)} {f.where}" for f in shown)
    parts = []
    for kind, words in (("helped", "helped"), ("hurt", "hurt"), ("mixed", "had mixed effects")):
        if groups[kind]:
            named = [f"{arm} ({said[arm]})" for arm in groups[kind]]
            parts.append(f"{_join(named)} {words}")
    if groups["none"]:
        named = [f"{arm} ({said[arm]}, not significant)" for arm in groups["none"]]
        parts.append(f"{_join(named)} made no measurable difference")
    if groups["untested"]:
        parts.append(f"{_join(groups['untested'])} could not be tested (no per-user scores)")
    if not findings:
        parts.append("no augmentation arm finished")
    text = f"On {metric} ({TEST_NAME}, {ALPHA:.0%}): {'; '.join(parts)}"
    return Verdict(
        helped=groups["helped"],
        hurt=groups["hurt"],
        mixed=groups["mixed"],
        no_difference=groups["none"],
        untested=groups["untested"],
        sentence=f"{text}; next, {_next_step(groups, set(selected))}.",
    )


def _next_step(groups: Mapping[str, list[str]], selected: set[str]) -> str:
    tuned = [arm for kind in ("helped", "hurt", "mixed", "none") for arm in groups[kind]]
    if tuned and set(tuned) <= selected:
        if groups["hurt"] or groups["mixed"]:
            return (
                "validation chose settings that the test split disagrees with: give the "
                "search more validation users or seeds, or narrow its `[arms.grid]`"
            )
        if groups["helped"]:
            return f"confirm {_join(groups['helped'])} with more seeds or on other data"
        return (
            "add seeds or users for a more sensitive test, or widen the arms' `[arms.grid]` "
            "(budget, target, merge policy, strategy options)"
        )
    if groups["hurt"] or groups["mixed"]:
        return (
            "let synthetic rows count less than real ones (`--merge weighted:weight=0.1`, or "
            '`--merge pretrain` to finish on real rows only; `merge = "..."` in an arm) or '
            'let validation pick each arm\'s setting (`select = "validation"`)'
        )
    if groups["helped"]:
        return (
            f"confirm {_join(groups['helped'])} with more seeds or on other data, and let "
            '`select = "validation"` tune budget and merge policy without touching the test split'
        )
    return (
        "add seeds or users for a more sensitive test, or search budget, target and merge "
        'policy on validation (`select = "validation"` in an arm)'
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}".replace("-", "−")


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
