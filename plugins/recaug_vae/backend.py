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

    def fit(self, train: Dataset, ctx: Context, valid: Dataset | None = None) -> None:
        from recaug_core import RankingTask
        from recaug_vae.training import fit_vae

        seed = self.options.training_seed(ctx)
        # Synthetic rows are training rows like real ones; a synthetic user is one more row.
        self.matrix_ = train.interaction_matrix()
        task = RankingTask.for_validation(train, valid)
        fitted = fit_vae(
            self.matrix_, self.options, ctx, seed, task=task, patience=self.options.patience
        )
        self.model_: Any = fitted.model
        self.training_ = {
            "seed": seed,
            "epochs_run": fitted.epochs_run,
            "best_epoch": fitted.best_epoch,
            "best_valid_ndcg@10": fitted.best_valid,
            "history": fitted.history,
        }

    def score(self, users: np.ndarray) -> np.ndarray:
        """Log-probabilities of the decoder (same order as probabilities, never -inf)."""
        from recaug_vae.training import log_probabilities

        return log_probabilities(self.model_, self.matrix_, np.asarray(users, dtype=np.int64))
