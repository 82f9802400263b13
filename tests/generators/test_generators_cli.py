"""`recaug augment --strategy vae|gan` end to end: outputs, copies, SIGKILL then --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from recaug_core import IdIndex
from recaug_core.metrics import exact_copy_rate

SMALL = ("demo", "-s", "users=200", "-s", "items=100", "-s", "interactions=3000")
TINY = {
    "vae": ("-o", "hidden=32", "-o", "latent=8", "-o", "epochs=3"),
    "gan": ("-o", "hidden_g=32", "-o", "hidden_d=16", "-o", "epochs=3"),
}


def train_rows(run: Path) -> pa.Table:
    split = pq.read_table(run / "split.parquet")
    return split.filter(pc.equal(split.column("split"), "train"))


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_extend_adds_unseen_catalog_items_to_sparse_users(name, recaug, tmp_path):
    out = tmp_path / "run"
    result = recaug(
        "augment", *SMALL, "--strategy", name, *TINY[name], "--budget", "400", "--out", out
    )
    assert result.code == 0, result.err
    synthetic = pq.read_table(out / "synthetic.parquet")
    train = train_rows(out)
    assert 0 < synthetic.num_rows <= 400
    assert set(synthetic.column("origin").to_pylist()) == {name}
    catalog = set(pq.read_table(out / "items.parquet").column("item_id").to_pylist())
    assert set(synthetic.column("item_id").to_pylist()) <= catalog
    own = set(zip(train.column("user_id").to_pylist(), train.column("item_id").to_pylist()))
    pairs = list(
        zip(synthetic.column("user_id").to_pylist(), synthetic.column("item_id").to_pylist())
    )
    assert not own.intersection(pairs), "extend repeated a user's own training item"
    assert len(set(pairs)) == len(pairs)
    assert synthetic.column("parent_user").equals(synthetic.column("user_id"))
    assert (out / f"checkpoints/{name}/model.safetensors").exists()
    config = json.loads((out / f"checkpoints/{name}/config.json").read_text())
    assert config["settings"]["shape"][1] == len(catalog)


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_synthesize_makes_new_users_within_budget(name, recaug, tmp_path):
    out = tmp_path / "run"
    result = recaug(
        "augment", *SMALL, "--strategy", name, *TINY[name], "--target", "new",
        "--budget", "300", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    synthetic = pq.read_table(out / "synthetic.parquet")
    assert synthetic.num_rows == 300
    users = set(synthetic.column("user_id").to_pylist())
    assert all(u.startswith(f"syn-{name}-") for u in users)
    real_users = set(train_rows(out).column("user_id").to_pylist())
    assert not users & real_users
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["counts"]["synthetic_users"] == len(users)


@pytest.mark.parametrize(("name", "option"), [("vae", "dropout=1.5"), ("gan", "pm_ratio=2")])
def test_bad_option_exits_2_naming_it(name, option, recaug, tmp_path):
    result = recaug("augment", "--strategy", name, "-o", option, "--out", tmp_path / "x")
    assert result.code == 2
    assert option.split("=")[0] in result.err and "Traceback" not in result.err
    assert not (tmp_path / "x").exists()


def item_sets(table: pa.Table, items: IdIndex) -> sp.csr_matrix:
    users = IdIndex.from_columns(table.column("user_id"))
    rows = users.indices(table.column("user_id"))
    cols = items.indices(table.column("item_id"))
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_synthetic_users_are_not_copies_of_real_ones(name, recaug, tmp_path):
    out = tmp_path / "run"
    options = ("-o", "epochs=15", "-o", "hidden=64", "-o", "latent=16")
    if name == "gan":
        options = ("-o", "epochs=15", "-o", "hidden_g=64", "-o", "hidden_d=32")
    result = recaug(
        "augment", "demo", "--strategy", name, *options, "-o", "new_users=1000",
        "--target", "new", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    synthetic = pq.read_table(out / "synthetic.parquet")
    train = train_rows(out)
    items = IdIndex(pq.read_table(out / "items.parquet").column("item_id"))
    assert len(set(synthetic.column("user_id").to_pylist())) == 1000
    rate = exact_copy_rate(item_sets(synthetic, items), item_sets(train, items))
    assert rate < 0.01


def run_cli(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUG_")}
    env.update(RECAUG_PROGRESS="0", OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "recaug_app", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err


@pytest.mark.parametrize("name", ["vae", pytest.param("gan", marks=pytest.mark.slow)])
def test_sigkill_during_training_then_resume_gives_the_same_rows(name, tmp_path):
    epochs = 40
    args = [
        "augment", *SMALL, "--strategy", name, *TINY[name][:-2], "-o", f"epochs={epochs}",
        "--target", "new", "--budget", "500", "--seed", "7",
    ]  # fmt: skip
    finish(run_cli(*args, "--out", str(tmp_path / "whole")))

    killed = tmp_path / "killed"
    process = run_cli(*args, "--out", str(killed))
    epochs_dir = killed / "checkpoints" / name / "epochs"
    deadline = time.monotonic() + 240
    while not list(epochs_dir.glob("epoch-*.json")):
        assert process.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, "no epoch checkpoint appeared"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "synthetic.parquet").exists()
    done = sorted(epochs_dir.glob("epoch-*.json"))
    assert done and int(done[-1].stem.split("-")[1]) < epochs, "killed after training ended"

    finish(run_cli(*args, "--out", str(killed), "--resume"))
    whole = pq.read_table(tmp_path / "whole" / "synthetic.parquet")
    resumed = pq.read_table(killed / "synthetic.parquet")
    assert resumed.num_rows == 500
    assert resumed.equals(whole)
