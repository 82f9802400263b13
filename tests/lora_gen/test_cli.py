"""`recaug augment --strategy lora-gen` end to end, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

SMALL_DEMO = ["-s", "users=150", "-s", "items=120", "-s", "interactions=2500"]


def options(fast: dict[str, object], **more: object) -> list[str]:
    pairs = {**fast, **more}
    return [arg for key, value in pairs.items() for arg in ("-o", f"{key}={value}")]


def train_pairs(run: Path) -> set[tuple[str, str]]:
    split = pq.read_table(run / "split.parquet")
    train = split.filter(pc.equal(split.column("split"), "train"))
    return set(zip(train.column("user_id").to_pylist(), train.column("item_id").to_pylist()))


def check_rows(run: Path) -> None:
    """What a user checks first: real catalog items, nothing the user had, nothing twice."""
    synthetic = pq.read_table(run / "synthetic.parquet")
    catalog = set(pq.read_table(run / "items.parquet").column("item_id").to_pylist())
    pairs = list(
        zip(synthetic.column("user_id").to_pylist(), synthetic.column("item_id").to_pylist())
    )
    assert pairs, "nothing was generated"
    assert {item for _, item in pairs} <= catalog
    assert not set(pairs) & train_pairs(run), "a generated item was already in the history"
    assert len(set(pairs)) == len(pairs), "an item was generated twice for one user"
    assert synthetic.column("parent_user").null_count == 0
    scores = synthetic.column("score").drop_null().to_numpy()  # seed rows of new users: null
    assert len(scores) and (scores <= 0).all() and (scores > -50).all(), (
        "scores are log-probabilities"
    )


def test_extend_on_demo_writes_catalog_items_new_to_each_user(recaug, fast, tmp_path):
    out = tmp_path / "run"
    result = recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen", *options(fast),
        "--out", out, "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    check_rows(out)
    synthetic = pq.read_table(out / "synthetic.parquet")
    per_user = pc.value_counts(synthetic.column("user_id")).field("counts").to_numpy()
    assert per_user.max() <= fast["per_user"]
    assert json.loads(result.out)["counts"]["generated"] == synthetic.num_rows
    adapter = out / "checkpoints" / "lora-gen" / "adapter" / "adapter_model.safetensors"
    assert adapter.stat().st_size > 0


def test_budget_and_target_are_honoured(recaug, fast, tmp_path):
    out = tmp_path / "run"
    result = recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen", *options(fast),
        "--budget", "10", "--target", "long-tail", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    check_rows(out)
    synthetic = pq.read_table(out / "synthetic.parquet")
    assert 0 < synthetic.num_rows <= 10
    # long-tail: every generated item lies outside the most popular fifth of the catalog
    train = [item for _, item in train_pairs(out)]
    counts: dict[str, int] = {}
    for item in train:
        counts[item] = counts.get(item, 0) + 1
    head = sorted(counts, key=lambda i: -counts[i])[: int(0.2 * len(counts)) - 1]
    assert not set(synthetic.column("item_id").to_pylist()) & set(head)


@pytest.mark.parametrize(
    ("mode", "target"), [("synthesize", "sparse"), ("extend", "new")], ids=["mode", "target"]
)
def test_synthesize_makes_new_users_from_real_parents(recaug, fast, tmp_path, mode, target):
    out = tmp_path / "run"
    result = recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen",
        *options(fast, mode=mode, new_users=12), "--target", target, "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    check_rows(out)
    synthetic = pq.read_table(out / "synthetic.parquet")
    users = set(synthetic.column("user_id").to_pylist())
    assert len(users) == 12 and all(u.startswith("syn-lora-gen-") for u in users)
    real_users = {u for u, _ in train_pairs(out)}
    assert set(synthetic.column("parent_user").to_pylist()) <= real_users


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("r", "0", "'r'"),
        ("template", "no slot here", "'template'"),
        ("base_model", "/no/such/model", "'base_model'"),
        ("target_modules", "no_such_proj", "'target_modules'"),
    ],
)
def test_bad_options_exit_2_naming_the_option(recaug, fast, tmp_path, option, value, named):
    result = recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen",
        *options(fast, **{option: value}), "--out", tmp_path / "run",
    )  # fmt: skip
    assert result.code == 2, result.err
    assert named in result.err
    assert "Traceback" not in result.err


def test_sampling_options_keep_the_guarantees(recaug, fast, tmp_path):
    out = tmp_path / "run"
    sampling = {"num_return_sequences": 3, "top_k": 5, "top_p": 0.9, "temperature": 0.8}
    result = recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen",
        *options(fast, per_user=2, **sampling), "--target", "all", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    check_rows(out)
    synthetic = pq.read_table(out / "synthetic.parquet")
    assert pc.max(pc.value_counts(synthetic.column("user_id")).field("counts")).as_py() == 2


def test_tiny_base_model_is_cached_by_fingerprint(recaug, fast, tmp_path):
    cache = tmp_path / "cache"

    def run(name: str, **more: object) -> Path:
        out = tmp_path / name
        result = recaug(
            "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen",
            *options(fast, cache_dir=cache, **more), "--out", out,
        )  # fmt: skip
        assert result.code == 0, result.err
        return out

    first = run("first")
    assert (first / "checkpoints" / "lora-gen" / "pretrain" / "trained.json").exists()
    assert len(list(cache.glob("tiny-*"))) == 1
    second = run("second")
    assert not (second / "checkpoints" / "lora-gen" / "pretrain").exists(), "pretrained again"
    run("other", tiny_hidden=16)
    assert len(list(cache.glob("tiny-*"))) == 2, "a different model reused the cached one"
