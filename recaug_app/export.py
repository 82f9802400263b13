"""Export a run's split (with the augmented training part) as RecBole atomic files, CSV or Parquet.

RecBole reads ``NAME.train.inter``, ``NAME.valid.inter`` and ``NAME.test.inter`` when its
``benchmark_filename`` is ``[train, valid, test]``, so both toolkits see the very same split.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from recaug_core.data import Dataset
from recaug_core.errors import RecaugError
from recaug_core.files import confined, write_atomic, write_parquet
from recaug_core.split import Split

RECBOLE_TYPES = {"user_id": "token", "item_id": "token", "rating": "float", "timestamp": "float"}


def export_split(split: Split, train: Dataset, fmt: str, out: Path) -> list[Path]:
    """Write ``train`` (a split's training part, augmented or not) and the split's validation
    and test parts, and the items, as ``fmt`` into ``out``; returns the files written."""
    parts = {"train": train, "valid": split.valid, "test": split.test}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecaugError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    written: list[Path] = []
    if fmt == "recbole":
        name = out.name
        for part, data in parts.items():
            path = confined(out, f"{name}.{part}.inter")
            _write_recbole(path, _inter_columns(data))
            written.append(path)
        if train.items is not None:
            path = confined(out, f"{name}.item")
            _write_recbole(path, train.items)
            written.append(path)
        return written
    for part, data in parts.items():
        path = confined(out, f"{part}.{'csv' if fmt == 'csv' else 'parquet'}")
        _write_table(path, data.interactions, fmt)
        written.append(path)
    if train.items is not None:
        path = confined(out, f"items.{'csv' if fmt == 'csv' else 'parquet'}")
        _write_table(path, train.items, fmt)
        written.append(path)
    return written


def _inter_columns(data: Dataset) -> pa.Table:
    table = data.interactions.select(["user_id", "item_id", "rating", "timestamp"])
    keep = [c for c in table.column_names if table.column(c).null_count < table.num_rows]
    return table.select(keep)


def _write_table(path: Path, table: pa.Table, fmt: str) -> None:
    if fmt == "parquet":
        write_parquet(path, table)
        return
    import pyarrow.csv as pcsv

    write_atomic(path, lambda tmp: pcsv.write_csv(table, tmp))


def _recbole_type(name: str, column: pa.ChunkedArray) -> str:
    if name in RECBOLE_TYPES:
        return RECBOLE_TYPES[name]
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return "float"
    return "token_seq"  # RecBole splits text features on spaces


def _write_recbole(path: Path, table: pa.Table) -> None:
    """Tab-separated with ``name:type`` headers; values holding tabs or newlines are refused."""
    import pyarrow.csv as pcsv

    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type):
            continue
        bad = pc.fill_null(pc.match_substring_regex(column, r"[\t\n\r\"]"), False)
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise RecaugError(
                f"cannot export to RecBole: column '{name}' row {row + 1} holds a tab, newline "
                "or quote, which its tab-separated format cannot represent; use --format parquet"
            )
    header = "\t".join(
        f"{name}:{_recbole_type(name, table.column(name))}" for name in table.column_names
    )
    options = pcsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write((header + "\n").encode())
            pcsv.write_csv(table, handle, write_options=options)

    write_atomic(path, write)
