"""`vae` strategy: Mult-VAE learns the distribution of users' item sets and samples from it.

- ``extend``: encode a real user, sample z from the posterior, draw ``per_user`` items the
  user does not have, without replacement, in proportion to the decoder's probabilities.
- ``synthesize``: new users ``syn-vae-NNNNNN``; z from the prior N(0, I) (``parent_user``
  null) or from the posterior of a random real user (``latent_from=posterior``, recorded as
  ``parent_user``); history lengths drawn from the real ones; items without replacement.

``score`` is the decoder's probability of the item. Imported at plugin registration: no
torch at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from recaug_core import Context
from recaug_modelkit.vector_strategy import ItemVectorStrategy
from recaug_vae.options import VaeFitOptions, VaeStrategyOptions

if TYPE_CHECKING:
    import scipy.sparse as sp


class VaeStrategy(ItemVectorStrategy):
    name = "vae"
    description = "Mult-VAE: extends users or synthesizes new ones from a variational autoencoder."
    Options = VaeStrategyOptions
    options: VaeStrategyOptions
    fit_options = VaeFitOptions
    saved_as = "mult-vae"

    def new_model(self, seed: int) -> Any:
        from recaug_vae.training import build

        return build(self.matrix_.shape[1], self.options, seed)

    def train_model(self, matrix: sp.csr_matrix, ctx: Context, **fit: Any) -> tuple[Any, Any]:
        from recaug_vae.training import fit_vae

        fitted = fit_vae(matrix, self.options, ctx, **fit)
        return fitted, fitted.model

    def step_flops(self) -> float:
        from recaug_vae.training import step_flops

        return step_flops(self.matrix_, self.options)

    def user_scores(self, users: np.ndarray, ctx: Context) -> np.ndarray:
        return self._posterior_probabilities(users, ctx, "extend")

    def _posterior_probabilities(self, users: np.ndarray, ctx: Context, key: str) -> np.ndarray:
        import torch

        from recaug_modelkit.rows import sparse_rows

        noise = torch.randn(
            len(users), self.options.latent, generator=ctx.torch_generator("vae", key, users[0])
        )
        return self.model_.probabilities(sparse_rows(self.matrix_, users), noise).numpy()

    def new_user_scores(
        self, start: int, n: int, ctx: Context
    ) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        if self.options.latent_from == "posterior":
            active = np.flatnonzero(np.diff(self.matrix_.indptr))
            parents = ctx.rng("vae", "parents", start).choice(active, size=n)
            return self._posterior_probabilities(parents, ctx, f"parents-{start}"), parents
        z = torch.randn(
            n, self.options.latent, generator=ctx.torch_generator("vae", "prior", start)
        )
        with torch.no_grad():
            return torch.softmax(self.model_.decode(z), dim=1).numpy(), None
