"""The experiment report: ``report.md`` and a self-contained ``report.html`` from results.json.

The verdict comes first: which arms helped, which hurt, which made no measurable difference
(``stats.verdict``, backed by the paired test). Cells are means over seeds ± their spread with
the change vs baseline; a change is marked (▲ green, ▼ red) only where the test finds it
significant after Holm's correction (the statistics are ``recaug_app.stats``; the figures
``plots``).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from recaug_app.report_tables import (
    Cell,
    Table,
    Value,
    arms_table,
    duration,
    fidelity_table,
    group_table,
    headline_table,
    metric_table,
    rows_table,
    selection_table,
    tests_table,
    timing_table,
    verdict_of,
)
from recaug_app.results import BASELINE, ExperimentResults
from recaug_app.stats import (
    ALPHA,
    TEST_NAME,
)
from recaug_core.files import confined, write_bytes, write_text
from recaug_core.targets import GROUPS

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES = "figures"
RATIO_PROTOCOLS = ("random-by-user", "temporal-by-user", "global-temporal")
LEGEND = (
    f"▲ green: better than the baseline, ▼ red: worse, each significant at {ALPHA:.0%} after "
    f"correction ({TEST_NAME}); a change without a mark is not significant after correction: "
    "no measurable difference. "
    "Coverage and tail share describe all lists together and are not tested."
)


# -- rendering --------------------------------------------------------------------------------


def render(run_dir: Path, results: ExperimentResults) -> list[Path]:
    """Write report.md, report.html and figures/*.png into ``run_dir``; returns the paths."""
    try:
        from recaug_app.plots import figures

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
    selected = selection_table(results)
    if selected is not None:
        out.append(
            (
                "Validation-selected arms",
                "Each of these arms tried every candidate below and no augmentation at all, on "
                "every seed and backend, and kept the one whose model ranked the validation "
                "split best (NDCG@10). Test rows played no part in the choice: only the chosen "
                "model was scored on the test split, and the tables above show its figures. "
                "Search cost: augmenting and fitting every candidate, all seeds.",
                [selected],
                [],
            )
        )
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
