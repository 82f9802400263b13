"""How fast `lora-gen` trains and samples, and what the catalog constraint costs.

For each dataset: fit with default options (tiny base pretrained, then LoRA fine-tuning),
generate for the default target (sparse users), then sample the same prompts again with and
without the constraint at the same batch size. Prints training tokens/s per phase, generation
tokens/s and items/s, the constraint's overhead on the same sampling job, and peak RSS.
Run on demand (``-o KEY=VALUE`` passes strategy options):

    python benchmarks/lora_gen.py demo /work/data/ml-100k

``--gemma`` measures Gemma 3 270M instead (prepared with `recaug models prepare gemma-3-270m`):
loading the prepared folder, LoRA fine-tuning tokens/s with the catalog-restricted and the full
output layer on the same ``max_examples`` examples, and constrained sampling items/s with
frontier-only and full logits on the same users (with a count of items outside the catalog):

    python benchmarks/lora_gen.py --gemma /work/data/ml-100k -o max_examples=64

``--heldout RUN`` instead reads a finished `recaug augment` folder and prints how often the
generated (user, item) pairs are among the user's held-out (validation or test) items, next to
sampling the same number of items per user by training popularity.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from recaug_core import Context, GenerationRequest, create, split_dataset, target_users
from recaug_core.loading import load_data
from recaug_modelkit.threads import cpu_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="*", default=["demo"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3, help="timings of each sampling mode")
    parser.add_argument("-o", "--option", action="append", default=[], help="KEY=VALUE")
    parser.add_argument("--heldout", metavar="RUN", help="score a run folder's rows instead")
    parser.add_argument("--gemma", action="store_true", help="measure Gemma 3 270M instead")
    parser.add_argument("--users", type=int, default=64, help="--gemma: users to sample for")
    args = parser.parse_args()
    if args.gemma:
        options = dict(pair.split("=", 1) for pair in args.option)
        for ref in args.data:
            print(json.dumps({"data": ref, **measure_gemma(ref, options, args.users)}, indent=1))
        return
    if args.heldout:
        print(json.dumps(heldout_hits(Path(args.heldout)), indent=1))
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    options = dict(pair.split("=", 1) for pair in args.option)
    for ref in args.data:
        print(json.dumps({"data": ref, **measure(ref, options, args.repeats)}, indent=1))


def measure(ref: str, options: dict[str, str], repeats: int) -> dict[str, Any]:
    start_load = os.getloadavg()[0]
    data = load_data(ref).dataset
    split = split_dataset(data, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(seed=0, work_dir=Path(tmp), show_progress=False)
        strategy = create("strategies", "lora-gen", options)
        started = time.perf_counter()
        strategy.fit(split.train, ctx)
        fit_s = time.perf_counter() - started
        phases = {}
        for phase in ("pretrain", "finetune"):
            summary = Path(tmp) / "checkpoints" / "lora-gen" / phase / "trained.json"
            if summary.exists():
                facts = json.loads(summary.read_text())
                phases[f"{phase}_tokens_per_s"] = round(facts["tokens"] / facts["seconds"])
                phases[f"{phase}_s"] = facts["seconds"]
        started = time.perf_counter()
        rows = strategy.generate(split.train, GenerationRequest(), ctx).num_rows
        generate_s = time.perf_counter() - started
        fitted = strategy.fitted_
        stats = fitted.stats
        with cpu_threads(strategy.threads_):  # the threads generate() itself uses
            sampling = compare_constraint(fitted, split.train, ctx, repeats)
    return {
        "interactions": len(data),
        "users": data.n_users,
        "items": data.n_items,
        "fit_s": round(fit_s, 2),
        **phases,
        "generated_rows": rows,
        "generate_s": round(generate_s, 2),
        "generation_tokens_per_s": round(stats.new_tokens / stats.seconds),
        "generation_items_per_s": round(stats.items / stats.seconds, 1),
        **sampling,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average": [round(start_load, 2), round(os.getloadavg()[0], 2)],
    }


def compare_constraint(fitted: Any, train: Any, ctx: Context, repeats: int) -> dict[str, Any]:
    """Wall time of the same sampling job (same prompts, batch size, items asked for and
    token limit) with and without the constraint; best of ``repeats``. Unconstrained rows
    may stop early at EOS, which only favours the unconstrained side."""
    from recaug_lora_gen.generation import GenerationStats

    users = target_users(train, "all")  # every user: a job long enough to time reliably
    histories = [fitted.history(u) for u in users]
    seconds: dict[bool, list[float]] = {True: [], False: []}
    tokens: dict[bool, int] = {}
    for _ in range(repeats):
        for constrained in (False, True):
            stats = GenerationStats()
            fitted.stats = stats
            fitted.sample(
                histories, histories, fitted.options.per_user, ctx, "bench",
                constrained=constrained,
            )  # fmt: skip
            seconds[constrained].append(stats.seconds)
            tokens[constrained] = stats.new_tokens
    best = {mode: min(values) for mode, values in seconds.items()}
    return {
        "sampling_prompts": len(histories),
        "sampling_batch_size": fitted.options.batch_size,
        "unconstrained_s": round(best[False], 3),
        "unconstrained_tokens": tokens[False],
        "constrained_s": round(best[True], 3),
        "constrained_tokens": tokens[True],
        "constraint_overhead": f"{100 * (best[True] / best[False] - 1):.1f}%",
    }


def load() -> float:
    return round(os.getloadavg()[0], 2)


def measure_gemma(ref: str, options: dict[str, str], n_users: int) -> dict[str, Any]:
    """Gemma 3 270M: load, fine-tune with each output layer, sample with each."""
    import numpy as np

    from recaug_lora_gen import models
    from recaug_modelkit import pretrained

    folder = pretrained.resolve(pretrained.GEMMA)
    started, before = time.perf_counter(), load()
    models.load_base(str(folder), trust_remote_code=False)
    figures: dict[str, Any] = {"load_s": round(time.perf_counter() - started, 1)}
    figures["load_load_average"] = [before, load()]
    split = split_dataset(load_data(ref).dataset, seed=0)
    base = {"base_model": pretrained.GEMMA, "epochs": "1", "checkpoint_every": "0", **options}
    for layer in ("catalog", "full"):
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Context(seed=0, work_dir=Path(tmp), show_progress=False)
            strategy = create("strategies", "lora-gen", {**base, "output_layer": layer})
            before = load()
            strategy.fit(split.train, ctx)
            summary = Path(tmp) / "checkpoints" / "lora-gen" / "finetune" / "trained.json"
            facts = json.loads(summary.read_text())
            figures[f"finetune_{layer}"] = {
                "tokens": facts["tokens"],
                "seconds": round(facts["seconds"], 1),
                "tokens_per_s": round(facts["tokens"] / facts["seconds"], 1),
                "load_average": [before, load()],
            }
            if layer != "catalog":
                continue
            fitted = strategy.fitted_
            users = target_users(split.train, "sparse")[:n_users]
            histories = [fitted.history(u) for u in users]
            vocabulary = fitted.vocabulary
            with cpu_threads(strategy.threads_):
                for logits, restricted in (("frontier", vocabulary), ("full", None)):
                    fitted.vocabulary, fitted.stats = restricted, type(fitted.stats)()
                    before = load()
                    found = fitted.sample(histories, histories, fitted.options.per_user, ctx, "b")
                    items = np.asarray([i for row in found for i, _ in row], dtype=np.int64)
                    outside = int(((items < 0) | (items >= split.train.n_items)).sum())
                    owned = sum(len(set(r) & {i for i, _ in f}) for r, f in zip(histories, found))
                    figures[f"sample_{logits}_logits"] = {
                        "users": len(users),
                        "items": len(items),
                        "seconds": round(fitted.stats.seconds, 1),
                        "items_per_s": round(len(items) / fitted.stats.seconds, 1),
                        "outside_catalog": outside,
                        "already_owned": owned,
                        "load_average": [before, load()],
                    }
                fitted.vocabulary = vocabulary
            figures["sample_titles"] = [
                [fitted.catalog.names[i] for i, _ in row] for row in found[:3]
            ]
    return figures


def heldout_hits(run: Path) -> dict[str, Any]:
    """Share of generated pairs that are held-out pairs, vs popularity sampling (seed 0)."""
    import numpy as np
    import pyarrow.parquet as pq

    split = pq.read_table(run / "split.parquet").to_pandas()
    synthetic = pq.read_table(run / "synthetic.parquet").to_pandas()
    train = split[split["split"] == "train"]
    held_rows = split[split["split"] != "train"]
    held = set(zip(held_rows["user_id"], held_rows["item_id"]))
    generated = np.mean([pair in held for pair in zip(synthetic["user_id"], synthetic["item_id"])])
    popularity = train["item_id"].value_counts()
    items, weights = popularity.index.to_numpy(), popularity.to_numpy() / popularity.sum()
    owned = train.groupby("user_id")["item_id"].apply(set)
    rng = np.random.default_rng(0)
    hits = []
    for user, count in synthetic.groupby("user_id").size().items():
        picks: list[str] = []
        while len(picks) < count:
            item = rng.choice(items, p=weights)
            if item not in owned.get(user, set()) and item not in picks:
                picks.append(item)
        hits += [(user, item) in held for item in picks]
    return {
        "rows": len(synthetic),
        "generated_heldout_share": round(float(generated), 4),
        "popularity_sampling_heldout_share": round(float(np.mean(hits)), 4),
    }


if __name__ == "__main__":
    main()
