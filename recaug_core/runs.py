"""Reading a run folder back: its split, its augmented training set, its catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from recaug_core.data import Dataset
from recaug_core.errors import RecaugError
from recaug_core.files import read_parquet
from recaug_core.runfolder import read_manifest
from recaug_core.schema import normalize_interactions
from recaug_core.split import SPLIT_COLUMN, Split, SplitSpec


@dataclass
class Run:
    folder: Path
    manifest: dict[str, Any]
    split: Split
    augmented: Dataset  # real training rows + kept synthetic rows, same indexes as the split


def load_run(folder: str | Path) -> Run:
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("status") != "done":
        raise RecaugError(f"{folder}: the run is not finished (status {manifest.get('status')!r})")
    table = read_parquet(folder / "split.parquet")
    items = read_parquet(folder / "items.parquet")
    users_path = folder / "users.parquet"
    users = read_parquet(users_path) if users_path.exists() else None
    full = Dataset(
        table.drop_columns([SPLIT_COLUMN]),
        items=items,
        users=users,
        name=str(manifest.get("data", {}).get("ref", folder.name)),
    )
    spec_fields = manifest.get("fingerprint", {}).get("split", {})
    spec = SplitSpec(**spec_fields) if spec_fields else SplitSpec()
    split = Split.from_table(table, full, spec, int(manifest.get("seed", 0)))
    augmented_rows = normalize_interactions(read_parquet(folder / "augmented.parquet"))
    _check_train_matches(split, augmented_rows, folder)
    augmented = split.train.with_interactions(augmented_rows, extend_users=True)
    return Run(folder, manifest, split, augmented)


def _check_train_matches(split: Split, augmented: pa.Table, folder: Path) -> None:
    import pyarrow.compute as pc

    real = augmented.filter(pc.equal(augmented.column("origin"), "real"))
    if real.num_rows != len(split.train):
        raise RecaugError(
            f"{folder}: augmented.parquet holds {real.num_rows} real rows but the split's "
            f"training part has {len(split.train)}; the run folder is inconsistent"
        )
