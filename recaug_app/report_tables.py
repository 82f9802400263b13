"""The tables of the experiment report, each a function of the typed results.

A cell is a mean over seeds ± its spread with the change vs baseline, marked (▲ green,
▼ red) only where the paired test finds it significant after Holm's correction
(``recaug_app.stats``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recaug_app.results import BASELINE, ExperimentResults, Summary
from recaug_app.selection import NONE
from recaug_app.stats import (
    ALL,
    GROUP_METRICS,
    TABLE_METRICS,
    Finding,
    Verdict,
    cell,
    verdict,
)
from recaug_core.targets import GROUPS

FIDELITY = (
    ("popularity_js", "popularity JS"),
    ("length_ks", "length KS"),
    ("exact_copy_rate", "exact-copy rate"),
    ("dcr_mean", "DCR mean"),
    ("dcr_p05", "DCR p05"),
)
STEPS = ("generated", "kept", "rejected")


@dataclass(frozen=True)
class Cell:
    """A figure with its change vs baseline; ``tone`` is "gain" or "loss" when significant."""

    value: str
    spread: str = ""
    change: str = ""
    tone: str = ""
    note: str = ""  # the test, for a tooltip

    @property
    def mark(self) -> str:
        return {"gain": "▲ ", "loss": "▼ "}.get(self.tone, "")

    def markdown(self) -> str:
        parts = [f"{self.value} ± {self.spread}" if self.spread else self.value]
        if self.change:
            shown = f"**{self.mark}{self.change}**" if self.tone else self.change
            parts.append(f"({shown})" if self.value else shown)
        return " ".join(p for p in parts if p)

    def html(self) -> str:
        out = html.escape(self.value)
        if self.spread:
            out += f"<small> ±{html.escape(self.spread)}</small>"
        if self.change:
            klass = self.tone or "same"
            title = f" title='{html.escape(self.note)}'" if self.note else ""
            change = html.escape(self.mark + self.change)
            out += f" <span class='{klass}'{title}>{change}</span>"
        return out.strip()


Value = str | Cell
Table = tuple[list[str], Sequence[Sequence[Value]]]


def _percent(value: float) -> str:
    return f"{value:+.1%}".replace("-", "−")


def summary_cell(s: Summary | None) -> Cell:
    if s is None:
        return Cell("–")
    # compact: the spread without its leading zero, so eight columns fit the page
    value, spread = f"{s.mean:.4f}", f"{s.std:.4f}".replace("0.", ".", 1)
    if s.change is None:
        return Cell(value, spread)
    test = s.significance
    if test is None:
        return Cell(value, spread, _percent(s.change))
    tone = ("gain" if s.change > 0 else "loss") if test.significant else ""
    note = (
        f"95 % CI {_percent(test.ci_low)} to {_percent(test.ci_high)}; p = {test.p:.2g}, "
        f"Holm-adjusted {test.p_adjusted:.2g}; {test.users} users in every seed"
    )
    return Cell(value, spread, _percent(s.change), tone, note)


# -- the verdict --------------------------------------------------------------------------------


def verdict_of(results: ExperimentResults) -> Verdict:
    """The report's verdict: each evaluated arm on NDCG at the first K, overall and for sparse
    users, per backend (an arm a partial experiment has not reached yet is left out)."""
    metric = f"ndcg@{results.experiment.ks[0]}"
    backends = results.backends()
    evaluated = {run.arm for run in results.runs}
    findings: dict[str, list[Finding]] = {}
    for arm in results.arm_names(ok_only=True):
        if arm == BASELINE or arm not in evaluated:
            continue
        found = findings[arm] = []
        for backend in backends:
            suffix = f" with {backend}" if len(backends) > 1 else ""
            for group, where in ((ALL, "overall"), ("sparse", "for sparse users")):
                s = cell(results, backend, arm, metric, group)
                if s is None or s.change is None:
                    continue
                significant = None if s.significance is None else s.significance.significant
                found.append(Finding(where + suffix, s.change, significant))
    selected = {name for name, arm in results.arms.items() if arm.candidates is not None}
    return verdict(findings, f"NDCG@{results.experiment.ks[0]}", selected)


# -- tables -----------------------------------------------------------------------------------


def metric_table(results: ExperimentResults, backend: str) -> Table:
    ks = results.experiment.ks
    names = [f"{m}@{ks[0]}" for m in TABLE_METRICS] + [
        f"{m}@{k}" for k in ks[1:] for m in GROUP_METRICS
    ]
    rows: list[list[Value]] = []
    for arm in results.arm_names():
        if results.arms[arm].status != "ok":
            rows.append([arm, "failed", *[""] * (len(names) - 1)])
            continue
        rows.append([arm] + [summary_cell(cell(results, backend, arm, n)) for n in names])
    return ["arm", *names], rows


def headline_table(results: ExperimentResults) -> Table:
    """NDCG@K per arm and backend, overall and for sparse users, and how often each arm's
    rows hit validation items: the question in one table."""
    k = results.experiment.ks[0]
    backends = results.backends()
    headers = ["arm"]
    for backend in backends:
        prefix = f"{backend} " if len(backends) > 1 else ""
        headers += [f"{prefix}ndcg@{k}", f"{prefix}ndcg@{k} sparse users"]
    headers += ["kept rows / seed", "kept rows on validation items"]
    rows: list[list[Value]] = []
    metric = f"ndcg@{k}"
    for arm in results.arm_names():
        if results.arms[arm].status != "ok":
            rows.append([arm, "failed", *[""] * (len(headers) - 2)])
            continue
        row: list[Value] = [arm]
        for backend in backends:
            row.append(summary_cell(cell(results, backend, arm, metric)))
            row.append(summary_cell(cell(results, backend, arm, metric, "sparse")))
        row += [_kept_per_seed(results, arm), validation_share(results, arm)]
        rows.append(row)
    return headers, rows


def arms_table(results: ExperimentResults) -> Table:
    """What each arm changes: its strategy (rows added) and its own backend options."""
    rows = []
    for arm in results.arm_names():
        if arm == BASELINE:
            continue
        state = results.arms[arm]
        strategy = state.augment.strategy if state.augment is not None else "– (no rows added)"
        options = "; ".join(
            f"{backend}: " + ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))
            for backend, changed in sorted(_own_options(results, arm).items())
        )
        merge = "chosen on validation" if state.candidates else (state.merge or "–")
        rows.append([arm, strategy, merge, options or "–"])
    return ["arm", "strategy", "merge", "backend options"], rows


def selection_table(results: ExperimentResults) -> Table | None:
    """What each validation-selected arm tried and chose: per backend and candidate, the
    validation NDCG@10 (mean ± std over seeds), the seeds that chose it, and the search's
    cost. None when no arm selects."""
    rows: list[list[Value]] = []
    for run_arm in results.arm_names(ok_only=True):
        if not results.arms[run_arm].candidates:
            continue
        for backend in results.backends():
            runs = [
                r
                for r in results.runs
                if r.arm == run_arm and r.backend == backend and r.selection is not None
            ]
            if not runs:
                continue
            scores: dict[str, list[float]] = {}
            chosen: dict[str, list[str]] = {}
            for run in runs:
                assert run.selection is not None
                for tried in run.selection.candidates:
                    if tried.validation is not None:
                        scores.setdefault(tried.candidate, []).append(tried.validation)
                chosen.setdefault(run.selection.chosen, []).append(str(run.seed))
            for label in results.arms[run_arm].candidates or []:
                values = scores.get(label, [])
                shown = f"{np.mean(values):.4f} ± {np.std(values):.4f}" if values else "–"
                seeds = ", ".join(chosen.get(label, [])) or "–"
                what = "no augmentation (the baseline's model)" if label == NONE else label
                rows.append([run_arm, backend, what, shown, seeds])
            cost = sum(r.selection.search_s for r in runs if r.selection is not None)
            rows.append([run_arm, backend, "search cost", duration(cost), f"{len(runs)} seed(s)"])
    if not rows:
        return None
    return ["arm", "backend", "candidate", "validation ndcg@10", "chosen in seeds"], rows


def _own_options(results: ExperimentResults, arm: str) -> dict[str, dict[str, object]]:
    """The backend options an arm sets that differ from the backend's own."""
    shared = {b.label: b.options for b in results.experiment.backends}
    return {
        backend: {k: v for k, v in options.items() if shared.get(backend, {}).get(k) != v}
        for backend, options in results.arms[arm].backend_options.items()
    }


def _kept_per_seed(results: ExperimentResults, arm: str) -> str:
    counts = [f.counts.kept for f in results.arms[arm].augmentation.values() if f.counts]
    return f"{np.mean(counts):,.0f}" if counts else "–"


def validation_share(results: ExperimentResults, arm: str) -> str:
    """The share of an arm's kept rows that are their user's validation items (all seeds),
    with what random unseen items would reach."""
    facts = [f.validation for f in results.arms[arm].augmentation.values() if f.validation]
    rows = sum(f.rows for f in facts)
    if not rows:
        return "–"
    hits, chance = sum(f.hits for f in facts), sum(f.by_chance for f in facts)
    return f"{hits / rows:.1%} (chance {chance / rows:.1%})"


def group_table(results: ExperimentResults, backend: str) -> Table:
    k = results.experiment.ks[0]
    names = [f"{m}@{k}" for m in GROUP_METRICS]
    headers = ["arm"] + [f"{n} {g}" for g in GROUPS for n in names]
    rows: list[list[Value]] = []
    for arm in results.arm_names(ok_only=True):
        rows.append(
            [arm] + [summary_cell(cell(results, backend, arm, n, g)) for g in GROUPS for n in names]
        )
    return headers, rows


def tests_table(results: ExperimentResults) -> Table:
    """Every test behind the verdict: change, interval, p-values, users."""
    metric = f"ndcg@{results.experiment.ks[0]}"
    headers = ["arm", "backend", "group", "change", "95 % CI", "p", "p (Holm)", "users", "result"]
    rows: list[list[Value]] = []
    for backend in results.backends():
        for arm in results.arm_names(ok_only=True):
            if arm == BASELINE:
                continue
            for group in (ALL, *GROUPS):
                s = cell(results, backend, arm, metric, group)
                test = None if s is None else s.significance
                if s is None or s.change is None or test is None:
                    continue
                tone = ("gain" if s.change > 0 else "loss") if test.significant else ""
                word = {"gain": "better", "loss": "worse"}.get(tone, "not significant")
                rows.append(
                    [
                        arm,
                        backend,
                        "all" if group == ALL else group,
                        Cell("", change=_percent(s.change), tone=tone),
                        f"{_percent(test.ci_low)} to {_percent(test.ci_high)}",
                        f"{test.p:.2g}",
                        f"{test.p_adjusted:.2g}",
                        str(test.users),
                        word,
                    ]
                )
    return headers, rows


def fidelity_table(results: ExperimentResults) -> Table:
    rows: list[list[Value]] = []
    for arm in results.arm_names(ok_only=True):
        if arm == BASELINE:
            continue
        facts = [f.fidelity or {} for f in results.arms[arm].augmentation.values()]
        row: list[Value] = [arm]
        for key, _ in FIDELITY:
            values = [f[key] for f in facts if f.get(key) is not None]
            row.append(f"{np.mean(values):.4f}" if values else "–")
        rows.append(row)
    return ["arm", *(label for _, label in FIDELITY)], rows


def rows_table(results: ExperimentResults) -> Table:
    rows: list[list[Value]] = []
    for arm in results.arm_names():
        if arm == BASELINE:
            continue
        counts = [f.counts for f in results.arms[arm].augmentation.values() if f.counts]
        generated, kept, rejected = (sum(getattr(c, k) for c in counts) for k in STEPS)
        reasons: dict[str, int] = {}
        for c in counts:
            for reason, n in c.rejected_by_reason.items():
                reasons[reason] = reasons.get(reason, 0) + n
        by_reason = "; ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) or "–"
        ok = results.arms[arm].status == "ok"
        rows.append(
            [arm, str(len(results.arms[arm].augmentation)), f"{generated:,}", f"{kept:,}",
             f"{rejected:,}", by_reason if ok else f"{by_reason} (failed)",
             validation_share(results, arm)]
        )  # fmt: skip
    headers = ["arm", "seeds", "generated", "kept", "rejected", "rejected by reason"]
    return [*headers, "kept rows on validation items"], rows


def timing_table(results: ExperimentResults) -> Table:
    stages = ("fit_s", "generate_s", "filter_s", "write_s")
    backends = results.backends()
    headers = ["arm", *(s.removesuffix("_s") for s in stages)]
    headers += [f"{b} {t}" for b in backends for t in ("fit", "evaluate")]
    rows: list[list[Value]] = []
    for arm in results.arm_names():
        timings = [f.timings or {} for f in results.arms[arm].augmentation.values()]
        row: list[Value] = [arm]
        row += [duration(sum(t.get(s, 0.0) for t in timings)) if timings else "–" for s in stages]
        for backend in backends:
            runs = [r for r in results.runs if r.arm == arm and r.backend == backend]
            for key in ("fit_s", "evaluate_s"):
                row.append(duration(sum(r.timings.get(key, 0.0) for r in runs)) if runs else "–")
        rows.append(row)
    return headers, rows


def duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"
