"""Fitting the embedding model: few large batches, Adam, early stopping on validation NDCG@10.

Fast by design rather than by tuning: every batch samples its negatives in one vectorised
call, LightGCN propagates through one symmetric sparse operator (see ``graph``), only a
batch's sampled pairs are scored, as sparse products (see ``pairs``), and validation ranks
every user with the same batched code the final evaluation uses
(``recaug_core.RankingTask``); ``recaug_modelkit.early_stopping`` keeps the best epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from recaug_core import (
    Context,
    Dataset,
    RankingTask,
    RecaugError,
    TrainingPhase,
    pair_weights,
    ranking_means,
    torch_generator,
    training_phases,
)
from recaug_embedding.model import EmbeddingModel
from recaug_embedding.sampling import NegativeSampler
from recaug_embedding.views import Edges, GraphViews
from recaug_modelkit.early_stopping import VALID_METRIC, EarlyStopping


@dataclass
class Fitted:
    user_vectors: np.ndarray  # [n_users, dim] float32, in train.user_index order
    item_vectors: np.ndarray  # [n_items, dim] float32, in train.item_index order
    epochs_run: int
    best_epoch: int  # 1-based epoch whose weights were kept
    best_valid: float | None  # its validation NDCG@10 (None without validation data)
    history: list[dict[str, float]]


def fit_embeddings(
    train: Dataset,
    valid: Dataset | None,
    options: Any,
    ctx: Context,
    seed: int,
    text: np.ndarray | None = None,
) -> Fitted:
    """Train ``options.model`` on the (deduplicated) training pairs, real and synthetic, under
    the merge policy ``ctx.merge``: one phase, or two (``pretrain``: all pairs, then the real
    ones, continuing from the first phase's best weights). LightGCN's contrastive views
    (``options.views``) add their term to every phase's loss (``view``: the synthetic pairs
    enter only the views' graph)."""
    phases = training_phases(train, ctx.merge)
    if ctx.merge is not None and ctx.merge.policy == "view" and options.views == "none":
        raise RecaugError(
            "merge policy 'view' puts synthetic rows into a contrastive view's graph: give the "
            "embedding backend a view (-o views=sgl, simgcl or xsimgcl)"
        )
    model = EmbeddingModel(
        train.n_users,
        train.n_items,
        options.dim,
        options.layers,
        None,
        torch_generator(seed, "embedding", "init"),
        options.init_std,
        text=None if text is None else torch.from_numpy(text),
        text_mode=options.text_mode,
        with_l2=options.reg > 0,
        skip_ego=options.skip_ego,
    )
    task = RankingTask.for_validation(train, valid)
    history: list[dict[str, float]] = []
    fitted = None
    for position, phase in enumerate(phases):
        users, items, weights = pair_weights(phase)
        # the first phase keeps the keys of a plain fit: concat and weight=1 draw the same
        keys = () if position == 0 else (phase.name,)
        views = None
        if options.model == "lightgcn":
            # synthetic users are graph nodes like real ones; a weighted pair is an edge of
            # that weight, so a small weight barely moves its neighbours' vectors either
            edges = Edges(users, items, weights, train.n_users, train.n_items)
            propagator = edges.propagator()
            model.use_propagator(propagator, options.layers)
            if options.views != "none":
                generator = torch_generator(seed, "embedding", "views", *keys)
                views = GraphViews(
                    options.view_settings(),
                    edges,
                    None if phase.view_data is None else _edges(phase.view_data, train),
                    propagator,
                    generator,
                )
        sampler = NegativeSampler(users, items, train.n_users, train.n_items)
        name = options.model if len(phases) == 1 else f"{options.model} ({phase.name})"
        fitted = _train(
            model, users, items, weights, views, sampler, task, options, ctx, seed, keys, name
        )
        history += [{**row, "phase": float(position)} for row in fitted.history]
    assert fitted is not None
    fitted.history = history if len(phases) > 1 else fitted.history
    return fitted


def _edges(data: Dataset, train: Dataset) -> Edges:
    """The distinct (user, item) edges of ``data`` (real and synthetic rows), on ``train``'s
    indexes: the augmented graph of a view under the merge policy ``view``."""
    users, items, _ = pair_weights(TrainingPhase("view", data))
    return Edges(users, items, None, train.n_users, train.n_items)


def _train(
    model: EmbeddingModel,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray | None,
    views: GraphViews | None,
    sampler: NegativeSampler,
    task: RankingTask | None,
    options: Any,
    ctx: Context,
    seed: int,
    keys: tuple[str, ...],
    name: str,
) -> Fitted:
    accelerator = ctx.accelerator()
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
    wrapped, optimizer = accelerator.prepare(model, optimizer)
    device = accelerator.device
    shuffle = torch_generator(seed, "embedding", "batches", *keys)
    users_t, items_t = torch.from_numpy(users), torch.from_numpy(items)
    weights_t = None if weights is None else torch.from_numpy(weights)
    n_pairs = len(users)
    n_batches = max(1, math.ceil(n_pairs / options.batch_size))
    rank, world = accelerator.process_index, accelerator.num_processes

    stopping = EarlyStopping(
        ctx,
        name,
        options.epochs,
        options.patience,
        validate=None if task is None else lambda: validation_score(model, task),
        keep=model,
    )
    for epoch in stopping:
        # Every process draws the same permutation and negatives, then trains on its share.
        order = torch.randperm(n_pairs, generator=shuffle)
        negatives = sampler.sample(users_t[order], options.negatives, shuffle)
        if views is not None:
            views.new_epoch()
        total_loss = total_contrastive = 0.0
        for batch in range(n_batches):
            chosen = slice(batch * n_pairs // n_batches, (batch + 1) * n_pairs // n_batches)
            rows = order[chosen][rank::world]
            with accelerator.autocast():
                loss, l2, contrastive = wrapped(
                    users_t[rows].to(device),
                    items_t[rows].to(device),
                    negatives[chosen][rank::world].to(device),
                    None if weights_t is None else weights_t[rows].to(device),
                    views,
                )
                objective = loss + options.reg * l2
                if views is not None:
                    objective = objective + contrastive
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(objective)
            optimizer.step()
            total_loss += float(loss.detach())
            total_contrastive += float(contrastive.detach())
        figures = {"loss": total_loss / n_batches}
        if views is not None:  # the weighted contrastive term, as sasrec's views record it
            figures["extra"] = total_contrastive / n_batches
        stopping.record(epoch, **figures)
    stopping.finish()
    user_vectors, item_vectors = final_vectors(model)
    return Fitted(
        user_vectors,
        item_vectors,
        epochs_run=stopping.epochs_run,
        best_epoch=stopping.best_epoch,
        best_valid=stopping.best_value,
        history=stopping.history,
    )


@torch.no_grad()
def final_tensors(model: EmbeddingModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Fitted user and item vectors, float32 on the CPU."""
    final = model.final().detach().float().cpu()
    return final[: model.n_users].contiguous(), final[model.n_users :].contiguous()


def final_vectors(model: EmbeddingModel) -> tuple[np.ndarray, np.ndarray]:
    user_vectors, item_vectors = final_tensors(model)
    return user_vectors.numpy(), item_vectors.numpy()


def validation_score(model: EmbeddingModel, task: RankingTask) -> float:
    """NDCG@10 on the validation split, ranked exactly as the final evaluation ranks.

    The scores stay a torch tensor, ranked with ``torch.topk``: a numpy product would leave
    numpy's own BLAS threads spinning against torch's through the steps that follow.
    """
    user_vectors, item_vectors = final_tensors(model)

    def score(rows: np.ndarray) -> torch.Tensor:
        return user_vectors[torch.from_numpy(rows)] @ item_vectors.T

    ranking = task.rank(score, 10)
    return ranking_means(ranking, task.n_items, [10])[VALID_METRIC]
