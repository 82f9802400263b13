"""`recbole`: RecBole atomic files (``NAME.inter`` with optional ``NAME.item`` / ``NAME.user``).

Atomic files are tab-separated with a ``name:type`` header (``user_id:token``,
``rating:float``, ``movie_title:token_seq``). The ``:type`` suffixes are stripped into plain
column names; ``token`` and ``token_seq`` columns are read as text (a token_seq stays one
space-separated string), ``float`` columns as numbers.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from recaug_core import (
    DataError,
    Dataset,
    DataSource,
    normalize_entity_table,
    normalize_interactions,
)
from recaug_sources.columns import (
    ColumnOptions,
    column_mapping,
    rename,
    timestamps_to_seconds,
)
from recaug_sources.readers import Delimited, LineOf, read_delimited, read_header

FIELD_TYPES: dict[str, pa.DataType] = {
    "token": pa.string(),
    "token_seq": pa.string(),
    "float": pa.float64(),
    "float_seq": pa.string(),
}
_LAYOUT = Delimited(delimiter="\t", quoting=False)


class RecBoleOptions(ColumnOptions):
    """Column names after the ``:type`` suffix is stripped (default: RecBole's standard
    user_id, item_id, rating, timestamp, else a common alias)."""


class RecBoleSource(DataSource):
    name = "recbole"
    description = "RecBole atomic files: a folder or NAME.inter, with NAME.item / NAME.user."
    Options = RecBoleOptions
    options: RecBoleOptions
    priority = 10

    @classmethod
    def can_load(cls, ref: str) -> bool:
        path = Path(ref)
        if path.is_dir():
            return any(path.glob("*.inter"))
        return path.suffix.lower() == ".inter"

    def load(self, ref: str) -> Dataset:
        inter = inter_file(Path(ref))
        table, line_of = read_atomic(inter)
        mapping = column_mapping(table.column_names, self.options.wanted(), file=str(inter))
        table = timestamps_to_seconds(rename(table, mapping), self.options.time_unit)
        interactions = normalize_interactions(table, file=str(inter), line_of=line_of)
        keys = {standard: original for original, standard in mapping.items()}
        items = _entity(inter.with_suffix(".item"), keys.get("item_id", "item_id"), "item_id")
        users = _entity(inter.with_suffix(".user"), keys.get("user_id", "user_id"), "user_id")
        return Dataset(interactions, items=items, users=users, name=inter.stem)


def inter_file(path: Path) -> Path:
    """The ``.inter`` file of a folder (``folder/NAME.inter``) or the path itself."""
    if not path.is_dir():
        return path
    named = path / f"{path.name}.inter"
    if named.is_file():
        return named
    found = sorted(path.glob("*.inter"))
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise DataError(
            f"expected one .inter file in the folder, found {len(found)} ({listed}); "
            "pass the .inter file itself",
            file=str(path),
        )
    return found[0]


def read_atomic(path: Path) -> tuple[pa.Table, LineOf]:
    """An atomic file with its ``:type`` suffixes stripped from the column names."""
    plain: list[str] = []
    types: dict[str, pa.DataType] = {}
    for header in read_header(path, _LAYOUT):
        name, sep, kind = header.rpartition(":")
        if not sep or kind not in FIELD_TYPES or not name:
            raise DataError(
                f"header field {header!r} is not name:type with a type of {', '.join(FIELD_TYPES)}",
                file=str(path),
                line=1,
            )
        if name in plain:
            raise DataError(f"field '{name}' appears twice in the header", file=str(path), line=1)
        plain.append(name)
        types[header] = FIELD_TYPES[kind]
    table, line_of = read_delimited(path, Delimited(delimiter="\t", quoting=False, types=types))
    return table.rename_columns(plain), line_of


def _entity(path: Path, key: str, standard: str) -> pa.Table | None:
    if not path.is_file():
        return None
    table, line_of = read_atomic(path)
    what = "items" if standard == "item_id" else "users"
    if key not in table.column_names:
        raise DataError(
            f"{what} file has no '{key}' field (fields present: {', '.join(table.column_names)})",
            file=str(path),
            line=1,
        )
    table = rename(table, {key: standard})
    return normalize_entity_table(table, standard, what=what, file=str(path), line_of=line_of)
