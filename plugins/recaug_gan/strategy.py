"""`gan` strategy: CFGAN's generator, conditioned on a purchase vector, proposes items.

- ``extend``: the condition is a real user's full training vector; ``per_user`` items the
  user does not have are drawn without replacement in proportion to the generator's output.
- ``synthesize``: new users ``syn-gan-NNNNNN``, each from a random real user (its
  ``parent_user``) whose vector, with each item kept with probability ``condition_keep``, is
  the condition; history lengths come from the real ones and items are drawn without
  replacement in proportion to the output.

``score`` is the generator's output for the item. Imported at plugin registration: no torch
at module level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from recaug_core import Context, Dataset, GenerationRequest, Strategy
from recaug_gan.options import GanFitOptions, GanStrategyOptions
from recaug_modelkit import generation


class GanStrategy(Strategy):
    name = "gan"
    description = "CFGAN: a conditional GAN over purchase vectors extends or synthesizes users."
    Options = GanStrategyOptions
    options: GanStrategyOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        from recaug_gan.training import build, fit_gan, step_flops
        from recaug_modelkit.checkpoints import fit_settings, load_or_fit
        from recaug_modelkit.holdout import announced_hold_out, training_summary
        from recaug_modelkit.threads import cpu_threads, resolve_threads

        options = self.options
        seed = options.training_seed(ctx)
        self.matrix_ = train.interaction_matrix(real_only=True)
        settings = fit_settings(self.matrix_, options, GanFitOptions, seed)
        holdout = announced_hold_out("gan", train, options.valid_share, seed, ctx)
        fit_matrix = holdout.fit.interaction_matrix(real_only=True)
        self.threads_ = resolve_threads(options.threads, step_flops(self.matrix_, options))
        self.training_: dict[str, Any] = {}  # stays empty when a saved model is loaded

        def fit(epochs: Any) -> Any:
            fitted = fit_gan(
                fit_matrix,
                options,
                ctx,
                seed,
                task=holdout.task,
                patience=options.patience,
                checkpoints=epochs,
            )
            self.training_ = training_summary(fitted, holdout)
            return fitted.generator

        model, _ = build(self.matrix_.shape[1], options, seed)
        with cpu_threads(self.threads_, ctx.accelerator().device):
            model = load_or_fit(
                ctx,
                "gan",
                model,
                settings,
                fit,
                "cfgan-generator",
            )
        self.generator_: Any = model.cpu().eval()

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
                self._outputs,
                lambda start, n: self._masked_parents(start, n, ctx),
            )

    def _outputs(self, users: np.ndarray, keep: Any = None) -> np.ndarray:
        """The generator's values for every item, conditioned on ``users``' training rows
        (only the entries where ``keep`` is true, when given)."""
        import torch

        from recaug_modelkit.rows import sparse_rows

        condition = sparse_rows(self.matrix_, users)
        if keep is not None:
            condition = condition.keep(keep)
        with torch.no_grad():
            return self.generator_(condition).numpy()

    def _masked_parents(self, start: int, n: int, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        import torch

        active = np.flatnonzero(np.diff(self.matrix_.indptr))
        parents = ctx.rng("gan", "parents", start).choice(active, size=n)
        entries = int(np.diff(self.matrix_.indptr)[parents].sum())
        draws = torch.rand(entries, generator=ctx.torch_generator("gan", start))
        return self._outputs(parents, draws < self.options.condition_keep), parents
