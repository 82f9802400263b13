"""``mode=pseudo-prior``: ASReP's pseudo-prior items (Liu et al., SIGIR 2021).

A SASRec trained on every user's *reversed* training history learns which item comes before
a sequence. For each target user it then predicts, one at a time, the item before the first
one (greedy: the most likely item the user has not got yet), prepends it and predicts again,
``k`` times. The network and its training loop are the `sasrec` backend's own
(``recaug_modelkit.sasrec``), with their default options.
"""

from __future__ import annotations

import numpy as np
import torch

from recaug_core import Context
from recaug_modelkit.sasrec.model import SASRec, windows
from recaug_modelkit.sasrec.options import SasrecModelOptions
from recaug_modelkit.sasrec.sequences import Sequences
from recaug_modelkit.sasrec.training import fit_sasrec

BATCH = 1024


def reversed_sequences(indptr: np.ndarray, items: np.ndarray) -> Sequences:
    """The same CSR sequences, each in reverse order."""
    lengths = np.diff(indptr)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(items)) - indptr[owner]
    return Sequences(indptr, items[indptr[owner] + lengths[owner] - 1 - position])


def train_reversed(
    backwards: Sequences, n_items: int, epochs: int, item_ids: list[str], ctx: Context
) -> SASRec:
    """SASRec on the reversed histories, ``epochs`` epochs (no validation: the strategy sees
    only the training split)."""
    options = SasrecModelOptions(epochs=epochs, patience=0)
    fitted = fit_sasrec(
        options,
        n_items=n_items,
        sequences=backwards,
        trainable=np.flatnonzero(backwards.lengths >= 2),
        validation=None,
        valid_histories=backwards,
        text_vectors=None,
        item_ids=item_ids,
        ctx=ctx,
        name="seq-pseudo-prior",
    )
    return fitted.model


def pseudo_priors(
    model: SASRec, backwards: Sequences, users: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """``[len(users), k]`` items to prepend (column 0 right before the first real item, column
    1 before that, ...) and the model's probability of each, given the reversed history and
    the items chosen before it. No item repeats one the user has."""
    width = model.config["max_len"]
    chosen = np.empty((len(users), k), dtype=np.int64)
    probability = np.empty((len(users), k), dtype=np.float32)
    flat = torch.as_tensor(backwards.items + 1, dtype=torch.long)
    model.eval()
    with torch.no_grad():
        for begin in range(0, len(users), BATCH):
            batch = users[begin : begin + BATCH]
            starts, lengths = backwards.rows(batch)
            tokens = windows(
                flat, torch.as_tensor(starts), torch.as_tensor(lengths), width
            )  # [b, width], the earliest real item in the last column
            owned = _owned(backwards, batch, model.config["n_items"])
            for step in range(k):
                scores = model.score_last(tokens).float()
                scores[owned] = float("-inf")
                log_p = torch.log_softmax(scores, dim=-1)
                best = scores.argmax(dim=-1)
                chosen[begin : begin + len(batch), step] = best.numpy()
                probability[begin : begin + len(batch), step] = (
                    log_p.gather(1, best[:, None]).exp()[:, 0].numpy()
                )
                owned[torch.arange(len(batch)), best] = True
                tokens = torch.cat([tokens[:, 1:], best[:, None] + 1], dim=1)
    return chosen, probability


def _owned(sequences: Sequences, users: np.ndarray, n_items: int) -> torch.Tensor:
    """``[len(users), n_items]`` True where the user already has the item."""
    starts, lengths = sequences.rows(users)
    row = np.repeat(np.arange(len(users)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    owned = torch.zeros(len(users), n_items, dtype=torch.bool)
    owned[row, sequences.items[np.repeat(starts, lengths) + offsets]] = True
    return owned
