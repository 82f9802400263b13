"""`recaug data info`: what a dataset holds."""

from __future__ import annotations

from typing import Any

import click

from recaug_core.commands.common import data_options, echo_json, load_from_cli

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


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
    loaded = load_from_cli(**data_args)
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
    click.echo(f"  item text columns  {', '.join(summary['item_text_columns']) or 'none'}")
    click.echo(f"  user columns  {', '.join(summary['user_columns']) or 'none'}")


def describe(dataset: Any) -> dict[str, Any]:
    import datetime

    import numpy as np
    import pyarrow.compute as pc

    from recaug_core.schema import STANDARD_COLUMNS

    lengths = dataset.user_lengths()
    popularity = dataset.item_popularity()
    lengths = lengths[lengths > 0]  # users listed in a users table but without interactions
    n, users, items = len(dataset), len(lengths), dataset.n_items
    rating = dataset.interactions.column("rating")
    time = dataset.interactions.column("timestamp")
    rating_info: dict[str, Any] = {}
    if rating.null_count < len(rating):
        rating_info = {
            "rated": len(rating) - rating.null_count,
            "mean": float(pc.mean(rating).as_py()),
            "min": float(pc.min(rating).as_py()),
            "max": float(pc.max(rating).as_py()),
        }
    time_info: dict[str, Any] = {}
    if time.null_count < len(time):
        first, last = pc.min(time).as_py(), pc.max(time).as_py()
        time_info = {
            "first": datetime.datetime.fromtimestamp(first, datetime.timezone.utc).isoformat(),
            "last": datetime.datetime.fromtimestamp(last, datetime.timezone.utc).isoformat(),
        }

    def quantiles(values: np.ndarray) -> dict[str, float]:
        if len(values) == 0:
            return {}
        return {f"{q:g}": float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))}

    return {
        "name": dataset.name,
        "interactions": n,
        "users": users,
        "items": items,
        "items_with_interactions": int((popularity > 0).sum()),
        "density": n / (users * items) if users and items else 0.0,
        "user_length_quantiles": quantiles(lengths),
        "item_popularity_quantiles": quantiles(popularity),
        "rating": rating_info,
        "time": time_info,
        "item_text_columns": dataset.text_columns(),
        "user_columns": [
            c
            for c in (dataset.users.column_names if dataset.users is not None else [])
            if c != "user_id"
        ],
        "extra_columns": [
            c for c in dataset.interactions.column_names if c not in STANDARD_COLUMNS
        ],
    }
