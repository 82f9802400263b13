"""Run recaug commands on corpus cases in this process; record each exit code as it ends.

    python corpus_runner.py RUNS.json RESULTS.jsonl

RUNS.json lists ``[index, [arg, ...]]``. Before each run a ``{"start": index}`` line goes to
RESULTS.jsonl and after it ``{"index": ..., "code": ..., "err": ...}``, flushed at once: if this
process dies (a segmentation fault) or hangs, the parent knows which run did it, records it,
and starts a new runner after it. A run still busy after ``LIMIT_S`` is recorded as a hang.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys

LIMIT_S = 30


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so that no `except Exception` swallows it."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def main(runs_file: str, results_file: str) -> None:
    from recaug_app.cli import invoke

    signal.signal(signal.SIGALRM, _alarm)
    with open(runs_file, encoding="utf-8") as plan:
        runs = json.load(plan)
    with open(results_file, "a", encoding="utf-8") as results:
        for index, args in runs:
            results.write(json.dumps({"start": index}) + "\n")
            results.flush()
            out, err = io.StringIO(), io.StringIO()
            signal.alarm(LIMIT_S)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = invoke(args)
            except Hang:
                code = "hang"
            finally:
                signal.alarm(0)
            lines = [line for line in err.getvalue().splitlines() if line.strip()]
            record = {"index": index, "code": code, "err": lines[-1][:300] if lines else ""}
            record["lines"] = len(lines)
            results.write(json.dumps(record) + "\n")
            results.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
