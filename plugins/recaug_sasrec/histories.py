"""The item sequences SASRec trains on, validates on and scores from (numpy, no torch).

All sequences are CSR ``(indptr, items)`` over ``train.user_index`` in time order, as
``Dataset.sequences`` builds them. Item indices are those of ``train.item_index``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recaug_core import Dataset
from recaug_modelkit.sasrec.sequences import Sequences


def sequences_of(data: Dataset) -> Sequences:
    indptr, items = data.sequences()
    return Sequences(indptr, items)


def training_sequences(train: Dataset) -> tuple[Sequences, np.ndarray]:
    """Every user's training sequence (real and synthetic rows: pseudo-users are extra
    sequences), and the users with at least two items, the only ones that teach anything."""
    sequences = sequences_of(train)
    return sequences, np.flatnonzero(sequences.lengths >= 2)


def scoring_histories(train: Dataset, valid: Dataset | None) -> Sequences:
    """Real training rows plus validation rows, in time order: under leave-one-out the test
    item is the next one after this history. Synthetic rows are training data only."""
    real = train.real()
    if valid is None or len(valid) == 0:
        return sequences_of(real)
    rows = _known_rows(train, valid.interactions)
    combined = pa.concat_tables([real.interactions, rows], promote_options="default")
    return sequences_of(train.with_interactions(combined))


def _known_rows(train: Dataset, rows: pa.Table) -> pa.Table:
    """The rows whose user and item the training indexes know."""
    users = train.user_index.lookup(rows.column("user_id"))
    items = train.item_index.lookup(rows.column("item_id"))
    return rows.filter(pa.array((users >= 0) & (items >= 0)))
