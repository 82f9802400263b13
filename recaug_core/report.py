"""The experiment report: ``report.md`` and a self-contained ``report.html`` from results.json.

Cells are means over seeds ± their spread with the change vs baseline, in bold where it
exceeds the seed spread (the statistics are ``recaug_core.stats``; the figures ``plots``).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np

from recaug_core.files import write_bytes, write_text
from recaug_core.results import BASELINE, ExperimentResults, Summary
from recaug_core.stats import TABLE_METRICS, summary
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
Table = tuple[list[str], list[list[str]]]


def _cell(s: Summary | None) -> str:
    if s is None:
        return "–"
    text = f"{s.mean:.4f} ± {s.std:.4f}"
    if s.change is not None:
        shown = f"{s.change:+.1%}"
        text += f" ({'**' + shown + '**' if s.exceeds_spread else shown})"
    return text


# -- tables -----------------------------------------------------------------------------------


def metric_table(results: ExperimentResults, backend: str) -> Table:
    ks = results.experiment.ks
    names = [f"{m}@{ks[0]}" for m in TABLE_METRICS] + [
        f"{m}@{k}" for k in ks[1:] for m in ("ndcg", "recall")
    ]
    rows = []
    for arm in results.arm_names():
        if results.arms[arm].status != "ok":
            rows.append([arm, "failed"] + [""] * (len(names) - 1))
            continue
        rows.append([arm] + [_cell(summary(results, arm, backend, n)) for n in names])
    return ["arm", *names], rows


def headline_table(results: ExperimentResults) -> Table:
    """NDCG@K per arm and backend, overall and for sparse users: the question in one table."""
    k = results.experiment.ks[0]
    backends = results.backends()
    headers = ["arm"]
    for backend in backends:
        headers += [f"{backend} ndcg@{k}", f"{backend} ndcg@{k} sparse users"]
    rows = []
    for arm in results.arm_names():
        if results.arms[arm].status != "ok":
            rows.append([arm, "failed"] + [""] * (len(headers) - 2))
            continue
        row = [arm]
        for backend in backends:
            row.append(_cell(summary(results, arm, backend, f"ndcg@{k}")))
            row.append(_cell(summary(results, arm, backend, f"ndcg@{k}", "sparse")))
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


def group_table(results: ExperimentResults, backend: str) -> Table:
    k = results.experiment.ks[0]
    names = [f"ndcg@{k}", f"recall@{k}"]
    headers = ["arm"] + [f"{n} {g}" for g in GROUPS for n in names]
    rows = []
    for arm in results.arm_names(ok_only=True):
        rows.append(
            [arm] + [_cell(summary(results, arm, backend, n, g)) for g in GROUPS for n in names]
        )
    return headers, rows


def fidelity_table(results: ExperimentResults) -> Table:
    rows = []
    for arm in results.arm_names(ok_only=True):
        if arm == BASELINE:
            continue
        facts = [f.fidelity or {} for f in results.arms[arm].augmentation.values()]
        row = [arm]
        for key, _ in FIDELITY:
            values = [f[key] for f in facts if f.get(key) is not None]
            row.append(f"{np.mean(values):.4f}" if values else "–")
        rows.append(row)
    return ["arm", *(label for _, label in FIDELITY)], rows


def rows_table(results: ExperimentResults) -> Table:
    rows = []
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
            [arm, str(len(results.arms[arm].augmentation)), str(generated), str(kept),
             str(rejected), by_reason if ok else f"{by_reason} (failed)"]
        )  # fmt: skip
    return ["arm", "seeds", "generated", "kept", "rejected", "rejected by reason"], rows


def timing_table(results: ExperimentResults) -> Table:
    stages = ("fit_s", "generate_s", "filter_s", "write_s")
    backends = results.backends()
    headers = ["arm", *(s.removesuffix("_s") for s in stages)]
    headers += [f"{b} {t}" for b in backends for t in ("fit", "evaluate")]
    rows = []
    for arm in results.arm_names():
        timings = [f.timings or {} for f in results.arms[arm].augmentation.values()]
        row = [arm] + [
            _seconds(sum(t.get(s, 0.0) for t in timings)) if timings else "–" for s in stages
        ]
        for backend in backends:
            runs = [r for r in results.runs if r.arm == arm and r.backend == backend]
            for key in ("fit_s", "evaluate_s"):
                row.append(_seconds(sum(r.timings.get(key, 0.0) for r in runs)) if runs else "–")
        rows.append(row)
    return headers, rows


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


# -- rendering --------------------------------------------------------------------------------


def render(run_dir: Path, results: ExperimentResults) -> list[Path]:
    """Write report.md, report.html and figures/*.png into ``run_dir``; returns the paths."""
    try:
        from recaug_core.plots import figures

        pictures = figures(results)
    except ImportError:  # matplotlib is an extra (recaug[report]): tables only without it
        pictures = {}
    figure_dir = run_dir / FIGURES
    for name, png in pictures.items():
        write_bytes(figure_dir / f"{name}.png", png)
    sections = _sections(results)
    write_text(run_dir / REPORT_MD, _markdown(results, sections, set(pictures)))
    write_text(run_dir / REPORT_HTML, _html(results, sections, pictures))
    return [
        run_dir / REPORT_MD,
        run_dir / REPORT_HTML,
        *(figure_dir / f"{n}.png" for n in pictures),
    ]


Section = tuple[str, str, list[Table], list[str]]  # title, text, tables, figure names


def _sections(results: ExperimentResults) -> list[Section]:
    backends = results.backends()
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
            "NDCG on the held-out test split, overall and for sparse users (the shortest third "
            "of real training histories); mean ± std over seeds, change vs baseline in brackets.",
            [headline_table(results)],
            [],
        )
    )
    if len(results.arms) > 1:
        out.append(("Arms", "", [arms_table(results)], []))
    for backend in backends:
        out.append(
            (
                f"Metrics: {backend}",
                "Mean ± std over seeds; in brackets the change vs baseline, **bold** where it "
                "exceeds the spread of the per-seed changes.",
                [metric_table(results, backend)],
                [f"bars-{backend}"],
            )
        )
        out.append(
            (
                f"User groups: {backend}",
                "Users grouped by the length of their real training history (terciles).",
                [group_table(results, backend)],
                [f"groups-{backend}"],
            )
        )
    out.append(
        (
            "Synthetic data: fidelity and privacy",
            "Kept synthetic rows vs the real training rows, mean over seeds. Popularity JS and "
            "length KS: 0 means the same distribution. Exact-copy rate: share of synthetic users "
            "whose item set equals a real user's. DCR: distance (1 - Jaccard) to the closest "
            "real user. Curves: the first seed.",
            [fidelity_table(results)],
            ["long-tail", "history-lengths"],
        )
    )
    out.append(("Rows generated, kept and rejected (all seeds)", "", [rows_table(results)], []))
    out.append(("Time per stage (all seeds)", "", [timing_table(results)], []))
    return out


def _header_facts(results: ExperimentResults) -> list[str]:
    exp, data = results.experiment, results.data
    backends = ", ".join(f"{b.label} ({b.name})" for b in exp.backends)
    split = f"{exp.split.protocol} {list(exp.split.ratios)}"
    return [
        f"Experiment file: `{exp.file}`" + (f" — {exp.description}" if exp.description else ""),
        f"Data: `{data.get('ref')}` "
        f"({data.get('cleaning', {}).get('rows_out', '?')} interactions after cleaning)",
        f"Split: {split}; seeds {exp.seeds}; backends: {backends}",
        f"Total time: {results.timings.get('total_s', 0):.1f} s",
    ]


def _markdown(results: ExperimentResults, sections: list[Section], pictures: set[str]) -> str:
    lines = ["# recaug experiment report", ""]
    lines += [f"- {fact}" for fact in _header_facts(results)] + [""]
    if not pictures:
        lines += ["(No figures: install matplotlib, `pip install recaug[report]`.)", ""]
    for title, text, tables, names in sections:
        lines += [f"## {title}", ""]
        if text:
            lines += [text, ""]
        for headers, rows in tables:
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
            lines.append("")
        lines += [f"![{name}]({FIGURES}/{name}.png)" for name in names if name in pictures]
        lines.append("")
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`(.+?)`")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%}.failed{color:#b00}"
)


def _inline(text: str) -> str:
    escaped = html.escape(text)
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<b>\1</b>", escaped))


def _html(results: ExperimentResults, sections: list[Section], pictures: dict[str, bytes]) -> str:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>recaug experiment report</title>",
        f"<style>{_STYLE}</style></head><body><h1>recaug experiment report</h1><ul>",
    ]
    parts += [f"<li>{_inline(fact)}</li>" for fact in _header_facts(results)] + ["</ul>"]
    for title, text, tables, names in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        for line in filter(None, text.split("\n")):
            klass = " class='failed'" if title == "Failed arms" else ""
            parts.append(f"<p{klass}>{_inline(line.removeprefix('- '))}</p>")
        for headers, rows in tables:
            parts.append(
                "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"
            )
            for row in rows:
                klass = " class='failed'" if len(row) > 1 and row[1] == "failed" else ""
                cells = "".join(f"<td>{_inline(c)}</td>" for c in row)
                parts.append(f"<tr{klass}>{cells}</tr>")
            parts.append("</table>")
        for name in names:
            if name in pictures:
                data = base64.b64encode(pictures[name]).decode("ascii")
                parts.append(
                    f"<p><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'></p>"
                )
    parts.append("</body></html>\n")
    return "\n".join(parts)
