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

from typing import TYPE_CHECKING, Any

import numpy as np

from recaug_core import Context
from recaug_gan.options import GanFitOptions, GanStrategyOptions
from recaug_modelkit.vector_strategy import ItemVectorStrategy

if TYPE_CHECKING:
    import scipy.sparse as sp


class GanStrategy(ItemVectorStrategy):
    name = "gan"
    description = "CFGAN: a conditional GAN over purchase vectors extends or synthesizes users."
    Options = GanStrategyOptions
    options: GanStrategyOptions
    fit_options = GanFitOptions
    saved_as = "cfgan-generator"

    def new_model(self, seed: int) -> Any:
        from recaug_gan.training import build

        return build(self.matrix_.shape[1], self.options, seed)[0]

    def train_model(self, matrix: sp.csr_matrix, ctx: Context, **fit: Any) -> tuple[Any, Any]:
        from recaug_gan.training import fit_gan

        fitted = fit_gan(matrix, self.options, ctx, **fit)
        return fitted, fitted.generator

    def step_flops(self) -> float:
        from recaug_gan.training import step_flops

        return step_flops(self.matrix_, self.options)

    def user_scores(self, users: np.ndarray, ctx: Context) -> np.ndarray:
        return self._outputs(users)

    def _outputs(self, users: np.ndarray, keep: Any = None) -> np.ndarray:
        """The generator's values for every item, conditioned on ``users``' training rows
        (only the entries where ``keep`` is true, when given)."""
        import torch

        from recaug_modelkit.rows import sparse_rows

        condition = sparse_rows(self.matrix_, users)
        if keep is not None:
            condition = condition.keep(keep)
        with torch.no_grad():
            return self.model_(condition).numpy()

    def new_user_scores(self, start: int, n: int, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        """Conditioned on random parents' vectors, each entry kept with ``condition_keep``."""
        import torch

        active = np.flatnonzero(np.diff(self.matrix_.indptr))
        parents = ctx.rng("gan", "parents", start).choice(active, size=n)
        entries = int(np.diff(self.matrix_.indptr)[parents].sum())
        draws = torch.rand(entries, generator=ctx.torch_generator("gan", start))
        return self._outputs(parents, draws < self.options.condition_keep), parents
