"""`recaug run`: an experiment file -> baseline vs every arm over seeds, results and report."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from recaug_app.commands.common import echo_json, folder_to_write

# A partial report is rendered after a finished arm and seed at most this often: figures cost
# a second or two, and a short experiment needs no report before its end.
PARTIAL_REPORT_EVERY_S = 30.0


def register(cli: click.Group) -> None:
    cli.add_command(run_command)


class PartialReports:
    """Renders the report of partial results while an experiment runs (throttled)."""

    def __init__(self, out: Path, render: Callable[[Path, Any], object]) -> None:
        self.out, self.render = out, render
        self.last = time.monotonic()

    def __call__(self, results: Any) -> None:
        if time.monotonic() - self.last >= PARTIAL_REPORT_EVERY_S:
            self.render(self.out, results)
            self.last = time.monotonic()


@click.command("run")
@click.argument("experiment_file", metavar="EXPERIMENT.toml", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    callback=folder_to_write,
    help="Output folder; running again continues (or re-reports) what it holds.",
)
@click.option(
    "--mixed-precision",
    type=click.Choice(["no", "fp16", "bf16"]),
    default="no",
    show_default=True,
    help="Mixed precision for torch-based strategies and backends (GPU).",
)
@click.option(
    "--data",
    "data_ref",
    metavar="DATA",
    help="Use this data instead of the file's [dataset] (ref, source and options; the "
    "cleaning stays); a path here is relative to the current folder. One experiment file "
    "then runs on several datasets.",
)
@click.option("--no-report", is_flag=True, help="Write results.json/csv only, no report.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the verdict, each arm's change per metric and the files written as JSON.",
)
def run_command(
    experiment_file: str,
    out: str,
    mixed_precision: str,
    data_ref: str | None,
    no_report: bool,
    as_json: bool,
) -> None:
    """Compare a baseline with augmentation arms over several seeds; write a report.

    Every arm's augmentation and evaluation is cached in --out, so running the same command
    again continues an interrupted experiment (or runs only arms added to the file). An arm
    whose plugin fails is marked failed and the others continue; the exit code is then 1.
    """
    import os

    from recaug_app.commands.common import continue_command, invoked_command
    from recaug_app.experiment import run_experiment
    from recaug_app.experiment_file import load_experiment
    from recaug_app.report import render, verdict_of
    from recaug_core.errors import Interrupted, RecaugError

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RecaugError(
            "recaug run works in one process; give each experiment its own GPU "
            "(CUDA_VISIBLE_DEVICES) instead of `accelerate launch` with several processes"
        )
    experiment = load_experiment(experiment_file, data_ref=data_ref)
    out_dir = Path(out)

    def echo(message: str) -> None:
        click.echo(message, err=True)

    checkpoint = None if no_report else PartialReports(out_dir, render)
    try:
        results = run_experiment(
            experiment, out_dir, echo, invoked_command(), mixed_precision, checkpoint
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; {out_dir} keeps every finished arm and seed: to continue, run "
            f"the same command again: {continue_command()}"
        ) from None
    if not no_report:
        render(out_dir, results)
        echo(f"report: {out_dir / 'report.md'} and {out_dir / 'report.html'}")
    verdict = verdict_of(results)
    failures = results.failed_arms()
    if as_json:
        echo_json(_as_json(out_dir, results, verdict, failures, not no_report))
    else:
        echo(verdict.sentence)
        for arm, stage, error in failures:
            echo(f"arm '{arm}' failed in {stage}: {error}")
        click.echo(str(out_dir / "results.json"))
    if failures:
        raise click.exceptions.Exit(1)


def _as_json(
    out: Path, results: Any, verdict: Any, failures: list[tuple[str, str, str]], report: bool
) -> dict[str, Any]:
    """What `recaug run --json` prints: enough to act on without opening results.json."""
    return {
        "results": str(out / "results.json"),
        "report": [str(out / "report.md"), str(out / "report.html")] if report else None,
        "verdict": {
            "sentence": verdict.sentence,
            "helped": verdict.helped,
            "hurt": verdict.hurt,
            "mixed": verdict.mixed,
            "no_difference": verdict.no_difference,
            "untested": verdict.untested,
        },
        "failed_arms": [{"arm": a, "stage": s, "error": e} for a, s, e in failures],
        "summary": results.model_dump(mode="json")["summary"],
        "timings": results.timings,
    }
