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

from typing import Any

import numpy as np
import pyarrow as pa

from recaug_core import Context, Dataset, GenerationRequest, Strategy, torch_generator
from recaug_modelkit import generation
from recaug_vae.options import VaeStrategyOptions, VaeTrainingOptions


class VaeStrategy(Strategy):
    name = "vae"
    description = "Mult-VAE: extends users or synthesizes new ones from a variational autoencoder."
    Options = VaeStrategyOptions
    options: VaeStrategyOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        from recaug_modelkit.checkpoints import fit_settings, load_or_fit
        from recaug_vae.model import MultVAE
        from recaug_vae.training import fit_vae

        seed = self.options.training_seed(ctx)
        self.matrix_ = train.interaction_matrix(real_only=True)
        settings = fit_settings(self.matrix_, self.options, VaeTrainingOptions, seed)
        model = MultVAE(
            self.matrix_.shape[1],
            self.options.hidden,
            self.options.latent,
            torch_generator(seed, "vae", "init"),
            composite=self.options.prior == "composite",
        )
        model = load_or_fit(
            ctx,
            "vae",
            model,
            settings,
            lambda epochs: fit_vae(self.matrix_, self.options, ctx, seed, checkpoints=epochs).model,
            "mult-vae",
        )
        self.model_: Any = model.cpu().eval()

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        return generation.generate_rows(
            self.name,
            train,
            self.matrix_,
            self.options,
            request,
            ctx,
            lambda chunk: self._posterior_probabilities(chunk, ctx, "extend"),
            lambda start, n: self._new_user_probabilities(start, n, ctx),
        )

    def _posterior_probabilities(self, users: np.ndarray, ctx: Context, key: str) -> np.ndarray:
        import torch

        from recaug_modelkit.rows import dense_rows

        noise = torch.randn(
            len(users), self.options.latent, generator=ctx.torch_generator("vae", key, users[0])
        )
        return self.model_.probabilities(dense_rows(self.matrix_, users), noise).numpy()

    def _new_user_probabilities(
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
