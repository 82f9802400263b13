"""`amazon`: Amazon reviews as JSON lines, the 2018 and the 2023 releases (McAuley lab).

- 2018: reviews with ``reviewerID``, ``asin``, ``overall``, ``unixReviewTime`` (seconds);
  metadata ``meta_NAME.json.gz`` keyed by ``asin`` (title, brand, category list...).
- 2023: reviews with ``user_id``, ``parent_asin``, ``rating``, ``timestamp`` (milliseconds);
  metadata ``meta_NAME.jsonl`` keyed by ``parent_asin`` (title, store, categories...).

Only the fields recaug uses are parsed (review text is skipped), in Arrow batches; gzip and
bzip2 files are decompressed as they are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from recaug_core import (
    DataError,
    Dataset,
    DataSource,
    Options,
    arrays,
    normalize_entity_table,
    normalize_interactions,
)
from recaug_sources.columns import timestamps_to_seconds
from recaug_sources.jsonlines import first_json_object, read_jsonl
from recaug_sources.readers import first_true, logical_suffix

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Release:
    """Where one release keeps each field."""

    user: str
    item: str
    rating: str
    time: str
    time_unit: Literal["s", "ms"]
    meta_text: tuple[str, ...]  # text fields of the metadata
    meta_lists: tuple[str, ...]  # list-of-text fields, joined into one text column

    def review_schema(self) -> pa.Schema:
        return pa.schema(
            [
                (self.user, pa.string()),
                (self.item, pa.string()),
                (self.rating, pa.float64()),
                (self.time, pa.float64()),
            ]
        )

    def meta_schema(self) -> pa.Schema:
        fields = [(self.item, pa.string())]
        fields += [(name, pa.string()) for name in self.meta_text]
        fields += [(name, pa.list_(pa.string())) for name in self.meta_lists]
        return pa.schema(fields)


RELEASES = {
    "2018": Release(
        user="reviewerID",
        item="asin",
        rating="overall",
        time="unixReviewTime",
        time_unit="s",
        meta_text=("title", "brand", "main_cat"),
        meta_lists=("category", "feature", "description"),
    ),
    "2023": Release(
        user="user_id",
        item="parent_asin",
        rating="rating",
        time="timestamp",
        time_unit="ms",
        meta_text=("title", "main_category", "store"),
        meta_lists=("categories", "features", "description"),
    ),
}


class AmazonOptions(Options):
    meta: str | None = Field(
        default=None,
        description="metadata file (default: meta_NAME.json[l][.gz] beside the reviews)",
    )
    release: Literal["auto", "2018", "2023"] = Field(
        default="auto", description="which release's field names (auto: from the first line)"
    )


class AmazonSource(DataSource):
    name = "amazon"
    description = "Amazon reviews JSON lines (2018 or 2023 release, .gz too) with metadata."
    Options = AmazonOptions
    options: AmazonOptions
    priority = 10

    @classmethod
    def can_load(cls, ref: str) -> bool:
        path = Path(ref)
        if path.is_dir():
            return bool(_review_files(path))
        return _release_of(path) is not None

    def load(self, ref: str) -> Dataset:
        path = Path(ref)
        reviews = _single_review_file(path) if path.is_dir() else path
        release = self._release(reviews)
        table, line_of = read_jsonl(reviews, release.review_schema())
        table = table.rename_columns(["user_id", "item_id", "rating", "timestamp"])
        table = timestamps_to_seconds(table, release.time_unit)
        interactions = normalize_interactions(table, file=str(reviews), line_of=line_of)
        meta = Path(self.options.meta) if self.options.meta else _meta_beside(reviews)
        items = _read_meta(meta, release) if meta is not None else None
        return Dataset(interactions, items=items, name=_base_name(reviews))

    def _release(self, reviews: Path) -> Release:
        if self.options.release != "auto":
            return RELEASES[self.options.release]
        found = _release_of(reviews)
        if found is None:
            raise DataError(
                "the first line is not an Amazon review (expected reviewerID and asin, or "
                "user_id and parent_asin); pass -s release=2018|2023 to insist",
                file=str(reviews),
                line=1,
            )
        return RELEASES[found]


def _release_of(path: Path) -> str | None:
    if not path.is_file() or logical_suffix(path) not in JSON_SUFFIXES:
        return None
    first = first_json_object(path)
    if first is None:
        return None
    for name, release in RELEASES.items():
        if release.user in first and release.item in first:
            return name
    return None


def _review_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("meta_") and _release_of(p))


def _single_review_file(folder: Path) -> Path:
    found = _review_files(folder)
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise DataError(
            f"expected one Amazon reviews file in the folder, found {len(found)} ({listed}); "
            "pass the file itself",
            file=str(folder),
        )
    return found[0]


def _base_name(reviews: Path) -> str:
    name = reviews.name
    for suffix in reversed(reviews.suffixes):
        name = name.removesuffix(suffix)
    return name


def _meta_beside(reviews: Path) -> Path | None:
    """``meta_Books.json.gz`` for ``Books.json.gz`` or the 5-core ``Books_5.json.gz``."""
    base = _base_name(reviews)
    for stem in (base, base.removesuffix("_5")):
        for candidate in sorted(reviews.parent.glob(f"meta_{stem}.*")):
            if logical_suffix(candidate) in JSON_SUFFIXES and candidate.is_file():
                return candidate
    return None


def _read_meta(path: Path, release: Release) -> pa.Table:
    table, line_of = read_jsonl(path, release.meta_schema())
    columns: dict[str, pa.ChunkedArray] = {"item_id": table.column(release.item)}
    for name in release.meta_text:
        columns[name] = table.column(name)
    for name in release.meta_lists:
        separator = " " if name == "description" else " | "
        columns[name] = pc.binary_join(table.column(name), separator)
    items = pa.table(columns)
    ids = items.column("item_id")
    if ids.null_count:
        row = first_true(ids.is_null())
        raise DataError("missing value", file=str(path), line=line_of(row), column=release.item)
    # Metadata files repeat some products: keep each id's first entry.
    codes = np.asarray(pc.index_in(ids, value_set=pc.unique(ids)).to_numpy(), dtype=np.int64)
    rows = np.flatnonzero(arrays.first_occurrences(codes))
    return normalize_entity_table(
        items.take(pa.array(rows)),
        "item_id",
        what="items",
        file=str(path),
        line_of=lambda row: line_of(int(rows[row])),
    )
