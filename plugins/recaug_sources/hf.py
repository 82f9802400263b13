"""`hf`: Hugging Face ``datasets``: ``hf:NAME[:CONFIG]`` or a folder saved with ``save_to_disk``.

``hf:NAME`` goes through ``datasets.load_dataset`` (a Hub dataset, a local folder of data
files, or one csv/json/parquet file); a folder written by ``save_to_disk`` is opened with
``load_from_disk``, memory-mapped. Columns are matched like the ``table`` source's. The
``datasets`` library is imported only when such a dataset is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import Field

from recaug_core import DataError, Dataset, DataSource, RecaugError, normalize_entity_table
from recaug_sources.columns import (
    ColumnOptions,
    find_alias,
    map_columns,
    normalize_rows,
    rename,
    timestamps_to_seconds,
)
from recaug_sources.readers import first_line, logical_suffix

PREFIX = "hf:"
# data files that load_dataset reads with one of its packaged builders
BUILDERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".txt": "text",
}


class HFOptions(ColumnOptions):
    split: str = Field(default="train", description="which split of the dataset to read")
    items: str | None = Field(
        default=None,
        description="another dataset (hf:NAME[:CONFIG] or a saved folder) with item metadata",
    )
    revision: str | None = Field(
        default=None, description="Hub revision (branch, tag or commit) of hf:NAME"
    )
    cache_dir: str | None = Field(
        default=None, description="where load_dataset caches (default: the datasets cache)"
    )


class HFSource(DataSource):
    name = "hf"
    description = "Hugging Face datasets: hf:NAME[:CONFIG] or a folder saved with save_to_disk."
    Options = HFOptions
    options: HFOptions
    priority = 10

    @classmethod
    def can_load(cls, ref: str) -> bool:
        return ref.startswith(PREFIX) or is_saved_dataset(Path(ref))

    def load(self, ref: str) -> Dataset:
        table = self._read(ref, split=self.options.split, only_split=False)
        table = map_columns(table, self.options.wanted(), file=ref)
        table = timestamps_to_seconds(table, self.options.time_unit)
        interactions = normalize_rows(table, where=ref)
        items = self._items(self.options.items) if self.options.items else None
        return Dataset(interactions, items=items, name=_dataset_name(ref))

    def _items(self, ref: str) -> pa.Table:
        # item metadata often sits in a single split with another name ("full")
        table = self._read(ref, split=self.options.split, only_split=True)
        key = self.options.item
        if key is None or key not in table.column_names:
            key = (
                "item_id"
                if "item_id" in table.column_names
                else find_alias(table.column_names, "item_id")
            )
        if key is None:
            raise DataError(
                "found no item id column in the item metadata (columns present: "
                f"{', '.join(table.column_names)}); name it with -s item=COLUMN",
                file=ref,
            )
        try:
            return normalize_entity_table(rename(table, {key: "item_id"}), "item_id", what="items")
        except DataError as error:
            raise DataError(error.reason, file=ref, row=error.row, column=error.column) from None

    def _read(self, ref: str, *, split: str, only_split: bool) -> pa.Table:
        dataset = self._open(ref)
        if isinstance(dataset, dict):  # a DatasetDict
            splits = list(dataset)
            if split in dataset:
                dataset = dataset[split]
            elif only_split and len(splits) == 1:
                dataset = dataset[splits[0]]
            else:
                raise RecaugError(
                    f"{ref}: no split '{split}' (splits: {', '.join(splits)}); pass -s split=NAME"
                )
        table = dataset.with_format("arrow")[:]
        if table.num_rows == 0:
            raise DataError("the dataset has no rows", file=ref)
        return table

    def _open(self, ref: str) -> Any:
        """A ``datasets.Dataset`` or ``DatasetDict`` (errors become one sentence)."""
        import datasets

        body = ref.removeprefix(PREFIX)
        if not body.strip():
            raise RecaugError(f"{ref!r}: expected hf:NAME, hf:NAME:CONFIG or a saved folder")
        path = Path(body)
        try:
            if is_saved_dataset(path):
                return datasets.load_from_disk(str(path))
            if path.is_file():
                builder = BUILDERS.get(logical_suffix(path))
                if builder is None:
                    raise RecaugError(
                        f"{ref}: load_dataset cannot read '{path.suffix}' files "
                        f"(it reads {', '.join(sorted(BUILDERS))})"
                    )
                return datasets.load_dataset(
                    builder, data_files=str(path), cache_dir=self.options.cache_dir
                )
            name, config = (body, None) if path.exists() else _name_and_config(body)
            return datasets.load_dataset(
                name, config, revision=self.options.revision, cache_dir=self.options.cache_dir
            )
        except RecaugError:
            raise
        except Exception as exc:  # the library's many errors all mean "cannot load this"
            raise RecaugError(
                f"{ref}: could not load the dataset ({type(exc).__name__}: {first_line(exc)})"
            ) from None


def _name_and_config(body: str) -> tuple[str, str | None]:
    name, _, config = body.partition(":")
    if not name:
        raise RecaugError(f"{PREFIX}{body}: expected hf:NAME or hf:NAME:CONFIG")
    return name, config or None


def is_saved_dataset(path: Path) -> bool:
    """A folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    if not path.is_dir():
        return False
    if (path / "dataset_dict.json").is_file():
        return True
    return (path / "state.json").is_file() and (path / "dataset_info.json").is_file()


def _dataset_name(ref: str) -> str:
    body = ref.removeprefix(PREFIX)
    path = Path(body)
    if path.exists():
        return path.resolve().name
    name, config = _name_and_config(body)
    return f"{name.rsplit('/', 1)[-1]}" + (f"-{config}" if config else "")
