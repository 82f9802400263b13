"""GAN and VAE generators on MovieLens-100K: speed, fidelity, and whether their rows help.

For each generator (`vae`, `gan`, default options) and mode (extend: every user gains the
same number of items, ``--rows`` in all; synthesize: new users), on the default 8:1:1
random-by-user split (seed 0):

- training time per epoch and in all, and synthetic rows generated per second (median of
  ``--repeats`` generations of ``--rows`` rows);
- fidelity against the real training data: Jensen-Shannon divergence of item popularity,
  KS statistic of user history lengths (synthesize), and the share of synthetic users whose
  item set equals a real user's;
- the `embedding` backend's test NDCG@10 trained on the real training rows alone and on them
  plus each generator's rows (same split, same seed).

It also times `recaug evaluate --backend vae` against the embedding backend's BPR. Run on
demand, never in CI:

    python benchmarks/generators.py /work/data/ml-100k --repeats 3

``--scale`` instead fits each generator of ``--generators`` (``NAME`` with its default
options, or ``NAME:KEY=VALUE,...``) on DATA's training split and generates what ``recaug
augment`` generates by default (items for the sparse third of users; ``--target all`` for
every user, more rows and a steadier share; ``--budget N`` for N rows), printing fit wall and
CPU seconds, the epochs trained, rows and rows/s, and the rows' quality: the share of
generated (user, item) pairs that are among the run's *validation* rows (never test rows),
counted over the users that have validation rows, next to the same number of items per user
drawn by training popularity (items the user has excluded, seed 0). The script runs against
any checkout's code, so the same command measures a version before and after a change:

    python benchmarks/generators.py ../shared/datasets/amazon-sports/interactions.csv.gz --scale
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from recaug_core import Context, GenerationRequest, IdIndex, SplitSpec, metrics, split_dataset
from recaug_core.loading import load_data
from recaug_core.pipeline import merge
from recaug_core.ranking import rank, score_ranking
from recaug_core.registry import create, get_registry

RUNS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("vae", "extend", {}),
    ("vae", "synthesize", {}),
    ("vae", "synthesize", {"latent_from": "posterior"}),
    ("gan", "extend", {}),
    ("gan", "synthesize", {}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/data/ml-100k")
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows per run")
    parser.add_argument("--repeats", type=int, default=3, help="generations timed per run")
    parser.add_argument("--backend-option", action="append", default=["model=bpr"])
    parser.add_argument("--scale", action="store_true", help="fit time and validation hits")
    parser.add_argument(
        "--generators", nargs="+", default=["vae", "gan", "lora-gen"], help="NAME[:K=V,...]"
    )
    parser.add_argument("--target", default="sparse", help="with --scale: users extended")
    parser.add_argument("--budget", type=int, default=None, help="with --scale: rows asked")
    args = parser.parse_args()
    os.environ.setdefault("RECAUG_PROGRESS", "0")
    if args.scale:
        scale(args.data, args.generators, GenerationRequest(budget=args.budget, target=args.target))
        return

    data = load_data(args.data).dataset
    split = split_dataset(data, SplitSpec(), seed=0)
    train = split.train
    print(f"data: {len(data)} interactions, {data.n_users} users, {data.n_items} items")
    print(f"train rows: {len(train)}; load average at start: {_load()}")
    backend = get_registry().get("backends", "embedding")
    backend_options = dict(pair.split("=", 1) for pair in args.backend_option)

    print("\n| backend | Recall@10 | NDCG@10 | fit s | epochs (best) |")
    print("|---|---|---|---|---|")
    baseline: dict[str, Any] = {}
    for name, options in (("embedding", backend_options), ("vae", {})):
        scores, timing, info = _evaluate(get_registry().get("backends", name), options, split)
        baseline = baseline or scores
        label = f"{name} ({', '.join(f'{k}={v}' for k, v in options.items()) or 'defaults'})"
        print(
            f"| {label} | {scores['recall@10']:.4f} | {scores['ndcg@10']:.4f} "
            f"| {timing['fit_s']:.1f} | {info.get('epochs_run')} ({info.get('best_epoch')}) |",
            flush=True,
        )

    print(
        "\n| generator | mode | fit s | epochs | s/epoch | rows | rows/s | fit+generate s "
        "| item-popularity JS | user-length KS | copies of real users "
        "| NDCG@10 real only | NDCG@10 with rows |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    fitted: dict[str, tuple[Any, float]] = {}
    for name, mode, extra in RUNS:
        if name not in fitted:
            strategy = create("strategies", name, {})
            ctx = Context(seed=0, show_progress=False)
            started = time.perf_counter()
            strategy.fit(train, ctx)
            fitted[name] = (strategy, time.perf_counter() - started)
        strategy, fit_s = fitted[name]
        # extend: every user gains the same number of items, enough for ``--rows`` in all
        per_user = -(-args.rows // int((train.user_lengths() > 0).sum()))
        strategy.options = strategy.parse_options(
            {**strategy.options_dict(), "mode": mode, "per_user": per_user, **extra}
        )
        target = "new" if mode == "synthesize" else "all"
        request = GenerationRequest(budget=args.rows, target=target)
        seconds = []
        for _ in range(args.repeats):
            ctx = Context(seed=0, show_progress=False)
            started = time.perf_counter()
            table = strategy.generate(train, request, ctx)
            seconds.append(time.perf_counter() - started)
        generate_s = statistics.median(seconds)
        fidelity = _fidelity(train, table, mode)
        augmented = merge(train, table)
        scores, _, _ = _evaluate(backend, backend_options, split, augmented)
        epochs = strategy.options.epochs
        label = " ".join([mode, *(f"{k}={v}" for k, v in extra.items())])
        print(
            f"| {name} | {label} | {fit_s:.1f} | {epochs} | {fit_s / epochs:.3f} "
            f"| {table.num_rows} | {table.num_rows / generate_s:,.0f} "
            f"| {fit_s + generate_s:.1f} | {fidelity['js']:.4f} | {fidelity['ks']} "
            f"| {fidelity['copies']} | {baseline['ndcg@10']:.4f} | {scores['ndcg@10']:.4f} |",
            flush=True,
        )
    print(f"\nload average at end: {_load()}")


def _evaluate(backend: Any, options: dict[str, Any], split: Any, train: Any = None) -> Any:
    """Test metrics at K=10, fit seconds and the training summary of one backend fit."""
    train = split.train if train is None else train
    model = backend(options)
    started = time.perf_counter()
    model.fit(train, Context(seed=0, show_progress=False), valid=split.valid)
    fit_s = time.perf_counter() - started
    ranking = rank(model, train, split.test, [train, split.valid], 10)
    return score_ranking(ranking, train, [10]), {"fit_s": fit_s}, model.training_


def _fidelity(train: Any, table: Any, mode: str) -> dict[str, Any]:
    items = train.item_index
    real = train.real()
    popularity = real.item_popularity()
    synthetic_pop = np.bincount(items.indices(table.column("item_id")), minlength=len(items))
    out: dict[str, Any] = {"js": metrics.js_divergence(synthetic_pop, popularity)}
    if mode == "extend":
        out["ks"], out["copies"] = "-", "-"
        return out
    matrix = _item_sets(table, items)
    lengths = np.diff(matrix.indptr)
    out["ks"] = f"{metrics.ks_statistic(lengths, real.user_lengths()[real.user_lengths() > 0]):.4f}"
    out["copies"] = f"{metrics.exact_copy_rate(matrix, real.interaction_matrix()):.2%}"
    return out


def _item_sets(table: Any, items: IdIndex) -> sp.csr_matrix:
    users = IdIndex.from_columns(table.column("user_id"))
    rows, cols = users.indices(table.column("user_id")), items.indices(table.column("item_id"))
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def scale(ref: str, generators: list[str], request: GenerationRequest) -> None:
    """Fit time, rows/s and validation hits of each generator on ``ref`` (``--scale``)."""
    import resource

    data = load_data(ref).dataset
    split = split_dataset(data, SplitSpec(), seed=0)
    train = split.train
    print(f"data: {ref}: {len(data)} interactions, {data.n_users} users, {data.n_items} items")
    print(f"train rows: {len(train)}, validation rows: {len(split.valid)}")
    print(
        "\n| generator | options | fit s | fit CPU s | epochs (best) | rows | generate s "
        "| rows/s | validation hits | popularity's hits | load before, after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in generators:
        name, _, pairs = spec.partition(":")
        chosen = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
        strategy = create("strategies", name, chosen)
        ctx = Context(seed=0, show_progress=False)
        load_before = os.getloadavg()[0]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        started = time.perf_counter()
        strategy.fit(train, ctx)
        fit_s = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - cpu
        started = time.perf_counter()
        table = strategy.generate(train, request, ctx)
        generate_s = time.perf_counter() - started
        info = getattr(strategy, "training_", {})
        epochs = f"{info['epochs_run']} ({info['best_epoch']})" if info else "-"
        ours, popular = validation_hits(train, split.valid, table)
        label = ", ".join(f"{k}={v}" for k, v in chosen.items()) or "defaults"
        print(
            f"| {name} | {label} | {fit_s:.1f} | {cpu:.1f} | {epochs} | {table.num_rows} "
            f"| {generate_s:.1f} | {table.num_rows / max(generate_s, 1e-9):,.0f} "
            f"| {ours:.2%} | {popular:.2%} | {load_before:.1f}, {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


def validation_hits(train: Any, valid: Any, table: Any) -> tuple[float, float]:
    """Share of ``table``'s (user, item) pairs among ``valid``'s rows, and the share for as
    many items per user drawn by training popularity, the user's own items excluded."""
    from recaug_modelkit.generation import sample_items

    n_items = train.n_items
    users = train.user_index.indices(table.column("user_id"))
    items = train.item_index.indices(table.column("item_id"))
    v_users, v_items = valid.real().codes()
    held = np.unique(v_users * n_items + v_items)
    # Only users with validation rows can score a hit (many sparse users have none).
    judged = np.isin(users, v_users)
    users, items = users[judged], items[judged]
    ours = float(np.isin(users * n_items + items, held).mean()) if len(users) else 0.0
    known = train.real().interaction_matrix()
    popularity = train.real().item_popularity().astype(np.float64)
    targets, counts = np.unique(users, return_counts=True)
    rng = np.random.default_rng(0)
    hits, drawn = 0, 0
    for start in range(0, len(targets), 512):
        chunk = targets[start : start + 512]
        probs = np.tile(popularity / popularity.sum(), (len(chunk), 1))
        rows, picked = sample_items(
            probs, counts[start : start + 512], rng, known[chunk].toarray() > 0
        )
        hits += int(np.isin(chunk[rows] * n_items + picked, held).sum())
        drawn += len(picked)
    return ours, hits / max(drawn, 1)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
