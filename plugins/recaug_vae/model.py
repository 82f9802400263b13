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

import torch
import torch.nn.functional as F
from torch import nn

MIXTURE_WEIGHTS = (3 / 20, 3 / 4, 1 / 10)  # RecVAE: standard, previous posterior, wide
WIDE_LOGVAR = 10.0


class MultVAE(nn.Module):
    def __init__(
        self, n_items: int, hidden: int, latent: int, generator: torch.Generator, composite: bool
    ) -> None:
        super().__init__()
        self.n_items, self.latent = n_items, latent
        self.encoder = nn.Sequential(nn.Linear(n_items, hidden), nn.Tanh())
        self.to_stats = nn.Linear(hidden, 2 * latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, n_items)
        )
        for layer in self.modules():
            if isinstance(layer, nn.Linear):  # the paper's initialisation
                nn.init.xavier_normal_(layer.weight, generator=generator)
                nn.init.normal_(layer.bias, std=0.001, generator=generator)
        # The composite prior's "previous posterior": a frozen copy, refreshed every epoch.
        self.previous: nn.ModuleList | None = None
        if composite:
            self.previous = nn.ModuleList(
                [copy.deepcopy(self.encoder), copy.deepcopy(self.to_stats)]
            )
            self.previous.requires_grad_(False)

    def encode(
        self, x: torch.Tensor, keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance; ``keep`` is the dropout mask scaled by 1/keep."""
        h = F.normalize(x, dim=1)
        if keep is not None:
            h = h * keep
        mu, logvar = self.to_stats(self.encoder(h)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits over the catalog."""
        return self.decoder(z)

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder distribution for rows ``x``: at the posterior mean, or at a sample."""
        mu, logvar = self.encode(x)
        z = mu if noise is None else mu + noise * torch.exp(0.5 * logvar)
        return torch.softmax(self.decode(z), dim=1)

    def forward(
        self, x: torch.Tensor, beta: float, keep: torch.Tensor, noise: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training loss: (objective, negative log-likelihood, KL), batch means."""
        mu, logvar = self.encode(x, keep)
        z = mu + noise * torch.exp(0.5 * logvar)
        nll = -(F.log_softmax(self.decode(z), dim=1) * x).sum(dim=1).mean()
        if self.previous is None:
            kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        else:
            kl = (_log_normal(z, mu, logvar) - self._log_composite_prior(x, z)).sum(dim=1).mean()
        return nll + beta * kl, nll, kl

    def _log_composite_prior(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        assert self.previous is not None
        encoder, to_stats = self.previous
        with torch.no_grad():
            mu_old, logvar_old = to_stats(encoder(F.normalize(x, dim=1))).chunk(2, dim=1)
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
            self.previous[0].load_state_dict(self.encoder.state_dict())
            self.previous[1].load_state_dict(self.to_stats.state_dict())


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (logvar + math.log(2 * math.pi) + (z - mu).pow(2) / logvar.exp())
