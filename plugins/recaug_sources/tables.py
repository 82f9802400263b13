"""`table`: interactions from CSV, TSV, Parquet or JSON-lines files (or a folder of them).

Column names are matched to recaug's (``user_id``, ``item_id``, ``rating``, ``timestamp``)
through common aliases or explicit options (``-s user=userId``). A folder may hold
``interactions.*`` with optional ``items.*`` and ``users.*`` beside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from recaug_core.api import DataSource, Options
from recaug_core.data import Dataset, normalize_entity_table, normalize_interactions
from recaug_core.errors import DataError

EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
ALIASES = {
    "user_id": ("user_id", "userid", "user", "uid", "user_id:token", "reviewerid", "customer_id"),
    "item_id": (
        "item_id",
        "itemid",
        "item",
        "iid",
        "movieid",
        "movie_id",
        "asin",
        "product_id",
        "track_id",
        "item_id:token",
        "news_id",
    ),
    "rating": ("rating", "ratings", "overall", "stars", "rating:float", "score_rating"),
    "timestamp": (
        "timestamp",
        "time",
        "ts",
        "unixreviewtime",
        "timestamp:float",
        "datetime",
        "date",
    ),
}
FOLDER_STEMS = ("interactions", "items", "users")


class TableOptions(Options):
    format: str | None = Field(
        default=None, description="csv, tsv, parquet or jsonl (default: by extension)"
    )
    delimiter: str | None = Field(default=None, description="field delimiter for delimited text")
    header: bool = Field(
        default=True, description="whether delimited text starts with a header row"
    )
    columns: list[str] | None = Field(default=None, description="column names when header=false")
    user: str | None = Field(default=None, description="column holding user ids")
    item: str | None = Field(default=None, description="column holding item ids")
    rating: str | None = Field(default=None, description="column holding ratings")
    timestamp: str | None = Field(default=None, description="column holding times (seconds or ISO)")
    items: str | None = Field(
        default=None, description="file with item metadata (item_id, title...)"
    )
    users: str | None = Field(default=None, description="file with user metadata")


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
            return _folder_file(path, "interactions") is not None
        return path.suffix.lower() in EXTENSIONS

    def load(self, ref: str) -> Dataset:
        path = Path(ref)
        items_path = Path(self.options.items) if self.options.items else None
        users_path = Path(self.options.users) if self.options.users else None
        if path.is_dir():
            main = _folder_file(path, "interactions")
            if main is None:
                raise DataError("folder holds no interactions.csv/.tsv/.parquet/.jsonl", file=ref)
            items_path = items_path or _folder_file(path, "items")
            users_path = users_path or _folder_file(path, "users")
            path = main
        table, line_of = self.read(path)
        table = _rename(table, self._mapping(table.column_names, str(path)))
        table = _timestamps_to_seconds(table, str(path), line_of)
        interactions = normalize_interactions(table, file=str(path), line_of=line_of)
        items = self._entity(items_path, "item_id", "items")
        users = self._entity(users_path, "user_id", "users")
        return Dataset(interactions, items=items, users=users, name=path.stem)

    def _entity(self, path: Path | None, key: str, what: str) -> pa.Table | None:
        if path is None:
            return None
        table, line_of = self.read(path, format_from_path=True)
        if key not in table.column_names:
            found = _find_alias(table.column_names, key)
            if found is not None:
                table = table.rename_columns([key if c == found else c for c in table.column_names])
        return normalize_entity_table(table, key, what=what, file=str(path), line_of=line_of)

    def _mapping(self, names: list[str], file: str) -> dict[str, str]:
        wanted = {
            "user_id": self.options.user,
            "item_id": self.options.item,
            "rating": self.options.rating,
            "timestamp": self.options.timestamp,
        }
        mapping: dict[str, str] = {}
        for standard, explicit in wanted.items():
            if explicit is not None:
                if explicit not in names:
                    raise DataError(
                        f"option {standard.split('_')[0]}={explicit}: no such column "
                        f"(columns present: {', '.join(names)})",
                        file=file,
                    )
                mapping[explicit] = standard
            elif standard not in names:
                found = _find_alias(names, standard)
                if found is not None and found not in mapping:
                    mapping[found] = standard
        return mapping

    def read(
        self, path: Path, *, format_from_path: bool = False
    ) -> tuple[pa.Table, Callable[[int], int]]:
        """Read one file into a table and a function from row number to file line."""
        if not path.exists():
            raise DataError("file not found", file=str(path))
        fmt = None if format_from_path else self.options.format
        fmt = fmt or EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise DataError(
                f"unknown file type '{path.suffix}' "
                f"(expected one of {', '.join(sorted(EXTENSIONS))}); "
                "pass -s format=csv|tsv|parquet|jsonl",
                file=str(path),
            )
        if path.stat().st_size == 0:
            raise DataError("file is empty", file=str(path))
        if fmt == "parquet":
            return _read_parquet(path), lambda row: row + 1
        if fmt == "jsonl":
            return _read_jsonl(path), lambda row: row + 1
        delimiter = self.options.delimiter or ("\t" if fmt == "tsv" else ",")
        return _read_delimited(path, delimiter, self.options.header, self.options.columns)


def _folder_file(folder: Path, stem: str) -> Path | None:
    for suffix in EXTENSIONS:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _find_alias(names: list[str], standard: str) -> str | None:
    lowered = {name.lower(): name for name in names}
    for alias in ALIASES.get(standard, ()):
        if alias in lowered:
            return lowered[alias]
    return None


def _rename(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    # a column that is renamed onto an existing standard name replaces it
    clashing = [c for c in table.column_names if c in mapping.values() and c not in mapping]
    table = table.drop_columns(clashing)
    return table.rename_columns([mapping.get(c, c) for c in table.column_names])


def _timestamps_to_seconds(table: pa.Table, file: str, line_of: Callable[[int], int]) -> pa.Table:
    if "timestamp" not in table.column_names:
        return table
    column = table.column("timestamp")
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        seconds = column.cast(pa.timestamp("s")).cast(pa.int64())
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        trimmed = pc.utf8_trim_whitespace(column)
        if pc.all(pc.fill_null(pc.utf8_is_digit(trimmed), True)).as_py():
            return table  # plain integers: the core cast handles them
        try:
            seconds = trimmed.cast(pa.timestamp("s")).cast(pa.int64())
        except pa.ArrowInvalid:
            return table  # the core cast names the first bad row
    else:
        return table
    index = table.column_names.index("timestamp")
    return table.set_column(index, "timestamp", seconds)


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"not a readable Parquet file ({_first_line(exc)})", file=str(path)
        ) from None


def _read_jsonl(path: Path) -> pa.Table:
    import pyarrow.json as pj

    try:
        return pj.read_json(path)
    except pa.ArrowInvalid as exc:
        line, reason = _locate_jsonl_problem(path)
        raise DataError(reason or _first_line(exc), file=str(path), line=line) from None


def _locate_jsonl_problem(path: Path) -> tuple[int | None, str | None]:
    """Find the first line that is not a JSON object, or that changes a field's type."""
    import json

    kinds: dict[str, str] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return number, "text is not valid UTF-8"
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                return number, f"not valid JSON ({exc.msg})"
            if not isinstance(value, dict):
                return number, f"expected a JSON object, got {type(value).__name__}"
            for key, field_value in value.items():
                kind = "null" if field_value is None else _json_kind(field_value)
                if kind == "null":
                    continue
                if kinds.setdefault(key, kind) != kind:
                    return number, f"field '{key}' is {kind} here but {kinds[key]} before"
    return None, None


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return "list" if isinstance(value, list) else "object"


def _read_delimited(
    path: Path, delimiter: str, header: bool, columns: list[str] | None
) -> tuple[pa.Table, Callable[[int], int]]:
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(
        column_names=columns if not header else None,
        autogenerate_column_names=not header and columns is None,
        block_size=1 << 24,
    )
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=False)
    names = _header(path, delimiter) if header else (columns or [])
    strings = {name: pa.string() for name in names}
    id_columns = {name: pa.string() for name in names if _is_id_column(name)}
    try:
        table = pcsv.read_csv(
            path,
            read_options=read,
            parse_options=parse,
            convert_options=pcsv.ConvertOptions(column_types=id_columns),
        )
    except pa.ArrowInvalid as exc:
        line, reason = _locate_delimited_problem(path, delimiter, header, len(names))
        if line is None and "conversion error" in str(exc):
            # A typed column failed: read everything as text and let validation name the row.
            table = pcsv.read_csv(
                path,
                read_options=read,
                parse_options=parse,
                convert_options=pcsv.ConvertOptions(column_types=strings),
            )
        else:
            raise DataError(reason or _first_line(exc), file=str(path), line=line) from None
    first_data_line = 2 if header else 1
    return table, _line_mapper(path, delimiter, first_data_line)


def _is_id_column(name: str) -> bool:
    lowered = name.lower()
    return lowered in ALIASES["user_id"] + ALIASES["item_id"] or lowered.endswith("id")


def _header(path: Path, delimiter: str) -> list[str]:
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("header is not valid UTF-8 text", file=str(path), line=1) from None
    return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])


def _locate_delimited_problem(
    path: Path, delimiter: str, header: bool, width: int
) -> tuple[int | None, str | None]:
    """Scan the file (error path only) for the first undecodable or ragged line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                return number, "text is not valid UTF-8"
            if not text.strip():
                continue
            fields = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
            if number == 1 and header:
                width = len(fields)
                continue
            if width and len(fields) != width:
                shown = "tab" if delimiter == "\t" else repr(delimiter)
                return number, (
                    f"expected {width} fields separated by {shown}, found {len(fields)}"
                )
    return None, None


def _line_mapper(path: Path, delimiter: str, first_data_line: int) -> Callable[[int], int]:
    """Row number -> file line, skipping blank lines as the reader does (error path only)."""

    def line_of(row: int) -> int:
        seen = -1
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number < first_data_line or not raw.strip():
                    continue
                seen += 1
                if seen == row:
                    return number
        return row + first_data_line

    return line_of


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
