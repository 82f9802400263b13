"""A deterministic synthetic world for demos and tests, needing no download.

Users have latent genre tastes; items have titles, genres, a short description, a release
year and an age rating; popularity follows a power law; histories have a long tail of
sparse users; each history is time-ordered with a sequential drift (users move from older to
newer items), so sequential recommenders have something to learn.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recaug_core import Dataset

GENRES = (
    "Drama",
    "Comedy",
    "Action",
    "Thriller",
    "Romance",
    "Sci-Fi",
    "Horror",
    "Documentary",
    "Animation",
    "Crime",
    "Fantasy",
    "Mystery",
)
_ADJECTIVES = (
    "Silent",
    "Golden",
    "Broken",
    "Hidden",
    "Last",
    "Crimson",
    "Distant",
    "Electric",
    "Frozen",
    "Wild",
    "Secret",
    "Burning",
    "Lonely",
    "Midnight",
    "Velvet",
    "Iron",
    "Paper",
    "Hollow",
    "Bright",
    "Savage",
    "Quiet",
    "Lucky",
    "Restless",
    "Ancient",
    "Northern",
    "Endless",
    "Little",
    "Fallen",
    "Wandering",
    "Shining",
    "Bitter",
    "Gentle",
)
_NOUNS = (
    "River",
    "Garden",
    "Empire",
    "Letter",
    "Harbor",
    "Machine",
    "Crown",
    "Orchard",
    "Station",
    "Forest",
    "Mirror",
    "Kingdom",
    "Voyage",
    "Island",
    "Signal",
    "Canyon",
    "Lantern",
    "Winter",
    "Circus",
    "Engine",
    "Frontier",
    "Shadow",
    "Comet",
    "Bridge",
    "Desert",
    "Melody",
    "Fortress",
    "Horizon",
    "Tide",
    "Archive",
    "Carnival",
    "Summit",
)
_SUBJECTS = {
    "Drama": "a family torn between duty and desire",
    "Comedy": "two hapless friends and one terrible plan",
    "Action": "a relentless chase across three cities",
    "Thriller": "a witness who knows too much",
    "Romance": "strangers who keep meeting by chance",
    "Sci-Fi": "a crew stranded beyond the known stars",
    "Horror": "a house that remembers its guests",
    "Documentary": "the people who keep a small town running",
    "Animation": "a brave little inventor and her robot",
    "Crime": "a heist that goes wrong in every way",
    "Fantasy": "a reluctant heir to a forgotten magic",
    "Mystery": "a detective chasing a vanished painter",
}
_COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "NG", "MX", "SE")
_EPOCH_START = 1_420_070_400  # 2015-01-01
_DAY = 86_400


def demo_world(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 30_000,
    seed: int = 0,
) -> Dataset:
    """Build the demo dataset; the same arguments always give the same tables."""
    if n_items > len(_ADJECTIVES) * len(_NOUNS):
        raise ValueError(f"demo supports at most {len(_ADJECTIVES) * len(_NOUNS)} items")
    rng = np.random.default_rng(seed)
    items, item_genres, popularity, year_rank = _items(rng, n_items)
    users, taste = _users(rng, n_users)
    lengths = _history_lengths(rng, n_users, n_items, n_interactions)

    # Preference = taste for the item's genres x power-law popularity, sampled without
    # replacement per user with the Gumbel-top-k trick (one sort for everybody).
    affinity = taste @ item_genres.T
    logits = 2.0 * np.log(affinity + 1e-3) + np.log(popularity)
    noisy = logits + rng.gumbel(size=logits.shape)
    ranked = np.argsort(-noisy, axis=1)
    keep = np.arange(n_items)[None, :] < lengths[:, None]
    user_idx = np.repeat(np.arange(n_users), lengths)
    item_idx = ranked[keep]

    # Time order drifts from older to newer items, with noise: a sequential signal.
    order_key = year_rank[item_idx] + rng.normal(0.0, 0.25 * n_items, size=len(item_idx))
    order = np.lexsort((order_key, user_idx))
    user_idx, item_idx = user_idx[order], item_idx[order]
    starts = _EPOCH_START + rng.integers(0, 7 * 365 * _DAY, size=n_users)
    gaps = rng.exponential(_DAY, size=len(item_idx)).astype(np.int64) + 60
    first = np.r_[True, user_idx[1:] != user_idx[:-1]]
    gaps[first] = 0
    run = np.cumsum(gaps)
    run -= np.maximum.accumulate(np.where(first, run, 0))
    timestamps = starts[user_idx] + run

    pref = affinity[user_idx, item_idx]
    z = (pref - pref.mean()) / (pref.std() + 1e-9)
    ratings = np.clip(np.round(3.4 + 1.0 * z + rng.normal(0, 0.8, size=len(z))), 1, 5)

    user_ids = users.column("user_id").to_numpy(zero_copy_only=False)
    item_ids = items.column("item_id").to_numpy(zero_copy_only=False)
    interactions = pa.table(
        {
            "user_id": pa.array(user_ids[user_idx], pa.string()),
            "item_id": pa.array(item_ids[item_idx], pa.string()),
            "rating": pa.array(ratings, pa.float32()),
            "timestamp": pa.array(timestamps, pa.int64()),
        }
    )
    return Dataset(interactions, items=items, users=users, name="demo")


def _items(rng: np.random.Generator, n: int) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    n_genres = len(GENRES)
    genre_weights = rng.dirichlet(np.full(n_genres, 2.0))
    primary = rng.choice(n_genres, size=n, p=genre_weights)
    secondary = rng.choice(n_genres, size=n, p=genre_weights)
    has_second = (rng.random(n) < 0.5) & (secondary != primary)
    genres = np.zeros((n, n_genres))
    genres[np.arange(n), primary] = 1.0
    genres[np.arange(n)[has_second], secondary[has_second]] = 0.5

    combos = rng.choice(len(_ADJECTIVES) * len(_NOUNS), size=n, replace=False)
    years = rng.integers(1970, 2025, size=n)
    titles = [
        f"The {_ADJECTIVES[c // len(_NOUNS)]} {_NOUNS[c % len(_NOUNS)]} ({y})"
        for c, y in zip(combos, years)
    ]
    genre_text = [
        GENRES[p] + (f"|{GENRES[s]}" if two else "")
        for p, s, two in zip(primary, secondary, has_second)
    ]
    descriptions = [f"A {GENRES[p].lower()} about {_SUBJECTS[GENRES[p]]}." for p in primary]
    dark = np.isin(primary, [GENRES.index("Horror"), GENRES.index("Thriller")])
    min_age = np.where(rng.random(n) < np.where(dark, 0.35, 0.02), 18, 0)

    ranks = rng.permutation(n)
    popularity = (ranks + 1.0) ** -1.0
    year_rank = np.argsort(np.argsort(years, kind="stable"), kind="stable").astype(float)
    items = pa.table(
        {
            "item_id": pa.array([f"i{i:04d}" for i in range(1, n + 1)], pa.string()),
            "title": pa.array(titles, pa.string()),
            "genres": pa.array(genre_text, pa.string()),
            "description": pa.array(descriptions, pa.string()),
            "year": pa.array(years, pa.int32()),
            "min_age": pa.array(min_age, pa.int32()),
        }
    )
    return items, genres, popularity, year_rank


def _users(rng: np.random.Generator, n: int) -> tuple[pa.Table, np.ndarray]:
    taste = rng.dirichlet(np.full(len(GENRES), 0.3), size=n)
    ages = rng.integers(13, 71, size=n)
    countries = rng.choice(len(_COUNTRIES), size=n)
    users = pa.table(
        {
            "user_id": pa.array([f"u{u:04d}" for u in range(1, n + 1)], pa.string()),
            "age": pa.array(ages, pa.int32()),
            "country": pa.array([_COUNTRIES[c] for c in countries], pa.string()),
        }
    )
    return users, taste


def _history_lengths(
    rng: np.random.Generator, n_users: int, n_items: int, total: int
) -> np.ndarray:
    """Long-tailed history lengths (many sparse users) summing to about ``total``."""
    raw = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    lengths = np.round(raw / raw.mean() * total / n_users)
    return np.clip(lengths, 3, max(3, n_items // 2)).astype(np.int64)
