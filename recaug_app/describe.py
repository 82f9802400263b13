"""What a dataset holds, in numbers (`recaug data info`)."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pyarrow.compute as pc

from recaug_core.data import Dataset
from recaug_core.schema import STANDARD_COLUMNS

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


def describe(dataset: Dataset) -> dict[str, Any]:
    """Counts, density, quantiles of history lengths and item popularity, ratings, time span
    and the text and extra columns of ``dataset``."""
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
