"""What every lora-gen extension run must hold, read back from its folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq


def extension_rows(out: Path) -> pd.DataFrame:
    """The run's synthetic rows, after checking that each is a catalog item the user did not
    already have in training."""
    rows = pq.read_table(out / "synthetic.parquet").to_pandas()
    split = pq.read_table(out / "split.parquet").to_pandas()
    catalog = set(pq.read_table(out / "items.parquet").column("item_id").to_pylist())
    assert len(rows) and set(rows["item_id"]) <= catalog
    train = split[split["split"] == "train"]
    owned = set(zip(train["user_id"], train["item_id"]))
    assert not owned & set(zip(rows["user_id"], rows["item_id"])), "an item the user already has"
    return rows
