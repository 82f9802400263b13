"""`recaug export`: a run's train (augmented) / valid / test parts for other toolkits."""

from __future__ import annotations

from pathlib import Path

import click

from recaug_app.commands.common import folder_to_write


def register(cli: click.Group) -> None:
    cli.add_command(export_command)


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False), callback=folder_to_write)
@click.option("--format", "fmt", type=click.Choice(["recbole", "csv", "parquet"]), required=True)
@click.option(
    "--out", required=True, type=click.Path(), callback=folder_to_write, help="Folder to write."
)
@click.option(
    "--real-only", is_flag=True, help="Export the real training rows only (the baseline)."
)
def export_command(run_dir: str, fmt: str, out: str, real_only: bool) -> None:
    """Write RUN_DIR's augmented training part, validation and test parts, and items."""
    from recaug_app.export import export_split
    from recaug_core.augmentation import read_augmentation

    run = read_augmentation(run_dir)
    train = run.split.train if real_only else run.augmented
    written = export_split(run.split, train, fmt, Path(out))
    for path in written:
        click.echo(str(path))
