"""A run killed (SIGKILL) while training continues with --resume to the same rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ARGS = [
    "augment", "demo", "-s", "users=150", "-s", "items=100", "-s", "interactions=2500",
    "--strategy", "lora-gen", "--seed", "5",
    "-o", "tiny_hidden=32", "-o", "pretrain_epochs=4", "-o", "epochs=12",
    "-o", "per_user=3", "-o", "max_length=64", "-o", "cuts_per_user=2",
    "-o", "checkpoint_every=3",
]  # fmt: skip


def command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "recaug_app", *ARGS, "--out", str(out), *extra]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUG_")}
    # One thread: the same arithmetic in every run, so rows can be compared exactly.
    return {**env, "RECAUG_PROGRESS": "0", "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("phase", ["pretrain", "finetune"])
def test_killed_run_resumes_to_the_rows_of_an_uninterrupted_run(tmp_path, recaug, phase):
    killed = tmp_path / "killed"
    checkpoint = killed / "checkpoints" / "lora-gen" / phase / "checkpoint" / "state.json"
    process = subprocess.Popen(
        command(killed), env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 240
    while not checkpoint.exists():
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        assert time.monotonic() < deadline, "no fine-tuning checkpoint appeared"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "synthetic.parquet").exists(), "the run finished before the kill"
    reached = json.loads(checkpoint.read_text())["update"]
    assert reached >= 3

    resumed = subprocess.run(
        command(killed, "--resume"), env=environment(), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((checkpoint.parent.parent / "trained.json").read_text())
    assert summary["resumed_from"] == reached, f"{phase} started over instead of resuming"
    assert summary["updates"] > reached

    whole = tmp_path / "whole"
    straight = recaug(*ARGS, "--out", whole)  # in-process, one torch thread too (conftest)
    assert straight.code == 0, straight.err

    rows = pq.read_table(killed / "synthetic.parquet")
    assert rows.num_rows > 0
    assert rows.equals(pq.read_table(whole / "synthetic.parquet"))
