"""The experiment report: ``report.md`` and a self-contained ``report.html`` from results.json.

The verdict comes first: which arms helped, which hurt, which made no measurable difference
(``stats.verdict``, backed by the paired test). Cells are means over seeds ± their spread with
the change vs baseline; a change is marked (▲ green, ▼ red) only where the test finds it
significant after Holm's correction (the statistics are ``recaug_core.stats``; the figures
``plots``).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recaug_core.files import confined, write_bytes, write_text
from recaug_core.results import BASELINE, ExperimentResults, Summary
from recaug_core.stats import (
    ALL,
    ALPHA,
    GROUP_METRICS,
    TABLE_METRICS,
    TEST_NAME,
    Finding,
    Verdict,
    cell,
    verdict,
)
from recaug_core.targets import GROUPS

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES = "figures"
FIDELITY = (
    ("popularity_js", "popularity JS"),
    ("length_ks", "length KS"),
    ("exact_copy_rate", "exact-copy rate"),
    ("dcr_mean", "DCR mean"),
    ("dcr_p05", "DCR p05"),
)
STEPS = ("generated", "kept", "rejected")
RATIO_PROTOCOLS = ("random-by-user", "temporal-by-user", "global-temporal")
LEGEND = (
    f"▲ green: better than the baseline, ▼ red: worse, each significant at {ALPHA:.0%} after "
    f"correction ({TEST_NAME}); a change without a mark is not significant after correction: "
    "no measurable difference. "
    "Coverage and tail share describe all lists together and are not tested."
)


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
    return verdict(findings, f"NDCG@{results.experiment.ks[0]}")


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
        rows.append([arm, strategy, options or "–"])
    return ["arm", "strategy", "backend options"], rows


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


# -- rendering --------------------------------------------------------------------------------


def render(run_dir: Path, results: ExperimentResults) -> list[Path]:
    """Write report.md, report.html and figures/*.png into ``run_dir``; returns the paths."""
    try:
        from recaug_core.plots import figures

        pictures = figures(results)
    except ImportError:  # matplotlib is an extra (recaug[report]): tables only without it
        pictures = {}
    # every path checked to stay in run_dir once links are followed (a figures/ that links
    # elsewhere is refused), and names are the safe labels that results.json had to hold
    written = [confined(run_dir, FIGURES, f"{name}.png") for name in pictures]
    for path, png in zip(written, pictures.values()):
        write_bytes(path, png)
    sections = _sections(results)
    the_verdict = verdict_of(results).sentence
    markdown, html = confined(run_dir, REPORT_MD), confined(run_dir, REPORT_HTML)
    write_text(markdown, _markdown(results, the_verdict, sections, set(pictures)))
    write_text(html, _html(results, the_verdict, sections, pictures))
    return [markdown, html, *written]


Section = tuple[str, str, list[Table], list[str]]  # title, text, tables, figure names


def _sections(results: ExperimentResults) -> list[Section]:
    backends = results.backends()
    k = results.experiment.ks[0]
    out: list[Section] = []
    failures = results.failed_arms()
    if failures:
        text = "\n".join(
            f"- **{arm}** stopped in {stage}: {error}" for arm, stage, error in failures
        )
        out.append(("Failed arms", text, [], []))
    out.append(
        (
            "Headline",
            f"NDCG@{k} on the held-out test split, overall and for sparse users (the third "
            "of users with the shortest real training histories); mean ± std over seeds, "
            "change vs baseline in brackets. Kept rows on validation items: the share of an "
            "arm's kept synthetic rows that are one of their user's validation items (never "
            "test items), beside what random unseen items would reach.\n" + LEGEND,
            [headline_table(results)],
            [f"changes-{b}" for b in backends],
        )
    )
    if len(results.arms) > 1:
        out.append(("Arms", "", [arms_table(results)], []))
    for backend in backends:
        out.append(
            (
                f"Metrics: {backend}",
                "Mean ± std over seeds, with the change vs baseline (hover for its interval "
                "and p-value in report.html).",
                [metric_table(results, backend)],
                [f"bars-{backend}"],
            )
        )
        out.append(
            (
                f"User groups: {backend}",
                "Users in thirds by the length of their real training history (see the "
                "header for each group's lengths and size).",
                [group_table(results, backend)],
                [f"groups-{backend}"],
            )
        )
    out.append(
        (
            f"Tests behind the verdict (NDCG@{k})",
            f"{TEST_NAME}: per-user differences between arm and baseline on the same split "
            "and training seed, with a variance that counts users and seeds; p-values "
            "adjusted together with every other test of this report (Holm). See "
            "docs/metrics.md.",
            [tests_table(results)],
            [],
        )
    )
    out.append(
        (
            "Synthetic data: fidelity and privacy",
            "Kept synthetic rows vs the real training rows, mean over seeds. Popularity JS: "
            "0 means the same item popularity. Length KS: history lengths of new synthetic "
            "users vs real users (– for arms that add rows to real users). Exact-copy rate: "
            "share of new users, or of real users' added rows, whose item set equals a real "
            "user's. DCR: distance (1 - Jaccard) to the closest real user. Curves: the first "
            "seed.",
            [fidelity_table(results)],
            ["long-tail", "history-lengths"],
        )
    )
    out.append(("Rows generated, kept and rejected (all seeds)", "", [rows_table(results)], []))
    out.append(("Time per stage (all seeds)", "", [timing_table(results)], []))
    return out


def _header_facts(results: ExperimentResults) -> list[str]:
    exp, data = results.experiment, results.data
    facts = []
    if results.partial:
        facts.append(
            f"**Partial results** ({results.progress}): the experiment is still running, or "
            "was stopped; running the same command again finishes it."
        )
    backends = ", ".join(
        b.label if b.label == b.name else f"{b.label} ({b.name})" for b in exp.backends
    )
    facts += [
        f"Experiment file: `{exp.file}`" + (f" — {exp.description}" if exp.description else ""),
        f"Data: `{data.get('ref')}` "
        f"({data.get('cleaning', {}).get('rows_out', '?')} interactions after cleaning)",
        f"Split: {split_text(results)}; seeds {', '.join(map(str, exp.seeds))}; "
        f"backends: {backends}",
    ]
    groups = groups_text(results)
    if groups:
        facts.append(groups)
    facts.append(time_text(results))
    return facts


def split_text(results: ExperimentResults) -> str:
    spec = results.experiment.split
    if spec.protocol in RATIO_PROTOCOLS:
        return f"{spec.protocol} {':'.join(f'{r:g}' for r in spec.ratios)} (train:valid:test)"
    if spec.protocol == "given":
        return f"given, from `{spec.file}`" if spec.file else f"given, column `{spec.column}`"
    return spec.protocol


def groups_text(results: ExperimentResults) -> str:
    """Each user group's history lengths and size, from the baseline's first evaluation."""
    runs = [r for r in results.runs if r.arm == BASELINE]
    if not runs or not runs[0].metrics.groups:
        return ""
    groups = runs[0].metrics.groups
    parts = []
    for name in GROUPS:
        g = groups.get(name)
        if g is None:
            continue
        if g.min_length is None or g.max_length is None:
            parts.append(f"{name}: {g.users:g} test users")
            continue
        lengths = (
            f"{g.min_length:g}" if g.min_length == g.max_length else
            f"{g.min_length:g}–{g.max_length:g}"
        )  # fmt: skip
        parts.append(f"{name} {lengths} interactions ({g.train_users:g} users, {g.users:g} tested)")
    return (
        "User groups (thirds of the training users by real history length; users of equal "
        "length split by a hash of their id): " + "; ".join(parts)
    )


def time_text(results: ExperimentResults) -> str:
    total = results.timings.get("total_s", 0.0)
    runs = results.invocations
    covers = f"over {runs} runs of `recaug run` on this folder" if runs > 1 else "one `recaug run`"
    return (
        f"Total time: {duration(total)} ({covers}: loading, splitting, augmenting, training "
        "and evaluating; work reused from the folder's cache is not counted again)"
    )


def _markdown(
    results: ExperimentResults, the_verdict: str, sections: list[Section], pictures: set[str]
) -> str:
    lines = ["# recaug experiment report", "", f"> **Verdict.** {the_verdict}", ""]
    lines += [f"- {fact}" for fact in _header_facts(results)] + [""]
    if not pictures:
        lines += ["(No figures: install matplotlib, `pip install recaug[report]`.)", ""]
    for title, text, tables, names in sections:
        lines += [f"## {title}", ""]
        if text:
            lines += (
                [*text.split("\n"), ""]
                if title == "Failed arms"
                else [" ".join(text.split("\n")), ""]
            )
        for headers, rows in tables:
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
        lines += [f"![{name}]({FIGURES}/{name}.png)" for name in names if name in pictures]
        lines.append("")
    return "\n".join(lines)


def _md_cell(value: Value) -> str:
    text = value.markdown() if isinstance(value, Cell) else value
    return text.replace("|", "\\|").replace("\n", " ")


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`(.+?)`")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:0.8em 0;font-size:0.8em}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}"
    "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
    "td small{color:#777}.gain{color:#17803d;font-weight:600}"
    ".loss{color:#c0262d;font-weight:600}.same{color:#777}"
    ".verdict{border:2px solid #446;background:#f4f6fb;padding:0.7em 1em;border-radius:6px;"
    "font-size:1.05em}.partial{background:#fff4d6;padding:0.4em 0.8em}"
    ".legend{color:#555;font-size:0.9em}img{max-width:100%}.failed{color:#b00}"
)


def _inline(text: str) -> str:
    escaped = html.escape(text)
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<b>\1</b>", escaped))


def _html(
    results: ExperimentResults,
    the_verdict: str,
    sections: list[Section],
    pictures: dict[str, bytes],
) -> str:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>recaug experiment report</title>",
        f"<style>{_STYLE}</style></head><body><h1>recaug experiment report</h1>",
        f"<div class='verdict'><b>Verdict.</b> {_inline(the_verdict)}</div><ul>",
    ]
    for fact in _header_facts(results):
        klass = " class='partial'" if fact.startswith("**Partial") else ""
        parts.append(f"<li{klass}>{_inline(fact)}</li>")
    parts.append("</ul>")
    for title, text, tables, names in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        for line in filter(None, text.split("\n")):
            klass = (
                " class='failed'"
                if title == "Failed arms"
                else " class='legend'"
                if line == LEGEND
                else ""
            )
            parts.append(f"<p{klass}>{_inline(line.removeprefix('- '))}</p>")
        for headers, rows in tables:
            parts.append(_html_table(headers, rows))
        for name in names:
            if name in pictures:
                data = base64.b64encode(pictures[name]).decode("ascii")
                parts.append(
                    f"<p><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'></p>"
                )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Value]]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"]
    for row in rows:
        klass = " class='failed'" if len(row) > 1 and row[1] == "failed" else ""
        cells = "".join(f"<td>{c.html() if isinstance(c, Cell) else _inline(c)}</td>" for c in row)
        out.append(f"<tr{klass}>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)
