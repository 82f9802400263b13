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


def training_sequences(
    train: Dataset, weights: np.ndarray | None = None
) -> tuple[Sequences, np.ndarray, np.ndarray | None]:
    """Every user's training sequence (real and synthetic rows: pseudo-users are extra
    sequences), the users with at least two items, the only ones that teach anything, and the
    rows' ``weights`` (a merge policy's, aligned with ``train.interactions``) in sequence
    order."""
    indptr, order = train.sequence_order()
    sequences = Sequences(indptr, train.codes()[1][order])
    ordered = None if weights is None else weights[order].astype(np.float32)
    return sequences, np.flatnonzero(sequences.lengths >= 2), ordered


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
