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

from recaug_core import Context, Dataset, GenerationRequest, Strategy
from recaug_modelkit import generation
from recaug_vae.options import VaeFitOptions, VaeStrategyOptions


class VaeStrategy(Strategy):
    name = "vae"
    description = "Mult-VAE: extends users or synthesizes new ones from a variational autoencoder."
    Options = VaeStrategyOptions
    options: VaeStrategyOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        from recaug_modelkit.checkpoints import fit_settings, load_or_fit
        from recaug_modelkit.holdout import announced_hold_out, training_summary
        from recaug_modelkit.threads import cpu_threads, resolve_threads
        from recaug_vae.training import build, fit_vae, step_flops

        options = self.options
        seed = options.training_seed(ctx)
        self.matrix_ = train.interaction_matrix(real_only=True)
        settings = fit_settings(self.matrix_, options, VaeFitOptions, seed)
        holdout = announced_hold_out("vae", train, options.valid_share, seed, ctx)
        fit_matrix = holdout.fit.interaction_matrix(real_only=True)
        self.threads_ = resolve_threads(options.threads, step_flops(self.matrix_, options))
        self.training_: dict[str, Any] = {}  # stays empty when a saved model is loaded

        def fit(epochs: Any) -> Any:
            fitted = fit_vae(
                fit_matrix,
                options,
                ctx,
                seed,
                task=holdout.task,
                patience=options.patience,
                checkpoints=epochs,
            )
            self.training_ = training_summary(fitted, holdout)
            return fitted.model

        with cpu_threads(self.threads_, ctx.accelerator().device):
            model = load_or_fit(
                ctx,
                "vae",
                build(self.matrix_.shape[1], options, seed),
                settings,
                fit,
                "mult-vae",
            )
        self.model_: Any = model.cpu().eval()

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        from recaug_modelkit.threads import cpu_threads

        with cpu_threads(self.threads_):
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

        from recaug_modelkit.rows import sparse_rows

        noise = torch.randn(
            len(users), self.options.latent, generator=ctx.torch_generator("vae", key, users[0])
        )
        return self.model_.probabilities(sparse_rows(self.matrix_, users), noise).numpy()

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
