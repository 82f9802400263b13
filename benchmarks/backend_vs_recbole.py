"""The `embedding` backend against RecBole 1.2.1's BPR, LightGCN, SGL and NCL, on the very same
split.

Run on demand (never in CI)::

    python benchmarks/backend_vs_recbole.py /work/data/ml-100k/ml-100k.inter \
        --recbole-python /work/venvs/recbole/bin/python [--scale] [--models BPR,LightGCN,SGL,NCL]

RecBole's own virtual environment (RecBole 1.2.1 predates numpy 2; NCL clusters with faiss)::

    python3 -m venv /work/venvs/recbole
    /work/venvs/recbole/bin/pip install torch==2.13.0
    /work/venvs/recbole/bin/pip install 'numpy<2' 'scipy<1.12' recbole==1.2.1 faiss-cpu

1. Loads the interactions with recaug, splits them 8:1:1 at random per user (seed 0) and
   writes the three parts as RecBole benchmark files (``NAME.train.inter`` / ``.valid.inter`` /
   ``.test.inter``, through ``recaug_app.export``).
2. Trains RecBole's models (``--models``, default BPR and LightGCN) on those files in RecBole's
   own virtual environment (full ranking, NDCG@10 early stopping, RecBole's default
   hyper-parameters, ``--recbole-epochs`` epochs).
3. Trains our backend with its DEFAULT options for the same method (``model=bpr``,
   ``model=lightgcn``, ``views=sgl``) on the same split, in a child process of its own. RecBole's
   NCL has no counterpart here: it is trained as an anchor only. RecBole 1.2.1 ships no SimGCL or
   XSimGCL (its general models: checked in the wheel's ``recbole/model/general_recommender/``).
4. Prints Recall@10, NDCG@10, training wall time and peak RSS of each side, and the ratios.
   ``--repeat N`` runs both sides N times, interleaved, and reports the median run of each.

Every side runs in a fresh child process so that peak memory is its own. ``--scale`` also
trains LightGCN on a synthetic 1M-interaction dataset (MovieLens-1M size) and reports its time
and peak memory. RecBole's results can be cached (``--recbole-cache``) because its LightGCN
takes minutes; the load average is printed with every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

RECBOLE_MODELS = ("BPR", "LightGCN", "SGL", "NCL")
# Our options for RecBole's model of the same method (None: RecBole only).
OURS: dict[str, dict[str, str] | None] = {
    "BPR": {"model": "bpr"},
    "LightGCN": {"model": "lightgcn"},
    "SGL": {"views": "sgl"},
    "NCL": None,
}

# RecBole's side: its defaults for the two models, on our benchmark files. RecBole's own
# checkpoint loading calls torch.load on a pickled dict, which torch >= 2.6 refuses by
# default: only this runner, for RecBole's own file, turns weights_only off.
RECBOLE_RUNNER = textwrap.dedent(
    """
    import json, resource, sys, time
    import torch

    _torch_load = torch.load
    torch.load = lambda *a, **k: _torch_load(*a, **{**k, "weights_only": False})

    # NCL's k-means asks faiss for GPUs (gpu=True); faiss-cpu has none, so cluster on the CPU.
    try:
        import faiss

        _kmeans = faiss.Kmeans
        faiss.Kmeans = lambda *a, **k: _kmeans(*a, **{**k, "gpu": False})
    except ImportError:
        pass

    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    model_name, data_path, dataset, epochs, out = sys.argv[1:6]
    config = Config(
        model=model_name,
        dataset=dataset,
        config_dict={
            "data_path": data_path,
            "benchmark_filename": ["train", "valid", "test"],
            "load_col": {"inter": ["user_id", "item_id"]},
            "eval_args": {"group_by": "user", "order": "RO", "mode": "full"},
            "metrics": ["Recall", "NDCG"],
            "topk": [10],
            "valid_metric": "NDCG@10",
            "epochs": int(epochs),
            "use_gpu": False,
            "seed": 0,
            "reproducibility": True,
            "show_progress": False,
            "checkpoint_dir": data_path + "/saved",
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    data = create_dataset(config)
    train, valid, test = data_preparation(config, data)
    model = get_model(config["model"])(config, train._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    epochs_run = []
    train_epoch = trainer._train_epoch
    trainer._train_epoch = lambda *a, **k: epochs_run.append(1) or train_epoch(*a, **k)
    started = time.perf_counter()
    trainer.fit(train, valid, saved=True, show_progress=False)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    evaluate_s = time.perf_counter() - started
    json.dump(
        {
            "recall@10": float(result["recall@10"]),
            "ndcg@10": float(result["ndcg@10"]),
            "fit_s": fit_s,
            "evaluate_s": evaluate_s,
            "epochs": len(epochs_run),
        },
        open(out, "w"),
    )
    """
)


def load_split(data: str, source: str | None, source_options: dict[str, str], seed: int) -> Any:
    from recaug_core import split_dataset
    from recaug_core.loading import load_data

    loaded = load_data(data, source=source, source_options=source_options)
    return split_dataset(loaded.dataset, seed=seed)


def write_recbole_files(split: Any, folder: Path) -> None:
    from recaug_app.export import export_split

    export_split(split, split.train, "recbole", folder)


def run_child(command: list[str], cwd: Path) -> tuple[dict[str, Any], float]:
    """Run ``command`` (which writes JSON to its last argument) in ``cwd`` (RecBole writes
    logs there); return the JSON and the child's peak RSS in MiB."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{stderr[-3000:]}")
    return json.loads(Path(command[-1]).read_text()), usage.ru_maxrss / 1024


def ours_child(args: argparse.Namespace) -> None:
    """In a child process: fit our backend with default options and evaluate it."""
    from recaug_core import Context, RankingTask
    from recaug_core.ranking import score_ranking
    from recaug_embedding.backend import EmbeddingBackend

    if args.data == "synthetic-1m":
        split = synthetic_split(args.seed)
    else:
        split = load_split(args.data, args.source, dict(args.source_option), args.seed)
    model = EmbeddingBackend(json.loads(args.ours_options))
    ctx = Context(seed=args.seed, show_progress=False, mixed_precision=args.mixed_precision)
    # Imports and the Accelerator are set up before the clock starts, as RecBole's runner builds
    # its trainer before timing `trainer.fit`; model, graph and sampler are built inside `fit`.
    # Building an optimizer imports torch._dynamo on first use (about 1.3 s here): RecBole's
    # trainer builds its Adam before the clock, so that import is done here before it too.
    ctx.accelerator()
    import torch._dynamo  # noqa: F401

    started = time.perf_counter()
    model.fit(split.train, ctx, valid=split.valid)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    task = RankingTask.build(split.train, split.test, [split.train, split.valid])
    ranking = task.rank(model.score, 10)
    result = score_ranking(ranking, split.train, [10])
    evaluate_s = time.perf_counter() - started
    # Ranking alone (scores, masking, top-k), the part repeated for every evaluation.
    started = time.perf_counter()
    task.rank(model.score, 10)
    rank_s = time.perf_counter() - started
    training = model.training_
    out = {
        "recall@10": result["recall@10"],
        "ndcg@10": result["ndcg@10"],
        "fit_s": fit_s,
        "evaluate_s": evaluate_s,
        "rank_s": rank_s,
        "users": len(task.users),
        "items": split.train.n_items,
        "train_rows": len(split.train),
        "epochs": training["epochs_run"],
        "best_epoch": training["best_epoch"],
    }
    Path(args.out).write_text(json.dumps(out))


def synthetic_split(seed: int) -> Any:
    """A MovieLens-1M-sized world (6,040 users, 3,706 items, ~1M interactions): users have
    latent tastes, items power-law popularity; each user's items are a Gumbel-top-k draw."""
    import numpy as np
    import pyarrow as pa

    from recaug_core import Dataset, split_dataset

    rng = np.random.default_rng(seed)
    n_users, n_items, target = 6040, 3706, 1_000_000
    lengths = np.clip(rng.lognormal(0.0, 1.0, n_users), 0, None)
    lengths = np.clip((lengths / lengths.sum() * target).astype(np.int64), 20, n_items // 2)
    taste = rng.normal(size=(n_users, 16)).astype(np.float32)
    traits = rng.normal(size=(n_items, 16)).astype(np.float32)
    popularity = np.log(1.0 / np.arange(1, n_items + 1) ** 0.8)
    logits = taste @ traits.T / 2 + popularity + rng.gumbel(size=(n_users, n_items))
    ranked = np.argsort(-logits, axis=1)
    keep = np.arange(n_items)[None, :] < lengths[:, None]
    users = np.repeat(np.arange(n_users), lengths)
    items = ranked[keep]
    table = pa.table(
        {
            "user_id": pa.array(users.astype(str)),
            "item_id": pa.array(items.astype(str)),
        }
    )
    return split_dataset(Dataset(table, name="synthetic-1m"), seed=seed)


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median fit time (the lower middle one for an even count); metrics
    are the same in every run, as both sides train with a fixed seed."""
    ordered = sorted(runs, key=lambda run: run["fit_s"])
    return ordered[(len(ordered) - 1) // 2]


def load() -> str:
    return os.getloadavg().__repr__()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/data/ml-100k/ml-100k.inter")
    parser.add_argument("--source", default="recbole")
    parser.add_argument(
        "-s",
        "--source-option",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recbole-python", default="/work/venvs/recbole/bin/python")
    parser.add_argument("--recbole-epochs", type=int, default=300)
    parser.add_argument("--recbole-cache", type=Path, help="reuse/keep RecBole's results here")
    parser.add_argument("--scale", action="store_true", help="also train on 1M interactions")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per side, interleaved; medians are reported"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--mixed-precision", choices=["no", "bf16", "fp16"], default="no", help="our side only"
    )
    parser.add_argument("--child", choices=["ours"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--models",
        default="BPR,LightGCN",
        help=f"RecBole models to compare, of {', '.join(RECBOLE_MODELS)}",
    )
    parser.add_argument("--ours-options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    models = [name for name in args.models.split(",") if name]
    unknown = sorted(set(models) - set(RECBOLE_MODELS))
    if unknown:
        parser.error(
            f"--models: unknown {', '.join(unknown)}; choose of {', '.join(RECBOLE_MODELS)}"
        )
    if args.child == "ours":
        ours_child(args)
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="recaug-bench-"))
    dataset_dir = workdir / "bench"
    split = load_split(args.data, args.source, dict(args.source_option), args.seed)
    write_recbole_files(split, dataset_dir)
    print(f"split: {split.info()}")

    # Every run of each side, per model. With --repeat N both sides run N times, interleaved,
    # so that a noisy neighbour on a shared machine slows both; medians are reported.
    recbole: dict[str, list[dict[str, Any]]] = {name: [] for name in RECBOLE_MODELS}
    if args.recbole_cache and args.recbole_cache.exists():
        cached = json.loads(args.recbole_cache.read_text())
        # A cache written before --repeat holds one run per model rather than a list.
        for name, runs in cached.items():
            recbole[name] = runs if isinstance(runs, list) else [runs]
    runner = workdir / "recbole_runner.py"
    runner.write_text(RECBOLE_RUNNER)
    child = [
        sys.executable,
        str(Path(__file__).resolve()),
        args.data,
        "--source",
        args.source,
        "--child",
        "ours",
    ]
    child += [part for pair in args.source_option for part in ("-s", *pair)]
    child += ["--mixed-precision", args.mixed_precision]
    ours: dict[str, list[dict[str, Any]]] = {name: [] for name in RECBOLE_MODELS}
    for repeat in range(args.repeat):
        for name in models:
            if len(recbole[name]) <= repeat:
                print(f"RecBole {name} #{repeat + 1}: training (load {load()})", flush=True)
                out = workdir / f"recbole-{name}.json"
                command = [args.recbole_python, str(runner), name, str(workdir), "bench"]
                result, rss = run_child([*command, str(args.recbole_epochs), str(out)], workdir)
                recbole[name].append(result | {"peak_rss_mib": rss, "load_after": load()})
                if args.recbole_cache:
                    args.recbole_cache.write_text(json.dumps(recbole, indent=1))
            options = OURS[name]
            if options is None:
                continue
            print(f"ours {options} #{repeat + 1}: training (load {load()})", flush=True)
            out = workdir / f"ours-{name}.json"
            command = [*child, "--ours-options", json.dumps(options), "--out", str(out)]
            result, rss = run_child(command, workdir)
            ours[name].append(result | {"peak_rss_mib": rss, "load_after": load()})

    print("\nthe median run of each side (fit seconds of every run in brackets)")
    header = f"{'model':<10}{'side':<9}{'Recall@10':>10}{'NDCG@10':>9}{'fit s':>9}"
    print(header + f"{'epochs':>8}{'peak MiB':>10}  runs")
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for name in models:
        sides = [
            (side, runs) for side, runs in (("RecBole", recbole[name]), ("recaug", ours[name]))
        ]
        sides = [(side, runs) for side, runs in sides if runs]
        summary[name] = {side: median_run(runs) for side, runs in sides}
        for side, runs in sides:
            result = summary[name][side]
            times = ", ".join(f"{run['fit_s']:.1f}" for run in runs)
            print(
                f"{name:<10}{side:<9}{result['recall@10']:>10.4f}{result['ndcg@10']:>9.4f}"
                f"{result['fit_s']:>9.1f}{result['epochs']:>8}{result['peak_rss_mib']:>10.0f}"
                f"  [{times}]"
            )
        if len(summary[name]) < 2:
            continue
        theirs, mine = summary[name]["RecBole"], summary[name]["recaug"]
        print(
            f"{name:<10}{'ratio':<9}{mine['recall@10'] / theirs['recall@10']:>10.3f}"
            f"{mine['ndcg@10'] / theirs['ndcg@10']:>9.3f}"
            f"{mine['fit_s'] / theirs['fit_s']:>9.3f}{'':>8}"
            f"{mine['peak_rss_mib'] / theirs['peak_rss_mib']:>10.2f}"
            f"   (RecBole {theirs['fit_s'] / mine['fit_s']:.1f}x slower)"
        )
    if "recaug" in summary.get("LightGCN", {}):
        lightgcn = summary["LightGCN"]["recaug"]
        print(
            f"\nranking {lightgcn['users']} users x {lightgcn['items']} items (scores, masking, "
            f"top-10): {lightgcn['rank_s'] * 1000:.1f} ms; with all metrics "
            f"{lightgcn['evaluate_s'] * 1000:.1f} ms"
        )
    if args.scale:
        print(f"scale: training LightGCN on 1M synthetic interactions (load {load()})", flush=True)
        out = workdir / "ours-scale.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "synthetic-1m",
            "--child",
            "ours",
            "--out",
            str(out),
        ]
        result, rss = run_child(command, workdir)
        print(
            f"scale: {result['train_rows']} training rows, {result['users']} test users x "
            f"{result['items']} items: fit {result['fit_s']:.1f} s ({result['epochs']} epochs), "
            f"evaluate {result['evaluate_s']:.2f} s, peak RSS {rss:.0f} MiB, "
            f"NDCG@10 {result['ndcg@10']:.4f}"
        )
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
