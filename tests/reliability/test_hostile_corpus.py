"""The hostile corpus (``hostile_corpus.py``: 800+ files in every format) through the real
command line: no segmentation fault, no hang, no exit code 1. Every run ends in 0, or in 2
with one sentence.

The commands run in a child process (``corpus_runner.py``) so that a crash or a hang is
recorded against its case instead of killing the test run. By default every case gets
`data info` and every fourth also `augment` and `evaluate`; the slow test runs all three on
every case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import hostile_corpus

RUNNER = Path(__file__).parent / "corpus_runner.py"
MINIMUM_FILES = 500


def commands(case: hostile_corpus.Case, out: Path) -> dict[str, list[str]]:
    return {
        "data info": ["data", "info", case.ref, "--json"],
        "augment": ["augment", case.ref, "--strategy", "seq", "--budget", "30", "--out", str(out)],
        "evaluate": ["evaluate", case.ref, "--backend", "pop", "--k", "5"],
    }


def run_in_child(runs: list[list[str]], folder: Path) -> list[dict[str, Any]]:
    """Each run's record; a run that killed its runner is recorded, and the rest go on."""
    results: dict[int, dict[str, Any]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUG_")}
    env.update(RECAUG_PROGRESS="0", OMP_NUM_THREADS="1")
    start = 0
    while start < len(runs):
        plan, log = folder / f"runs{start}.json", folder / f"results{start}.jsonl"
        plan.write_text(json.dumps([[i, runs[i]] for i in range(start, len(runs))]))
        child = subprocess.Popen([sys.executable, str(RUNNER), str(plan), str(log)], env=env)
        try:
            # the runner stops a hanging run itself; this is the guard against a stuck runner
            status: int | str = child.wait(timeout=60 + 2 * (len(runs) - start))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            status = "hang"
        started = None
        for line in log.read_text().splitlines() if log.exists() else []:
            record = json.loads(line)
            if "start" in record:
                started = record["start"]
            else:
                results[record["index"]] = record
                started = None
        if started is None:
            break
        results[started] = {"index": started, "code": f"runner died ({status})", "err": ""}
        start = started + 1
    return [results.get(i, {"index": i, "code": "never ran", "err": ""}) for i in range(len(runs))]


def check_corpus(tmp_path: Path, every: int, capsys: pytest.CaptureFixture[str]) -> None:
    cases = hostile_corpus.build(tmp_path / "corpus")
    assert len(cases) >= MINIMUM_FILES
    layouts = {case.name.split(":")[0] for case in cases}
    assert set(hostile_corpus.LAYOUTS) <= layouts
    runs, labels = [], []
    for i, case in enumerate(cases):
        for command, args in commands(case, tmp_path / "out" / str(i)).items():
            if command == "data info" or i % every == 0:
                runs.append(args)
                labels.append((case, command))
    records = run_in_child(runs, tmp_path)
    outcomes: Counter[str] = Counter()
    bad = []
    for (case, command), record in zip(labels, records):
        code = record["code"]
        outcomes[f"{command}: {code}"] += 1
        wrong = code not in (0, 2) or (code == 2 and record.get("lines") != 1)
        if command == "data info" and case.loads is not None:
            wrong |= code != (0 if case.loads else 2)
        if wrong:
            bad.append(f"{case.name} / {command}: {code} {record['err']}")
    with capsys.disabled():
        print(f"\nhostile corpus: {len(cases)} files, {len(runs)} runs: {dict(outcomes)}")
    assert not bad, "\n".join(bad[:20])


def test_hostile_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_corpus(tmp_path, 4, capsys)


@pytest.mark.slow
def test_hostile_corpus_every_command_on_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_corpus(tmp_path, 1, capsys)
