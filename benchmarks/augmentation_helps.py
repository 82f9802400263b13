"""Does augmentation help? Run an experiment file on several datasets and print one table.

    python benchmarks/augmentation_helps.py \\
        --dataset toys=/path/amazon-toys/interactions.csv.gz \\
        --dataset sports=/path/amazon-sports/interactions.csv.gz \\
        --out runs/helps [--experiment examples/experiments/amazon-sparse.toml] [--report-only]

Each dataset runs `recaug run EXPERIMENT --data PATH --out OUT/NAME` (cached: running again
continues), then the script prints, per dataset, backend and arm: test NDCG@10 overall and for
the sparse third of users (mean ± std over seeds, change vs baseline, the paired test's
Holm-adjusted p), what validation chose per seed, and the search's cost. The figures of
docs/benchmarks.md, "Does augmentation help?", come from this script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from recaug_app.results import ExperimentResults, Summary, load_results
from recaug_app.stats import ALL, cell

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument(
        "--experiment", type=Path, default=ROOT / "examples/experiments/amazon-sparse.toml"
    )
    parser.add_argument("--report-only", action="store_true", help="print, run nothing")
    args = parser.parse_args()
    for spec in args.dataset:
        name, _, path = spec.partition("=")
        out = args.out / name
        if not args.report_only:
            command = [sys.executable, "-m", "recaug_app", "run", str(args.experiment)]
            command += ["--data", path, "--out", str(out)]
            print("$", " ".join(command), file=sys.stderr, flush=True)
            subprocess.run(command, check=False, env={**os.environ, "RECAUG_PROGRESS": "0"})
        print(table(name, load_results(out)))


def table(name: str, results: ExperimentResults) -> str:
    k = results.experiment.ks[0]
    metric = f"ndcg@{k}"
    lines = [
        f"\n## {name}: {results.data.get('ref')}",
        f"| backend | arm | NDCG@{k} | change (Holm p) | NDCG@{k} sparse | change (Holm p) "
        "| chosen per seed | search |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend in results.backends():
        for arm in results.arm_names(ok_only=True):
            cells = [_shown(cell(results, backend, arm, metric, g)) for g in (ALL, "sparse")]
            runs = [r for r in results.runs if r.arm == arm and r.backend == backend]
            chosen = ", ".join(f"{r.seed}: {r.selection.chosen}" for r in runs if r.selection)
            search = sum(r.selection.search_s for r in runs if r.selection)
            lines.append(
                f"| {backend} | {arm} | {cells[0][0]} | {cells[0][1]} | {cells[1][0]} | "
                f"{cells[1][1]} | {chosen or '–'} | {f'{search / 60:.1f} min' if search else '–'} |"
            )
    total = results.timings.get("total_s", 0.0)
    lines.append(f"\ntotal time {total / 60:.1f} min over {results.invocations} invocation(s)")
    if results.partial:
        lines.append(f"PARTIAL: {results.progress}")
    return "\n".join(lines)


def _shown(summary: Summary | None) -> tuple[str, str]:
    """(mean ± std, change with its Holm-adjusted p); the baseline has no change."""
    if summary is None:
        return "–", "–"
    value = f"{summary.mean:.4f} ± {summary.std:.4f}"
    if summary.change is None:
        return value, "–"
    test = summary.significance
    p = "" if test is None else f" (p {test.p_adjusted:.2g})"
    return value, f"{summary.change:+.1%}{p}"


if __name__ == "__main__":
    main()
