"""`recaug data info`: what a dataset holds."""

from __future__ import annotations

from typing import Any

import click

from recaug_app.commands.common import data_options, echo_json, load_from_cli


def register(cli: click.Group) -> None:
    cli.add_command(data_group)


@click.group("data")
def data_group() -> None:
    """Inspect datasets."""


@data_group.command("info")
@data_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_command(as_json: bool, **data_args: Any) -> None:
    """Counts, density, history-length and popularity quantiles, text columns."""
    from recaug_app.describe import describe
    from recaug_core.runtime import activity

    loaded = load_from_cli(**data_args)
    with activity(f"summarising {len(loaded.dataset):,} interactions"):
        summary = describe(loaded.dataset)
    summary["source"] = loaded.info
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"{summary['name']}: {summary['interactions']} interactions, "
        f"{summary['users']} users, {summary['items']} items "
        f"(density {summary['density']:.4%}), read by source '{loaded.info['source']}'"
    )
    for key in ("user_length", "item_popularity"):
        quantiles = ", ".join(f"{q}: {v:g}" for q, v in summary[f"{key}_quantiles"].items())
        click.echo(f"  {key.replace('_', ' ')} quantiles  {quantiles}")
    if summary["rating"]:
        r = summary["rating"]
        click.echo(
            f"  ratings  {r['rated']} rated, mean {r['mean']:.3f}, range {r['min']:g}..{r['max']:g}"
        )
    if summary["time"]:
        click.echo(f"  time  {summary['time']['first']} .. {summary['time']['last']}")
    else:
        click.echo("  time  none (no time column: temporal splits are unavailable)")
    click.echo(f"  item text columns  {', '.join(summary['item_text_columns']) or 'none'}")
    click.echo(f"  user columns  {', '.join(summary['user_columns']) or 'none'}")
    if summary["extra_columns"]:
        click.echo(f"  other interaction columns  {', '.join(summary['extra_columns'])}")
