"""The shared fit and generation of strategies whose model reads a user's item vector
(`vae`, `gan`).

Fitting is the same for both: the real training rows as a sparse matrix; a held-back share
of them to stop early on (``recaug_modelkit.holdout``, announced in the log); a torch thread
count from the size of one step; a fit that saves epoch checkpoints and the finished model,
so that ``--resume`` with the same settings continues or loads instead of training again.
Generating is the same too: extend real users or synthesize new ones from the model's
scores over the catalog (``generation.generate_rows``). A subclass says only how its model
is built, trained and read. Imported at plugin registration: no torch at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

from recaug_core import Context, Dataset, GenerationRequest, Options, Strategy
from recaug_modelkit import generation

if TYPE_CHECKING:
    import scipy.sparse as sp

    from recaug_modelkit.checkpoints import EpochCheckpoints


class ItemVectorStrategy(Strategy):
    """A strategy whose model maps a user's item vector to scores over the catalog."""

    fit_options: ClassVar[type[Options]]  # the options that shape the fitted model
    saved_as: ClassVar[str]  # the fitted model's kind in the run's checkpoint folder

    def fit(self, train: Dataset, ctx: Context) -> None:
        from recaug_modelkit.checkpoints import fit_settings, load_or_fit
        from recaug_modelkit.holdout import announced_hold_out, training_summary
        from recaug_modelkit.threads import cpu_threads, resolve_threads

        options: Any = self.options
        seed = options.training_seed(ctx)
        self.matrix_ = train.interaction_matrix(real_only=True)
        settings = fit_settings(self.matrix_, options, self.fit_options, seed)
        holdout = announced_hold_out(self.name, train, options.valid_share, seed, ctx)
        fit_matrix = holdout.fit.interaction_matrix(real_only=True)
        self.threads_ = resolve_threads(options.threads, self.step_flops())
        self.training_: dict[str, Any] = {}  # stays empty when a saved model is loaded

        def fit(epochs: EpochCheckpoints) -> Any:
            fitted, model = self.train_model(
                fit_matrix,
                ctx,
                seed=seed,
                task=holdout.task,
                patience=options.patience,
                checkpoints=epochs,
            )
            self.training_ = training_summary(fitted, holdout)
            return model

        with cpu_threads(self.threads_, ctx.accelerator().device):
            model = load_or_fit(ctx, self.name, self.new_model(seed), settings, fit, self.saved_as)
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
                lambda users: self.user_scores(users, ctx),
                lambda start, n: self.new_user_scores(start, n, ctx),
            )

    def new_model(self, seed: int) -> Any:
        """The untrained model: what a saved one is loaded into."""
        raise NotImplementedError

    def train_model(self, matrix: sp.csr_matrix, ctx: Context, **fit: Any) -> tuple[Any, Any]:
        """Train on ``matrix``; ``fit`` holds ``seed``, and ``task``, ``patience`` and
        ``checkpoints`` to stop early and resume. Returns the fit's record (``epochs_run``,
        ``best_epoch``, ``history``) and the trained model."""
        raise NotImplementedError

    def step_flops(self) -> float:
        """Multiply-adds of one training step on ``self.matrix_``: it sets the thread count."""
        raise NotImplementedError

    def user_scores(self, users: np.ndarray, ctx: Context) -> np.ndarray:
        """Every item's score for each of the real ``users`` (extend)."""
        raise NotImplementedError

    def new_user_scores(
        self, start: int, n: int, ctx: Context
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Every item's score for ``n`` new users numbered from ``start``, and their parent
        users (None for none) (synthesize)."""
        raise NotImplementedError
