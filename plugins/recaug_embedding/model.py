"""The embedding model: one table of user and item vectors, optionally propagated (LightGCN).

``bpr`` scores a pair by the dot product of its free embeddings (matrix factorisation);
``lightgcn`` first averages the embeddings over ``layers`` hops of the normalised graph
(hops 0..layers; 1..layers with ``skip_ego``).
Both train with the BPR loss ``softplus(s(u, j) - s(u, i))`` averaged over each positive's
sampled negatives, plus an L2 penalty on the embeddings of the rows in the batch; LightGCN may
add a contrastive term of two views of its graph (``views``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from recaug_embedding.graph import Propagator
from recaug_embedding.pairs import pair_scores
from recaug_embedding.views import GraphViews, mean_of


class EmbeddingModel(nn.Module):
    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        layers: int,
        propagator: Propagator | None,
        generator: torch.Generator,
        init_std: float,
        text: torch.Tensor | None = None,
        text_mode: Literal["init", "add"] = "add",
        with_l2: bool = True,
        skip_ego: bool = False,
    ) -> None:
        super().__init__()
        self.with_l2 = with_l2
        self.skip_ego = skip_ego
        self.n_users, self.n_items = n_users, n_items
        self.use_propagator(propagator, layers)
        table = torch.randn(n_users + n_items, dim, generator=generator) * init_std
        self.text_projection: nn.Linear | None = None
        if text is not None and text_mode == "init":
            table[n_users:] = text_initialisation(text, dim, init_std, generator)
        elif text is not None:
            self.register_buffer("text", text.float())
            self.text_projection = nn.Linear(text.shape[1], dim, bias=False)
            with torch.no_grad():
                weight = torch.randn(dim, text.shape[1], generator=generator)
                self.text_projection.weight.copy_(weight * init_std)
        self.embedding = nn.Parameter(table)

    def use_propagator(self, propagator: Propagator | None, layers: int) -> None:
        """Propagate over this graph from now on (a training phase may bring its own)."""
        self.propagator = propagator
        self.layers = layers if propagator is not None else 0

    def ego(self) -> torch.Tensor:
        """Layer-0 vectors: free embeddings, items plus their projected text when asked."""
        if self.text_projection is None:
            return self.embedding
        items = self.embedding[self.n_users :] + self.text_projection(self.text)
        return torch.cat([self.embedding[: self.n_users], items])

    def final(self, ego: torch.Tensor | None = None) -> torch.Tensor:
        """The vectors that score pairs: the mean over hops 0..layers of propagation
        (1..layers with ``skip_ego``)."""
        ego = self.ego() if ego is None else ego
        if self.layers == 0 or self.propagator is None:
            return ego
        return self.scored(self.hops(ego))

    def scored(self, hops: list[torch.Tensor]) -> torch.Tensor:
        """The mean of the hops that score pairs: all, or all but layer 0 (``skip_ego``)."""
        return mean_of(hops[1:] if self.skip_ego else hops)

    def hops(
        self,
        ego: torch.Tensor,
        propagator: Propagator | None = None,
        noise: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> list[torch.Tensor]:
        """``[E0, E1, ..., E_layers]``: ``ego`` propagated hop by hop over ``propagator``
        (default: the model's graph), each hop passed through ``noise`` before the next."""
        propagator = self.propagator if propagator is None else propagator
        assert propagator is not None, "hops need a graph (model=lightgcn)"
        hops, hop = [ego], ego
        for _ in range(self.layers):
            hop = propagator.apply(hop)
            if noise is not None:
                hop = noise(hop)
            hops.append(hop)
        return hops

    def forward(
        self,
        users: torch.Tensor,
        positives: torch.Tensor,
        negatives: torch.Tensor,
        weights: torch.Tensor | None = None,
        views: GraphViews | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(BPR loss, L2 term, contrastive term) of a batch: ``users`` and ``positives`` [B],
        ``negatives`` [B, k]; ``weights`` [B] multiplies each positive's loss terms (merge
        policy ``weighted``); ``views`` adds its weighted contrastive term (else 0)."""
        ego = self.ego()
        if views is None:
            final, contrastive = self.final(ego), ego.new_zeros((), dtype=torch.float32)
        else:
            final, contrastive = views.encode(self, ego, users, positives)
        user_vectors, item_vectors = final[: self.n_users], final[self.n_users :]
        positive, negative = pair_scores(user_vectors, item_vectors, users, positives, negatives)
        terms = F.softplus(negative - positive[:, None])
        # multiplied before the one mean: with every weight 1 the loss is bit for bit concat's
        loss = (terms if weights is None else terms * weights[:, None]).mean()
        if not self.with_l2:  # reg=0 (BPR's default): skip the per-row counts
            return loss, loss.new_zeros(()), contrastive
        # RecBole-style L2 on the layer-0 vectors of the batch's rows, computed from per-row
        # counts rather than by gathering a vector for every sampled negative.
        k = negatives.shape[1]
        n_nodes = self.n_users + self.n_items
        counts = torch.bincount(users, minlength=n_nodes).to(ego.dtype)
        counts += torch.bincount(positives + self.n_users, minlength=n_nodes).to(ego.dtype)
        shifted = negatives.reshape(-1) + self.n_users
        counts += torch.bincount(shifted, minlength=n_nodes).to(ego.dtype) / k
        l2 = (counts * ego.float().pow(2).sum(dim=1)).sum() / (2 * len(users))
        return loss, l2, contrastive


def text_initialisation(
    text: torch.Tensor, dim: int, scale: float, generator: torch.Generator
) -> torch.Tensor:
    """Item vectors from the ``dim`` leading principal directions of their text embeddings,
    scaled to the random initialisation's spread (extra dimensions stay random)."""
    centred = text.float() - text.float().mean(dim=0)
    _, _, basis = torch.linalg.svd(centred, full_matrices=False)
    width = min(dim, basis.shape[0])
    projected = centred @ basis[:width].T
    projected = projected / projected.std().clamp_min(1e-8) * scale
    if width < dim:
        extra = torch.randn(len(text), dim - width, generator=generator) * scale
        projected = torch.cat([projected, extra], dim=1)
    return projected
