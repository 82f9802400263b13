"""End to end through the CLI: evaluate SASRec, augment with `seq`, compare on the same split."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from recaug_app.cli import invoke

SMALL_DEMO = ["demo", "-s", "users=150", "-s", "items=60", "-s", "interactions=3000"]
FAST = ["-o", "hidden=16", "-o", "inner=16", "-o", "max_len=10", "-o", "epochs=3"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    # Tiny models: a second OpenMP thread only spins on a shared machine.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _json(capsys: Any) -> dict[str, Any]:
    return json.loads(capsys.readouterr().out)


def test_evaluate_reports_hit_and_ndcg_at_10_and_20(capsys: Any) -> None:
    argv = ["evaluate", *SMALL_DEMO, "--backend", "sasrec", "--split", "leave-one-out"]
    assert invoke([*argv, *FAST, "--json"]) == 0
    result = _json(capsys)
    baseline = result["baseline"]
    for metric in ("hit@10", "ndcg@10", "hit@20", "ndcg@20"):
        assert 0.0 <= baseline[metric] <= 1.0
    assert baseline["hit@20"] >= baseline["hit@10"] > 0
    assert result["split"]["protocol"] == "leave-one-out"
    assert result["backend"]["name"] == "sasrec"
    assert baseline["users"] == result["split"]["test"]["users"]


def test_augment_then_evaluate_the_augmented_run(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    argv = ["augment", *SMALL_DEMO, "--strategy", "seq", "--split", "leave-one-out"]
    assert invoke([*argv, "--out", str(out), "--json"]) == 0
    counts = _json(capsys)["counts"]
    assert counts["kept"] > 0 and counts["synthetic_users"] > 0
    synthetic = pq.read_table(out / "augmented.parquet")
    pseudo = synthetic.filter(pc.starts_with(synthetic.column("user_id"), "syn-seq-"))
    assert pseudo.num_rows > 0
    assert pc.all(pc.equal(pseudo.column("origin"), "seq")).as_py()

    argv = ["evaluate", "--augmented", str(out), "--backend", "sasrec", *FAST, "--json"]
    assert invoke(argv) == 0
    result = _json(capsys)
    assert result["run"]["strategy"]["name"] == "seq"
    for side in ("baseline", "augmented"):
        assert result[side]["hit@10"] > 0
    assert "ndcg@10" in result["change"]
    # Both sides are ranked for the same test users of the run's own split.
    assert result["baseline"]["users"] == result["augmented"]["users"]


def test_bad_backend_option_exits_with_code_2(capsys: Any) -> None:
    code = invoke(["evaluate", *SMALL_DEMO, "--backend", "sasrec", "-o", "heads=3"])
    assert code == 2
    assert "heads" in capsys.readouterr().err
