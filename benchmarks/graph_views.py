"""LightGCN with contrastive views (SGL, SimGCL, XSimGCL) against plain LightGCN, on a
random-by-user 8:1:1 split with full ranking. Run on demand, never in CI.

Each run is one ``NAME=SPEC`` configuration on one seed: ``SPEC`` is `embedding` options
``key:value;key:value`` (empty: the defaults, plain LightGCN). One JSON line per run goes to
``--out`` (appended, so an interrupted benchmark keeps what it finished); ``--summary`` prints
the Markdown table (mean over seeds, spread = max - min) of such a file, and ``--baseline
NAME`` each run's change over run NAME on the same seeds:

    python benchmarks/graph_views.py DATA --seeds 0 --out views.jsonl \\
        --run plain= --run simgcl="views:simgcl" --run xsimgcl="views:xsimgcl;view_noise:0.1"
    python benchmarks/graph_views.py --summary views.jsonl --baseline plain

Figures per run: the best validation NDCG@10 (what early stopping and the choice of options
may look at), test NDCG@10 over every test user and over the sparse third of users (the
report's `sparse` group), fit seconds (wall and the process's CPU seconds, which a busy shared
machine distorts less), epochs run and the 1-minute load average after the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from recaug_app.evaluate import fit_model, score_on_test, users_to_rank
from recaug_core import Context, split_dataset
from recaug_core.loading import load_data
from recaug_core.registry import get_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--run", action="append", default=[], help="NAME=SPEC (see above)")
    parser.add_argument("--out", type=Path, help="JSON lines file to append runs to")
    parser.add_argument("--summary", type=Path, help="print the table of a JSON lines file")
    parser.add_argument(
        "--baseline", help="with --summary: also print each run's change over this run's means"
    )
    args = parser.parse_args()
    if args.summary:
        print(summary(args.summary, args.baseline))
        return
    data = load_data(args.data).dataset
    print(f"data: {len(data)} interactions, {data.n_users} users, {data.n_items} items")
    for seed in [int(s) for s in args.seeds.split(",")]:
        split = split_dataset(data, seed=seed)
        for run in args.run:
            name, spec = run.split("=", 1)
            row = measure(name, spec, split, seed)
            row |= {"data": str(args.data), "load": round(os.getloadavg()[0], 2)}
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")


def measure(name: str, spec: str, split: Any, seed: int) -> dict[str, Any]:
    options = dict(p.split(":", 1) for p in spec.split(";") if p)
    backend = get_registry().get("backends", "embedding")
    ctx = Context(seed=seed, show_progress=False)
    task = users_to_rank(split.train, split)
    cpu_started = time.process_time()
    fitted = fit_model(backend, options, split.train, split.valid, split.train, ctx)
    fit_cpu_s = time.process_time() - cpu_started
    metrics = score_on_test(fitted, split, [10], task).metrics
    training = fitted.model.training_  # type: ignore[attr-defined]
    return {
        "name": name,
        "spec": spec,
        "seed": seed,
        "valid_ndcg@10": training["best_valid_ndcg@10"],
        "ndcg@10": metrics.values["ndcg@10"],
        "sparse_ndcg@10": metrics.groups["sparse"].values["ndcg@10"],
        "recall@10": metrics.values["recall@10"],
        "epochs": training["epochs_run"],
        "best_epoch": training["best_epoch"],
        "fit_s": round(fitted.fit_s, 1),
        "fit_cpu_s": round(fit_cpu_s, 1),
        "omp": os.environ.get("OMP_NUM_THREADS"),
    }


def summary(path: Path, baseline: str | None = None) -> str:
    """The Markdown table of a JSON lines file: one row per (data, run), means over its seeds.

    With ``baseline``, each row also gives the relative change of its mean test NDCG@10 (and
    sparse third's) over the baseline run's mean on the same data and seeds, and its CPU
    seconds per epoch as a multiple of the baseline's."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        data = Path(row["data"])  # a data file's folder, or the data folder itself
        runs[(data.parent.name if data.suffix else data.name, row["name"])].append(row)
    header = (
        "| data | run | seeds | valid NDCG@10 | test NDCG@10 (spread) | NDCG@10 sparse third "
        "(spread) | fit s (CPU s) | epochs | CPU s / epoch | load |"
    )
    if baseline:
        header += f" vs {baseline}: test, sparse, CPU s / epoch |"
    lines = [header, "|---" * header.count(" | ") + "|---|"]
    for (data, name), rows in runs.items():
        figures = means(rows)
        line = (
            f"| {data} | {name} | {','.join(str(r['seed']) for r in rows)} "
            f"| {figures['valid_ndcg@10']:.4f} "
            f"| {figures['ndcg@10']:.4f} ({spread(rows, 'ndcg@10'):.4f}) "
            f"| {figures['sparse_ndcg@10']:.4f} ({spread(rows, 'sparse_ndcg@10'):.4f}) "
            f"| {figures['fit_s']:.0f} ({figures['fit_cpu_s']:.0f}) | {figures['epochs']:.0f} "
            f"| {figures['cpu_per_epoch']:.1f} | {min(r['load'] for r in rows):.1f}-"
            f"{max(r['load'] for r in rows):.1f} |"
        )
        if baseline:
            seeds = {r["seed"] for r in rows}
            base = [r for r in runs.get((data, baseline), []) if r["seed"] in seeds]
            if {r["seed"] for r in base} == seeds:
                reference = means(base)
                line += (
                    f" {change(figures, reference, 'ndcg@10')}, "
                    f"{change(figures, reference, 'sparse_ndcg@10')}, "
                    f"{figures['cpu_per_epoch'] / reference['cpu_per_epoch']:.2f}x |"
                )
            else:
                line += " (baseline lacks these seeds) |"
        lines.append(line)
    return "\n".join(lines)


def means(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("valid_ndcg@10", "ndcg@10", "sparse_ndcg@10", "fit_s", "fit_cpu_s", "epochs")
    figures = {key: statistics.mean(r[key] for r in rows) for key in keys}
    figures["cpu_per_epoch"] = statistics.mean(r["fit_cpu_s"] / r["epochs"] for r in rows)
    return figures


def spread(rows: list[dict[str, Any]], key: str) -> float:
    return max(r[key] for r in rows) - min(r[key] for r in rows)


def change(figures: dict[str, float], reference: dict[str, float], key: str) -> str:
    return f"{(figures[key] / reference[key] - 1) * 100:+.1f} %"


if __name__ == "__main__":
    main()
