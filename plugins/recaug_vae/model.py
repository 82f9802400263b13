"""Mult-VAE (Liang et al., "Variational Autoencoders for Collaborative Filtering", WWW 2018).

Encoder ``n_items -> hidden -> 2 x latent`` (tanh), decoder ``latent -> hidden -> n_items``
(tanh, then a softmax over the catalog). The input row is L2-normalised and dropped out; the
loss is the multinomial negative log-likelihood plus ``beta`` times the KL term. With
``prior=composite`` the KL term is taken against RecVAE's composite prior (Shenbin et al.,
WSDM 2020): a per-dimension mixture of N(0, I), the posterior of the encoder as it was at the
start of the epoch, and a wide N(0, e^10 I), estimated from the sampled z.

All randomness (dropout masks, posterior noise) comes in as tensors drawn from the caller's
seeded generator, so a run is reproducible and resumable without global random state.
"""

from __future__ import annotations

import copy
import math
from typing import cast

import torch
from torch import nn

from recaug_modelkit.layers import ItemsIn, ItemsOut
from recaug_modelkit.rows import Candidates, SparseRows

MIXTURE_WEIGHTS = (3 / 20, 3 / 4, 1 / 10)  # RecVAE: standard, previous posterior, wide
WIDE_LOGVAR = 10.0


class MultVAE(nn.Module):
    def __init__(
        self,
        n_items: int,
        hidden: int,
        latent: int,
        generator: torch.Generator,
        composite: bool,
        sparse: bool = True,
    ) -> None:
        super().__init__()
        self.n_items, self.latent = n_items, latent
        self.item_in = ItemsIn(n_items, hidden, sparse=sparse)
        self.to_stats = nn.Linear(hidden, 2 * latent)
        self.decoder = nn.Linear(latent, hidden)  # then tanh, then item_out
        self.item_out = ItemsOut(hidden, n_items, sparse=sparse)
        for weight, bias in (
            (self.item_in.weight, self.item_in.bias),
            (self.to_stats.weight, self.to_stats.bias),
            (self.decoder.weight, self.decoder.bias),
            (self.item_out.weight, self.item_out.bias),
        ):  # the paper's initialisation
            nn.init.xavier_normal_(weight, generator=generator)
            if bias is not None:
                nn.init.normal_(bias, std=0.001, generator=generator)
        # The composite prior's "previous posterior": a frozen copy, refreshed every epoch.
        self.previous: nn.ModuleList | None = None
        if composite:
            self.previous = nn.ModuleList(
                [copy.deepcopy(self.item_in), copy.deepcopy(self.to_stats)]
            )
            self.previous.requires_grad_(False)

    def encode(
        self, rows: SparseRows, keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of each row; ``keep`` is the dropout mask over
        the rows' entries, scaled by 1/keep."""
        return _encode(rows, keep, self.item_in, self.to_stats)

    def decode(self, z: torch.Tensor, columns: Candidates | None = None) -> torch.Tensor:
        """Logits over the catalog, or over ``columns`` of it."""
        return self.item_out(torch.tanh(self.decoder(z)), columns)

    @torch.no_grad()
    def probabilities(self, rows: SparseRows, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder distribution for ``rows``: at the posterior mean, or at a sample."""
        mu, logvar = self.encode(rows)
        z = mu if noise is None else mu + noise * torch.exp(0.5 * logvar)
        return torch.softmax(self.decode(z), dim=1)

    def forward(
        self,
        rows: SparseRows,
        beta: float,
        keep: torch.Tensor,
        noise: torch.Tensor,
        columns: Candidates,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training loss: (objective, negative log-likelihood, KL), batch means.

        The multinomial likelihood's normaliser is taken over ``columns``: exact for the
        whole catalog, a sampled-softmax estimate otherwise (``Candidates``)."""
        mu, logvar = self.encode(rows, keep)
        z = mu + noise * torch.exp(0.5 * logvar)
        logits = self.decode(z, columns)
        if columns.log_weight is None:
            log_norm = torch.logsumexp(logits, dim=1)
        else:
            log_norm = torch.logsumexp(logits + columns.log_weight, dim=1)
        entry_rows = rows.rows
        own = logits[entry_rows, columns.position(rows.items)] - log_norm[entry_rows]
        nll = -(own * rows.values).sum() / len(rows)
        if self.previous is None:
            kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        else:
            kl = (_log_normal(z, mu, logvar) - self._log_composite_prior(rows, z)).sum(dim=1).mean()
        return nll + beta * kl, nll, kl

    def _log_composite_prior(self, rows: SparseRows, z: torch.Tensor) -> torch.Tensor:
        assert self.previous is not None
        item_in, to_stats = cast(ItemsIn, self.previous[0]), cast(nn.Linear, self.previous[1])
        with torch.no_grad():
            mu_old, logvar_old = _encode(rows, None, item_in, to_stats)
        zeros = torch.zeros_like(z)
        parts = torch.stack(
            [
                _log_normal(z, zeros, zeros) + math.log(MIXTURE_WEIGHTS[0]),
                _log_normal(z, mu_old, logvar_old) + math.log(MIXTURE_WEIGHTS[1]),
                _log_normal(z, zeros, zeros + WIDE_LOGVAR) + math.log(MIXTURE_WEIGHTS[2]),
            ]
        )
        return torch.logsumexp(parts, dim=0)

    def refresh_prior(self) -> None:
        """Copy the current encoder into the composite prior (at each epoch's start)."""
        if self.previous is not None:
            self.previous[0].load_state_dict(self.item_in.state_dict())
            self.previous[1].load_state_dict(self.to_stats.state_dict())


def _encode(
    rows: SparseRows, keep: torch.Tensor | None, item_in: ItemsIn, to_stats: nn.Module
) -> tuple[torch.Tensor, torch.Tensor]:
    weights = rows.normalized_values()  # the L2-normalised input row, entry by entry
    if keep is not None:
        weights = weights * keep
    mu, logvar = to_stats(torch.tanh(item_in(rows, weights))).chunk(2, dim=1)
    return mu, logvar


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (logvar + math.log(2 * math.pi) + (z - mu).pow(2) / logvar.exp())
