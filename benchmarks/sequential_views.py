"""SASRec with contrastive views (CL4SRec, DuoRec) and with ASReP pseudo-prior items, against
plain SASRec, on a leave-one-out split with full ranking. Run on demand, never in CI.

Each run is one ``NAME=SPEC`` configuration on one seed: ``SPEC`` is sasrec options
``key:value;key:value`` and optionally ``|key:value;...`` for a `seq` augmentation of the
training split (dedupe filter), whose ``merge`` key is the merge policy (default ``concat``:
plain extra rows; ``pretrain`` trains on real and synthetic rows, then on the real ones, as
ASReP does). One JSON line per run goes to
``--out`` (appended, so an interrupted benchmark keeps what it finished); ``--summary`` prints
the Markdown table (mean over seeds, spread = max - min) of such a file:

    python benchmarks/sequential_views.py DATA --seeds 0,1,2 --out views.jsonl \\
        --run plain= --run cl4srec="views:cl4srec" --run duorec="views:duorec"
    python benchmarks/sequential_views.py --summary views.jsonl

Figures per run: test NDCG@10 / HR@10 over every test user and over the users with at most
``--short`` real training items, the best validation NDCG@10 (what early stopping and the
choice of options may look at), fit seconds and epochs.
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

import numpy as np
import pyarrow.compute as pc

from recaug_core import Context, GenerationRequest, MergePolicy, SplitSpec, split_dataset
from recaug_core.loading import load_data
from recaug_core.merge import merged_training_set
from recaug_core.metrics import hit_matrix, ranking_metrics
from recaug_core.pipeline import apply_filters, generate_synthetic
from recaug_core.ranking import rank
from recaug_core.registry import create, get_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--run", action="append", default=[], help="NAME=SPEC (see above)")
    parser.add_argument("-o", "--option", action="append", default=[], help="sasrec KEY=VALUE")
    parser.add_argument("--short", type=int, default=5, help="short users: <= this many items")
    parser.add_argument("--out", type=Path, help="JSON lines file to append runs to")
    parser.add_argument("--summary", type=Path, help="print the table of a JSON lines file")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--shift-times",
        type=int,
        default=0,
        help="add this to every timestamp (order unchanged): room for pseudo-prior items "
        "before histories whose timestamps are positions starting at 0",
    )
    args = parser.parse_args()
    if args.summary:
        print(summary(args.summary))
        return
    import torch

    torch.set_num_threads(args.threads)
    loaded = load_data(args.data)
    data = loaded.dataset
    if args.shift_times:
        table = data.interactions
        shifted = pc.add(table.column("timestamp"), args.shift_times)
        column = table.schema.get_field_index("timestamp")
        data = data.with_interactions(table.set_column(column, "timestamp", shifted))
    print(f"data: {len(data)} interactions, {data.n_users} users, {data.n_items} items")
    common = dict(pair.split("=", 1) for pair in args.option)
    for seed in [int(s) for s in args.seeds.split(",")]:
        split = split_dataset(data, SplitSpec(protocol="leave-one-out"), seed=seed)
        for run in args.run:
            name, spec = run.split("=", 1)
            row = measure(name, spec, split, common, seed, args.short)
            row |= {"data": str(args.data), "threads": args.threads, "load": _load()}
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")


def _pairs(text: str) -> dict[str, str]:
    return dict(p.split(":", 1) for p in text.split(";") if p)


def measure(
    name: str, spec: str, split: Any, common: dict[str, str], seed: int, short: int
) -> dict[str, Any]:
    sasrec_spec, _, strategy_spec = spec.partition("|")
    options = {**common, **_pairs(sasrec_spec)}
    train, synthetic, augment_s, merge = split.train, 0, 0.0, None
    if strategy_spec:
        strategy_options = _pairs(strategy_spec)
        merge = MergePolicy.parse(strategy_options.pop("merge", "concat"))
        started = time.perf_counter()
        strategy = create("strategies", "seq", strategy_options)
        ctx = Context(seed=seed, show_progress=False)
        request = GenerationRequest(target=strategy_options.pop("target", "sparse"))
        generated = generate_synthetic(strategy, split.train, request, ctx)
        result = apply_filters([create("filters", "dedupe", {})], split.train, generated, ctx)
        train = merged_training_set(split.train, result.augmented, merge)
        synthetic = result.kept.num_rows
        augment_s = time.perf_counter() - started
    backend = get_registry().get("backends", "sasrec")
    model = backend(options)
    ctx = Context(seed=seed, show_progress=False)
    ctx.merge = merge
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(train, ctx, valid=split.valid)
    fit_s = time.perf_counter() - started
    fit_cpu_s = time.process_time() - cpu_started  # what a busy shared machine distorts least
    ranking = rank(model, train, split.test, [split.train, split.valid], 10)
    hits = hit_matrix(
        ranking.top, np.arange(len(ranking.users)), ranking.relevant_keys, train.n_items
    )
    per_user = ranking_metrics(hits, ranking.n_relevant, [10])
    lengths = split.train.real().user_lengths()[ranking.users]
    is_short = lengths <= short
    config = json.loads((model.checkpoint / "config.json").read_text())  # the last phase's
    return {
        "name": name,
        "spec": spec,
        "seed": seed,
        "ndcg@10": float(per_user["ndcg@10"].mean()),
        "hit@10": float(per_user["hit@10"].mean()),
        "short_ndcg@10": float(per_user["ndcg@10"][is_short].mean()),
        "short_users": int(is_short.sum()),
        "users": len(ranking.users),
        "valid_ndcg@10": config["valid_ndcg@10"],
        "epochs": config["epochs_run"],
        "best_epoch": config["best_epoch"],
        "fit_s": round(fit_s, 1),
        "fit_cpu_s": round(fit_cpu_s, 1),
        "augment_s": round(augment_s, 1),
        "synthetic": synthetic,
        "omp": os.environ.get("OMP_NUM_THREADS"),
    }


def summary(path: Path) -> str:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        runs[(Path(row["data"]).parent.name, row["name"])].append(row)
    lines = [
        "| data | run | seeds | valid NDCG@10 | test NDCG@10 (spread) | HR@10 "
        "| NDCG@10, users <= 5 items (spread) | fit s | epochs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (data, name), rows in runs.items():

        def mean(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return statistics.mean(r[key] for r in rows)

        def spread(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return max(r[key] for r in rows) - min(r[key] for r in rows)

        lines.append(
            f"| {data} | {name} | {','.join(str(r['seed']) for r in rows)} "
            f"| {mean('valid_ndcg@10'):.4f} | {mean('ndcg@10'):.4f} ({spread('ndcg@10'):.4f}) "
            f"| {mean('hit@10'):.4f} | {mean('short_ndcg@10'):.4f} ({spread('short_ndcg@10'):.4f}) "
            f"| {mean('fit_s'):.0f} | {mean('epochs'):.0f} |"
        )
    return "\n".join(lines)


def _load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


if __name__ == "__main__":
    main()
