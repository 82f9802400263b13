"""The SASRec network: causal self-attention over a user's most recent items.

Item index 0 is padding; catalog item ``i`` is token ``i + 1``. Sequences are right-aligned,
so the last column always holds the most recent item and its output scores the next one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PAD = 0
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(attended.transpose(1, 2).reshape(batch, length, hidden))


class Block(nn.Module):
    """A pre-norm transformer block (attention, then a GELU feed-forward layer)."""

    def __init__(self, hidden: int, heads: int, dropout: float, inner: int) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(hidden)
        self.attention = CausalSelfAttention(hidden, heads, dropout)
        self.ffn_norm = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, inner),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(inner, hidden),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x), allowed))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


class SASRec(nn.Module):
    """Item and position embeddings, causal blocks, and scores by a dot product with the same
    item table (tied input and output embeddings, as in the paper).

    With ``text_vectors`` (one sentence embedding per catalog item), ``text_mode="add"`` adds
    a learned projection of the frozen vectors to each item's learned embedding, and
    ``text_mode="init"`` starts the learned embeddings from a fixed random projection of them.
    """

    def __init__(
        self,
        n_items: int,
        max_len: int,
        hidden: int,
        layers: int,
        heads: int,
        dropout: float,
        inner: int,
        text_dim: int = 0,
        text_mode: str = "add",
    ) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "n_items": n_items,
            "max_len": max_len,
            "hidden": hidden,
            "layers": layers,
            "heads": heads,
            "dropout": dropout,
            "inner": inner,
            "text_dim": text_dim,
            "text_mode": text_mode,
        }
        self.items = nn.Embedding(n_items + 1, hidden, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, hidden)
        self.embedding_norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(hidden, heads, dropout, inner) for _ in range(layers))
        self.final_norm = nn.LayerNorm(hidden)
        self.text_proj: nn.Linear | None = None
        self.text_vectors: torch.Tensor
        if text_dim and text_mode == "add":
            self.register_buffer("text_vectors", torch.zeros(n_items + 1, text_dim))
            self.text_proj = nn.Linear(text_dim, hidden, bias=False)
        self.apply(_init_weights)

    def set_text_vectors(self, vectors: torch.Tensor, generator: torch.Generator) -> None:
        """Install per-item sentence embeddings ``[n_items, dim]`` (see the class docstring)."""
        padded = torch.cat([torch.zeros(1, vectors.shape[1]), vectors.float()])
        if self.text_proj is not None:
            self.text_vectors.copy_(padded)
            return
        hidden = self.items.embedding_dim
        projection = torch.randn(vectors.shape[1], hidden, generator=generator)
        start = padded @ projection
        # match the scale of the default initialisation so training behaves the same
        start *= 0.02 / start[1:].std().clamp_min(1e-8)
        with torch.no_grad():
            self.items.weight.copy_(start)

    def item_table(self) -> torch.Tensor:
        """Embeddings of every token (row 0 is padding) ``[n_items + 1, hidden]``."""
        table = self.items.weight
        if self.text_proj is not None:
            table = table + self.text_proj(self.text_vectors)
        return table

    def forward(self, sequences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states ``[batch, length, hidden]`` of right-aligned ``sequences``, and the item
        table used to score them."""
        table = self.item_table()
        length = sequences.shape[1]
        positions = torch.arange(length, device=sequences.device)
        x = table[sequences] + self.positions(positions)[None]
        x = self.dropout(self.embedding_norm(x))
        real = (sequences != PAD)[..., None]
        x = x * real
        allowed = attention_mask(sequences)
        for block in self.blocks:
            x = block(x, allowed) * real
        return self.final_norm(x), table

    def score_last(self, sequences: torch.Tensor) -> torch.Tensor:
        """Scores of every catalog item ``[batch, n_items]`` as the next item after each row."""
        hidden, table = self(sequences)
        return hidden[:, -1] @ table[1:].T


def attention_mask(sequences: torch.Tensor) -> torch.Tensor:
    """``[batch, 1, length, length]``, True where a position may attend: earlier or equal real
    positions. A padding position attends to itself only, so no row is empty (no NaN)."""
    length = sequences.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=sequences.device).tril()
    real_keys = (sequences != PAD)[:, None, :]
    itself = torch.eye(length, dtype=torch.bool, device=sequences.device)
    return ((causal & real_keys) | itself)[:, None]


def _init_weights(module: nn.Module) -> None:
    # Small normal initialisation, as BERT-style recommenders use; N(0, 1) embeddings train
    # noticeably worse with a dot-product output layer.
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].zero_()


def windows(
    flat: torch.Tensor,
    starts: torch.Tensor,
    lengths: torch.Tensor,
    width: int,
    offsets: torch.Tensor | None = None,
) -> torch.Tensor:
    """Right-aligned ``[len(starts), width]`` windows of CSR sequences in ``flat`` (tokens,
    0 = padding): the ``width`` items starting ``offsets`` into each sequence (default: the
    last ``width`` items). Vectorised over sequences."""
    taken = lengths.clamp(max=width)
    if offsets is None:
        offsets = lengths - taken
    columns = torch.arange(width, device=flat.device)
    first_real = (width - taken)[:, None]
    source = (starts + offsets)[:, None] + columns[None] - first_real
    inside = columns[None] >= first_real
    if len(flat) == 0:
        return torch.zeros(len(starts), width, dtype=torch.long, device=flat.device)
    gathered = flat[source.clamp(0, len(flat) - 1)]
    return torch.where(inside, gathered, torch.zeros_like(gathered))


def save_model(model: SASRec, folder: Path, extra: dict[str, Any]) -> None:
    """Weights as safetensors and the architecture (plus ``extra``) as JSON."""
    from safetensors.torch import save_file

    from recaug_core import write_atomic, write_json

    folder.mkdir(parents=True, exist_ok=True)
    state = {
        name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
    }
    write_atomic(folder / WEIGHTS_FILE, lambda tmp: save_file(state, str(tmp)))
    write_json(folder / CONFIG_FILE, {"architecture": model.config, **extra})


def load_model(folder: Path) -> tuple[SASRec, dict[str, Any]]:
    """The model saved in ``folder`` (eval mode) and its JSON config."""
    from safetensors.torch import load_file

    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    model = SASRec(**config["architecture"])
    model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    return model.eval(), config
