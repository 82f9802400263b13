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
        from recaug_modelkit.threads import cpu_threads, resolve_threads
        from recaug_vae.training import fit_vae, step_flops

        seed = self.options.training_seed(ctx)
        task = RankingTask.for_validation(train, valid)
        phases = training_phases(train, ctx.merge)
        model = None
        history: list[dict[str, float]] = []
        for phase in phases:
            # Synthetic rows are training rows like real ones (a synthetic user is one more
            # row), weighted as the merge policy says; a weight of 0 leaves the row out.
            users, items, weights = pair_weights(phase)
            values = np.ones(len(users), np.float32) if weights is None else weights
            shape = (train.n_users, train.n_items)
            self.matrix_ = sp.csr_matrix((values, (users, items)), shape=shape)
            self.matrix_.eliminate_zeros()
            self.threads_ = resolve_threads(
                self.options.threads, step_flops(self.matrix_, self.options)
            )
            with cpu_threads(self.threads_, ctx.accelerator().device):
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
            "threads": self.threads_,
            "epochs_run": fitted.epochs_run,
            "best_epoch": fitted.best_epoch,
            "best_valid_ndcg@10": fitted.best_valid,
            "history": history,
        }

    def score(self, users: np.ndarray) -> np.ndarray:
        """Log-probabilities of the decoder (same order as probabilities, never -inf)."""
        from recaug_modelkit.threads import cpu_threads
        from recaug_vae.training import log_probabilities

        with cpu_threads(self.threads_):
            return log_probabilities(self.model_, self.matrix_, np.asarray(users, dtype=np.int64))
