"""`recaug report`: render report.md / report.html again from an experiment's results.json."""

from __future__ import annotations

from pathlib import Path

import click

from recaug_app.commands.common import folder_to_write


def register(cli: click.Group) -> None:
    cli.add_command(report_command)


@click.command("report")
@click.argument(
    "run_dir", metavar="RUN_DIR", type=click.Path(file_okay=False), callback=folder_to_write
)
def report_command(run_dir: str) -> None:
    """Re-render the report of `recaug run` from RUN_DIR/results.json."""
    from recaug_app.report import render
    from recaug_app.results import load_results

    folder = Path(run_dir)
    for path in render(folder, load_results(folder)):
        click.echo(str(path))
