"""SASRec alone vs SASRec on data augmented by each `seq` operator (MovieLens-100K).

Leave-one-out split, full ranking over all items with known items masked (the core protocol).
Prints a Markdown table of medians over ``--repeats`` seeds, plus how fast `seq` augments
100,000 interactions. Run on demand, never in CI:

    python benchmarks/sequential.py /path/to/ml-100k.inter --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from recaug_app.evaluate import evaluate_model
from recaug_core import Context, GenerationRequest, SplitSpec, split_dataset
from recaug_core.loading import load_data
from recaug_core.pipeline import apply_filters, generate_synthetic
from recaug_core.registry import create, get_registry

OPERATORS = ("crop", "mask", "reorder", "substitute", "insert")
METRICS = ("hit@10", "ndcg@10", "hit@20", "ndcg@20")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/data/ml-100k/ml-100k.inter")
    parser.add_argument("--source", default=None, help="data source (default: detect)")
    parser.add_argument("--source-option", action="append", default=[], help="KEY=VALUE")
    parser.add_argument("--repeats", type=int, default=3, help="seeds per configuration")
    parser.add_argument("--target", default="sparse", help="whom the operators augment")
    parser.add_argument(
        "--runs",
        default="none," + ",".join(OPERATORS) + ",all",
        help="comma-separated: none (SASRec alone), operator names, all (every operator)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("-o", "--option", action="append", default=[], help="sasrec KEY=VALUE")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    options = dict(pair.split("=", 1) for pair in args.source_option)
    loaded = load_data(args.data, source=args.source, source_options=options)
    data = loaded.dataset
    print(f"data: {len(data)} interactions, {data.n_users} users, {data.n_items} items")
    print(f"load average at start: {_load()}")
    speed = augment_speed(data, args.repeats)
    print(
        f"seq (all five operators, target all) on all {len(data)} interactions: "
        f"median {speed['seconds']:.2f} s for {speed['rows']} synthetic rows"
    )

    split = split_dataset(data, SplitSpec(protocol="leave-one-out"), seed=0)
    backend = get_registry().get("backends", "sasrec")
    sasrec_options = dict(pair.split("=", 1) for pair in args.option)
    rows = []
    for run in args.runs.split(","):
        rows.append(measure(run, split, backend, sasrec_options, args))
        print(_row(rows[-1]), flush=True)
    print()
    print(
        "| training data | synthetic rows | HR@10 | NDCG@10 | NDCG@10 spread | HR@20 | NDCG@20 "
        "| NDCG@10 sparse users | fit s | epochs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(_row(row))
    print(f"load average at end: {_load()}")


def augment_speed(data: Any, repeats: int) -> dict[str, float]:
    """Median seconds of `seq` fit + generate over every interaction of ``data``."""
    seconds, rows = [], 0
    for seed in range(max(repeats, 3)):
        strategy = create("strategies", "seq", {})
        ctx = Context(seed=seed, show_progress=False)
        started = time.perf_counter()
        strategy.fit(data, ctx)
        rows = strategy.generate(data, GenerationRequest(target="all"), ctx).num_rows
        seconds.append(time.perf_counter() - started)
    return {"seconds": statistics.median(seconds), "rows": rows}


def measure(
    run: str, split: Any, backend: Any, options: dict[str, str], args: Any
) -> dict[str, Any]:
    """Augment the training split with ``run`` (once, seed 0) and train SASRec ``repeats``
    times on it: medians of the metrics (overall and for the sparse user group), the NDCG@10
    spread (max - min over seeds) and the median fit time."""
    train, synthetic = split.train, 0
    if run != "none":
        ops = ",".join(OPERATORS) if run == "all" else run
        strategy = create("strategies", "seq", {"ops": ops})
        ctx = Context(seed=0, show_progress=False)
        request = GenerationRequest(target=args.target)
        generated = generate_synthetic(strategy, split.train, request, ctx)
        result = apply_filters([create("filters", "dedupe", {})], split.train, generated, ctx)
        train, synthetic = result.augmented, result.kept.num_rows
    results, fits, epochs = [], [], []
    for seed in range(args.repeats):
        ctx = Context(seed=seed, show_progress=False)
        metrics, timings = evaluate_model(backend, options, split, train, (10, 20), ctx)
        results.append(metrics)
        fits.append(timings["fit_s"])
        epochs.append(_epochs_run(ctx))
    ndcg = [r["ndcg@10"] for r in results]
    return {
        "run": "SASRec alone" if run == "none" else f"+ seq {run}",
        "synthetic": synthetic,
        **{m: statistics.median(r[m] for r in results) for m in METRICS},
        "spread": max(ndcg) - min(ndcg),
        "sparse": statistics.median(r["groups"]["sparse"]["ndcg@10"] for r in results),
        "fit_s": statistics.median(fits),
        "epochs": statistics.median(epochs),
    }


def _epochs_run(ctx: Context) -> int:
    import json

    config = json.loads((ctx.checkpoint_dir("sasrec") / "config.json").read_text())
    return int(config["epochs_run"])


def _row(row: dict[str, Any]) -> str:
    hr10, ndcg10, hr20, ndcg20 = (f"{row[m]:.4f}" for m in METRICS)
    return (
        f"| {row['run']} | {row['synthetic']} | {hr10} | {ndcg10} | {row['spread']:.4f} | "
        f"{hr20} | {ndcg20} | {row['sparse']:.4f} | {row['fit_s']:.1f} | {row['epochs']:g} |"
    )


def _load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


if __name__ == "__main__":
    main()
