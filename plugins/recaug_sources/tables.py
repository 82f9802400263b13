"""`table`: interactions from CSV, TSV, Parquet or JSON-lines files (or a folder of them).

Column names are matched to recaug's (``user_id``, ``item_id``, ``rating``, ``timestamp``)
through common aliases or explicit options (``-s user=userId``). A folder may hold
``interactions.*`` with optional ``items.*`` and ``users.*`` beside it. Text files may be
compressed (``.csv.gz``, ``.jsonl.bz2``).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import Field, field_validator

from recaug_core import (
    DataError,
    Dataset,
    DataSource,
    normalize_entity_table,
    normalize_interactions,
)
from recaug_sources.columns import (
    ALIASES,
    ColumnOptions,
    column_mapping,
    find_alias,
    normalize_rows,
    rename,
    timestamps_to_seconds,
)
from recaug_sources.jsonlines import read_jsonl
from recaug_sources.readers import (
    Delimited,
    LineOf,
    check_file,
    first_line,
    logical_suffix,
    read_delimited,
    reading,
)

Format = Literal["csv", "tsv", "parquet", "jsonl"]
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


class TableOptions(ColumnOptions):
    format: Format | None = Field(
        default=None, description="csv, tsv, parquet or jsonl (default: from the extension)"
    )
    delimiter: str | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description="field delimiter of delimited text (default: ',' for csv, tab for tsv)",
    )
    header: bool = Field(
        default=True, description="whether delimited text starts with a header row"
    )
    columns: list[str] | None = Field(
        default=None, description="column names of delimited text when header=false"
    )
    encoding: str = Field(
        default="utf-8", description="text encoding of delimited files (e.g. latin-1)"
    )
    items: str | None = Field(
        default=None, description="file with item metadata (item_id, title...)"
    )
    users: str | None = Field(default=None, description="file with user metadata")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError("unknown text encoding (try utf-8 or latin-1)") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_plain_character(cls, value: str | None) -> str | None:
        # pyarrow takes one ASCII character; a quote or line break cannot separate fields
        if value is not None and not (value == "\t" or (" " <= value <= "~" and value != '"')):
            raise ValueError("must be one ASCII character such as , ; | or a tab")
        return value


class TableSource(DataSource):
    name = "table"
    description = (
        "CSV, TSV, Parquet or JSON-lines files, or a folder with interactions/items/users."
    )
    Options = TableOptions
    options: TableOptions
    priority = -10  # generic: a specific reader of the same path wins

    @classmethod
    def can_load(cls, ref: str) -> bool:
        path = Path(ref)
        if path.is_dir():
            return folder_file(path, "interactions") is not None
        return logical_suffix(path) in EXTENSIONS

    def load(self, ref: str) -> Dataset:
        path = Path(ref)
        items_path = Path(self.options.items) if self.options.items else None
        users_path = Path(self.options.users) if self.options.users else None
        if path.is_dir():
            main = folder_file(path, "interactions")
            if main is None:
                raise DataError(
                    "folder holds no interactions.csv/.tsv/.parquet/.jsonl", file=str(path)
                )
            items_path = items_path or folder_file(path, "items")
            users_path = users_path or folder_file(path, "users")
            path = main
        interactions = self.read_interactions(path)
        items = self.read_entity(items_path, "item_id", "items")
        users = self.read_entity(users_path, "user_id", "users")
        return Dataset(interactions, items=items, users=users, name=dataset_name(path))

    def read_interactions(self, path: Path) -> pa.Table:
        wanted = self.options.wanted()
        id_columns = {c for c in (wanted["user_id"], wanted["item_id"]) if c is not None}
        table, line_of = self.read(path, id_columns=id_columns)
        _hint_delimiter(table, path, self._format(path))  # before the missing columns' message
        table = rename(table, column_mapping(table.column_names, wanted, file=str(path)))
        table = timestamps_to_seconds(table, self.options.time_unit)
        if line_of is None:
            return normalize_rows(table, where=str(path))
        return normalize_interactions(table, file=str(path), line_of=line_of)

    def read_entity(self, path: Path | None, key: str, what: str) -> pa.Table | None:
        if path is None:
            return None
        table, line_of = self.read(path, metadata=True)
        if key not in table.column_names:
            found = find_alias(table.column_names, key)
            if found is not None:
                table = rename(table, {found: key})
        if line_of is None:
            try:
                return normalize_entity_table(table, key, what=what)
            except DataError as error:
                raise DataError(
                    error.reason, file=str(path), row=error.row, column=error.column
                ) from None
        return normalize_entity_table(table, key, what=what, file=str(path), line_of=line_of)

    def _format(self, path: Path, *, from_path: bool = False) -> Format:
        fmt = None if from_path else self.options.format
        fmt = fmt or EXTENSIONS.get(logical_suffix(path))
        if fmt is None:
            raise DataError(
                f"unknown file type '{''.join(path.suffixes) or path.name}' "
                f"(expected one of {', '.join(sorted(EXTENSIONS))}); "
                "pass -s format=csv|tsv|parquet|jsonl",
                file=str(path),
            )
        return fmt

    def read(
        self,
        path: Path,
        *,
        metadata: bool = False,
        id_columns: set[str] | frozenset[str] = frozenset(),
    ) -> tuple[pa.Table, LineOf | None]:
        """One file as a table, and row -> line (None for Parquet, which has rows only).

        The layout options (format, delimiter, header, columns) describe the interactions
        file; ``metadata`` files (items, users) are read by their extension, with a header.
        """
        check_file(path)
        fmt = self._format(path, from_path=metadata)
        if fmt == "parquet":
            return read_parquet(path), None
        if fmt == "jsonl":
            return read_jsonl(path)
        options = self.options if not metadata else TableOptions(encoding=self.options.encoding)
        layout = Delimited(
            delimiter=options.delimiter or ("\t" if fmt == "tsv" else ","),
            header=options.header,
            names=options.columns,
            encoding=options.encoding,
            types_for=lambda names: {
                name: pa.string() for name in names if name in id_columns or is_id_column(name)
            },
        )
        if not options.header and not options.columns:
            raise DataError(
                "option header=false needs the column names: pass -s columns=user,item,rating",
                file=str(path),
            )
        return read_delimited(path, layout)


def dataset_name(path: Path) -> str:
    name = path.name
    for suffix in reversed(path.suffixes):
        name = name.removesuffix(suffix)
    return name or path.name


def folder_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem.<known extension>`` (possibly compressed), if there is one."""
    for suffix in EXTENSIONS:
        for compression in ("", ".gz", ".bz2"):
            candidate = folder / f"{stem}{suffix}{compression}"
            if candidate.is_file():
                return candidate
    return None


def is_id_column(name: str) -> bool:
    """Columns read as text, so ids such as ``007`` keep their zeros."""
    lowered = name.lower()
    return (
        lowered in ALIASES["user_id"]
        or lowered in ALIASES["item_id"]
        or lowered.endswith("id")
        or lowered.endswith("asin")
    )


def read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    with reading(path):
        try:
            return pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(
                f"not a readable Parquet file ({first_line(exc)})", file=str(path)
            ) from None


def _hint_delimiter(table: pa.Table, path: Path, fmt: Format) -> None:
    """A file read with the wrong delimiter has one column named like 'user;item;rating'."""
    if fmt not in ("csv", "tsv") or "user_id" in table.column_names or table.num_columns != 1:
        return
    header = table.column_names[0]
    for delimiter, shown in (
        ("\t", "tabs"),
        (";", "semicolons"),
        ("|", "'|'"),
        (",", "commas"),
    ):
        if delimiter in header:
            raise DataError(
                f"the header has a single column {header!r}: the fields look separated by "
                f"{shown}: pass -s delimiter='{delimiter}'"
                + (" (or -s format=tsv)" if delimiter == "\t" else ""),
                file=str(path),
                line=1,
            )
