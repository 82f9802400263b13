"""`vae` backend: Mult-VAE ranks items by the decoder's probability for a user's history.

Imported at plugin registration, so no torch at module level: training lives in
``recaug_vae.training``, imported by ``fit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recaug_core import Context, Dataset, Recommender
from recaug_vae.options import VaeBackendOptions


class VaeBackend(Recommender):
    name = "vae"
    description = "Mult-VAE: a variational autoencoder over users' item sets (Liang et al. 2018)."
    Options = VaeBackendOptions
    options: VaeBackendOptions
    merge_policies = frozenset({"concat", "weighted", "pretrain"})

    def fit(self, train: Dataset, ctx: Context, valid: Dataset | None = None) -> None:
        import scipy.sparse as sp

        from recaug_core import RankingTask, pair_weights, training_phases
        from recaug_vae.training import fit_vae

        seed = self.options.training_seed(ctx)
        task = RankingTask.for_validation(train, valid)
        phases = training_phases(train, ctx.merge)
        model = None
        history: list[dict[str, float]] = []
        for phase in phases:
            # Synthetic rows are training rows like real ones (a synthetic user is one more
            # row), weighted as the merge policy says.
            users, items, weights = pair_weights(phase)
            values = np.ones(len(users), np.float32) if weights is None else weights
            shape = (train.n_users, train.n_items)
            self.matrix_ = sp.csr_matrix((values, (users, items)), shape=shape)
            fitted = fit_vae(
                self.matrix_,
                self.options,
                ctx,
                seed,
                task=task,
                patience=self.options.patience,
                init=model,
                phase="" if len(phases) == 1 else phase.name,
            )
            model, history = fitted.model, history + fitted.history
        self.model_: Any = model
        self.training_ = {
            "seed": seed,
            "epochs_run": fitted.epochs_run,
            "best_epoch": fitted.best_epoch,
            "best_valid_ndcg@10": fitted.best_valid,
            "history": history,
        }

    def score(self, users: np.ndarray) -> np.ndarray:
        """Log-probabilities of the decoder (same order as probabilities, never -inf)."""
        from recaug_vae.training import log_probabilities

        return log_probabilities(self.model_, self.matrix_, np.asarray(users, dtype=np.int64))
