"""The `pop` sanity baseline keeps every backend promise and ranks by popularity."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from recaug_core import Context, synthetic_table
from recaug_core.testing import BackendContract, tiny_split


class TestPopContract(BackendContract):
    component_name = "pop"


class TestPopRealOnlyContract(BackendContract):
    component_name = "pop"
    options: ClassVar[dict[str, Any]] = {"count": "real"}


def test_ranks_items_by_training_popularity(tmp_path: Path) -> None:
    split = tiny_split()
    model = TestPopContract().make()
    model.fit(split.train, Context(work_dir=tmp_path, show_progress=False))
    top = model.recommend(np.arange(2), 3)[0]
    counts = split.train.item_popularity()
    assert counts[top].tolist() == sorted(counts, reverse=True)[:3]


def test_real_only_ignores_synthetic_rows(tmp_path: Path) -> None:
    split = tiny_split()
    rare = split.train.item_index.ids[int(np.argmin(split.train.item_popularity()))].as_py()
    fake = synthetic_table(["u-syn"] * 1, [rare], "flood")
    fake = pa.concat_tables([fake] * 500)
    train = split.train.with_interactions(
        pa.concat_tables([split.train.interactions, fake]), extend_users=True
    )
    ctx = Context(work_dir=tmp_path, show_progress=False)
    everything, real = TestPopContract().make(), TestPopContract().make(count="real")
    everything.fit(train, ctx)
    real.fit(train, ctx)
    rare_index = train.item_index.indices([rare])[0]
    assert everything.recommend(np.arange(1), 1)[0, 0] == rare_index
    assert real.recommend(np.arange(1), 1)[0, 0] != rare_index
