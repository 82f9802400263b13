"""Contrastive views of the LightGCN graph: SGL, SimGCL and XSimGCL.

Each adds ``weight * (InfoNCE over the batch's distinct users + InfoNCE over its distinct
positive items)`` to the BPR loss, as the papers do; the two views of a node are a positive
pair, the other nodes of its group the negatives, compared by cosine similarity over a
temperature. The recommendation itself is always scored from plain LightGCN's vectors (the
mean over hops 0..L, or 1..L with ``skip_ego`` as SimGCL's and XSimGCL's authors' encoder),
so a view of weight 0 trains exactly plain LightGCN with the same ``skip_ego``.

- ``sgl`` (Wu et al., SIGIR 2021, SGL-ED): each epoch drops every edge of the graph with
  probability ``drop``, twice, and re-normalises each subgraph; the views are LightGCN's
  vectors propagated over the two subgraphs.
- ``simgcl`` (Yu et al., SIGIR 2022): no graph edits; after every hop each node's vector gets
  a random vector of length ``noise`` in its own orthant (``sign(e) * normalize(U(0, 1))``);
  the views are two such perturbed propagations, averaged over hops 1..L (the paper leaves
  the layer-0 vector out of the views).
- ``xsimgcl`` (Yu et al., TKDE 2023): one perturbed propagation serves both the loss and the
  views: BPR scores its scoring mean (``EmbeddingModel.scored``), and its mean over hops 1..L
  is contrasted with its hop ``layer`` (cross-layer contrast): one pass instead of three.

Under the merge policy ``view`` the second view propagates over the augmented graph (real
and synthetic edges) while the loss, and the first view, keep the real graph: the synthetic
rows shape representations only through their alignment with the real ones.

Every step's propagations use the same symmetric sparse operator as plain LightGCN
(``graph.Propagator``). The InfoNCE terms of a large batch are computed in random groups of at
most ``group`` nodes: a 16,384-pair batch has ~10,000 distinct users, and one similarity matrix
over all of them would cost ten times more than ten groups of 1,000. On amazon-toys groups of
1,024 ranked validation as well as groups of 2,048 (the papers' batch size), at 0.7x the
cost of an epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from recaug_embedding.graph import Propagator, normalized_adjacency

ViewName = Literal["sgl", "simgcl", "xsimgcl"]


class Encoder(Protocol):
    """What the views need of LightGCN (``recaug_embedding.model.EmbeddingModel``, which
    imports this module: a protocol keeps the two free of an import cycle)."""

    n_users: int

    def final(self, ego: torch.Tensor | None = None) -> torch.Tensor: ...

    def scored(self, hops: list[torch.Tensor]) -> torch.Tensor: ...

    def hops(
        self,
        ego: torch.Tensor,
        propagator: Propagator | None = None,
        noise: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> list[torch.Tensor]: ...


@dataclass(frozen=True)
class ViewSettings:
    kind: ViewName
    weight: float  # lambda: the contrastive term's weight
    temperature: float  # tau of InfoNCE
    noise: float  # simgcl / xsimgcl: eps, the length of each node's random vector
    drop: float  # sgl: each edge's drop probability
    layer: int  # xsimgcl: the hop contrasted with the final vectors (1-based)
    group: int  # most nodes per InfoNCE term


def info_nce(first: torch.Tensor, second: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE of two views of the same n nodes ([n, dim] each): row i of ``first`` must pick
    row i of ``second`` among all n rows by cosine similarity / ``temperature``; the mean over
    rows of the cross-entropy (``-log softmax``)."""
    a = F.normalize(first.float(), dim=1)
    b = F.normalize(second.float(), dim=1)
    logits = a @ b.T / temperature
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


def grouped_info_nce(
    first: torch.Tensor,
    second: torch.Tensor,
    nodes: torch.Tensor,
    temperature: float,
    group: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """``info_nce`` over the rows ``nodes`` of both views, in random groups of nearly equal
    size (at most ``group``; one group, as in the papers, when the nodes fit); the mean over
    all nodes."""
    n = len(nodes)
    n_groups = max(1, math.ceil(n / group))
    if n_groups == 1:
        return info_nce(first[nodes], second[nodes], temperature)
    shuffled = nodes[torch.randperm(n, generator=generator).to(nodes.device)]
    # one gather per view, then slices of it: a gather per group would scatter a gradient
    # over every node of the graph per group in the backward pass
    a, b = first[shuffled], second[shuffled]
    total = first.new_zeros((), dtype=torch.float32)
    for part_a, part_b in zip(a.tensor_split(n_groups), b.tensor_split(n_groups), strict=True):
        total = total + info_nce(part_a, part_b, temperature) * len(part_a)
    return total / n


def perturb(x: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """SimGCL's noise: each row plus a random vector of length ``eps`` in the row's orthant."""
    noise = torch.rand(x.shape, generator=generator).to(device=x.device, dtype=x.dtype)
    return x + torch.sign(x) * F.normalize(noise, dim=1) * eps


def mean_of(hops: list[torch.Tensor]) -> torch.Tensor:
    """The mean of a list of hop vectors, summed in order (plain LightGCN's arithmetic)."""
    total = hops[0]
    for hop in hops[1:]:
        total = total + hop
    return total / len(hops)


def edge_graph(
    users: np.ndarray, items: np.ndarray, weights: np.ndarray | None, n_users: int, n_items: int
) -> sp.csr_matrix:
    """The user x item matrix of some (weighted) edges, the input of ``normalized_adjacency``."""
    values = np.ones(len(users), np.float32) if weights is None else weights
    return sp.csr_matrix((values, (users, items)), shape=(n_users, n_items))


@dataclass
class Edges:
    """The edges a view's graph is built from (the real graph's, or the augmented one's)."""

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray | None
    n_users: int
    n_items: int

    def propagator(self, keep: np.ndarray | None = None) -> Propagator:
        """The normalised propagation over these edges (only those ``keep`` marks)."""
        users, items, weights = self.users, self.items, self.weights
        if keep is not None:
            users, items = users[keep], items[keep]
            weights = None if weights is None else weights[keep]
        matrix = edge_graph(users, items, weights, self.n_users, self.n_items)
        return Propagator(normalized_adjacency(matrix))


class GraphViews:
    """The contrastive term of a batch for one of the three views (see the module docstring).

    ``real`` are the training graph's edges; ``augmented`` the graph of the second view under
    the merge policy ``view`` (None: the real graph). ``generator`` draws the noise, the
    dropped edges and the groups: a stream of its own, so the batches and negatives are those
    of a plain fit.
    """

    def __init__(
        self,
        settings: ViewSettings,
        real: Edges,
        augmented: Edges | None,
        real_propagator: Propagator,
        generator: torch.Generator,
    ) -> None:
        self.settings = settings
        self.real, self.augmented = real, augmented
        self.generator = generator
        self.second_graph = (
            real_propagator if augmented is None else augmented.propagator()
        )  # simgcl / xsimgcl
        self.subgraphs: tuple[Propagator, Propagator] | None = None  # sgl, drawn per epoch

    def new_epoch(self) -> None:
        """SGL draws its two edge-dropped subgraphs once per epoch, as the paper does."""
        if self.settings.kind != "sgl":
            return
        second = self.real if self.augmented is None else self.augmented
        self.subgraphs = (self._dropped(self.real), self._dropped(second))

    def _dropped(self, edges: Edges) -> Propagator:
        draws = torch.rand(len(edges.users), generator=self.generator).numpy()
        return edges.propagator(draws >= self.settings.drop)

    def _noise(self) -> Callable[[torch.Tensor], torch.Tensor]:
        eps, generator = self.settings.noise, self.generator
        return lambda hop: perturb(hop, eps, generator)

    def encode(
        self,
        model: Encoder,
        ego: torch.Tensor,
        users: torch.Tensor,
        positives: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the vectors BPR scores, the weighted contrastive term) of a batch."""
        kind = self.settings.kind
        if kind == "xsimgcl":
            hops = model.hops(ego, noise=self._noise())
            final = model.scored(hops)
            partner = (
                hops
                if self.augmented is None
                else model.hops(ego, self.second_graph, self._noise())
            )
            # the views leave the layer-0 vector out, as the paper's encoder does
            first, second = mean_of(hops[1:]), partner[self.settings.layer]
        elif kind == "simgcl":
            final = model.final(ego)
            first = mean_of(model.hops(ego, noise=self._noise())[1:])
            second = mean_of(model.hops(ego, self.second_graph, self._noise())[1:])
        else:
            assert self.subgraphs is not None, "new_epoch() draws SGL's subgraphs first"
            final = model.final(ego)
            first = mean_of(model.hops(ego, self.subgraphs[0]))
            second = mean_of(model.hops(ego, self.subgraphs[1]))
        return final, self.settings.weight * self.contrast(first, second, users, positives, model)

    def contrast(
        self,
        first: torch.Tensor,
        second: torch.Tensor,
        users: torch.Tensor,
        positives: torch.Tensor,
        model: Encoder,
    ) -> torch.Tensor:
        """InfoNCE over the batch's distinct users plus over its distinct positive items."""
        s = self.settings
        user_nodes = torch.unique(users)
        item_nodes = torch.unique(positives) + model.n_users
        by_users = grouped_info_nce(
            first, second, user_nodes, s.temperature, s.group, self.generator
        )
        by_items = grouped_info_nce(
            first, second, item_nodes, s.temperature, s.group, self.generator
        )
        return by_users + by_items
