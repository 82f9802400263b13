"""Several processes (`accelerate launch`): sampling is shared out; the folder has one owner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from recaug_core.manifest import ExperimentFingerprint, ExperimentManifest
from recaug_core.outputs import OutputFolder
from recaug_core.settings import DataSpec, SplitSpec
from recaug_lora_gen.generation import my_batches


class FakeContext:
    def __init__(self, rank: int, world: int) -> None:
        self._accelerator = SimpleNamespace(process_index=rank, num_processes=world)

    def accelerator(self) -> SimpleNamespace:
        return self._accelerator


@pytest.mark.parametrize("world", [1, 2, 3])
def test_every_batch_is_sampled_by_exactly_one_process(world: int) -> None:
    starts = [
        start
        for rank in range(world)
        for start in my_batches(23, 4, FakeContext(rank, world))  # type: ignore[arg-type]
    ]
    assert sorted(starts) == list(range(0, 23, 4))


def test_a_follower_process_neither_locks_nor_writes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    fingerprint = ExperimentFingerprint(data=DataSpec(), split=SplitSpec())
    main = OutputFolder(out, ExperimentManifest, writer=True)
    main.open(fingerprint, resume=False, command=["recaug"])
    try:
        follower = OutputFolder(out, ExperimentManifest, writer=False)
        # no "run in progress" error
        assert follower.open(fingerprint, resume=False, command=["recaug"]) is False
        follower.write_table("synthetic.parquet", None)
        follower.mark_stage("generate")
        follower.close()
        assert not (out / "synthetic.parquet").exists()
        assert "generate" not in main.manifest.stages
    finally:
        main.close()


@pytest.mark.slow
def test_accelerate_launch_with_two_cpu_processes_writes_one_valid_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "recaug_app", "augment", "--strategy", "lora-gen", "-o", "epochs=1",
        "-o", "pretrain_epochs=1", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "RECAUG_PROGRESS": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("generated") == 1  # one report, from the main process
    synthetic = pq.read_table(out / "synthetic.parquet")
    items = set(pq.read_table(out / "items.parquet").column("item_id").to_pylist())
    assert synthetic.num_rows > 0
    assert set(synthetic.column("item_id").to_pylist()) <= items
