"""What fitting lora-gen yields: the fine-tuned model with its catalog, template and trie, and
the sampling that extending, synthesizing and text mode share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recaug_core import Context
from recaug_lora_gen import prompts
from recaug_lora_gen.catalog import Catalog, Template
from recaug_lora_gen.constrain import ItemTrie
from recaug_lora_gen.generation import GenerationStats, Sampling, sample_items
from recaug_lora_gen.options import LoraGenOptions


@dataclass
class Fitted:
    """The fine-tuned model and what sampling from it needs."""

    model: Any
    tokenizer: Any
    catalog: Catalog
    template: Template
    trie: ItemTrie
    indptr: np.ndarray  # real training histories, CSR over train.user_index
    items: np.ndarray
    options: LoraGenOptions
    folder: Path
    encoder_decoder: bool
    stats: GenerationStats = field(default_factory=GenerationStats)

    def history(self, user: int) -> np.ndarray:
        return self.items[self.indptr[user] : self.indptr[user + 1]]

    def sampling(self) -> Sampling:
        o = self.options
        return Sampling(o.temperature, o.top_k, o.top_p, o.num_return_sequences, o.batch_size)

    def sample(
        self,
        histories: Sequence[np.ndarray],
        banned: Sequence[np.ndarray],
        n_items: int | Sequence[int],
        ctx: Context,
        phase: str,
        *,
        allowed: np.ndarray | None = None,
        constrained: bool = True,
    ) -> list[list[tuple[int, float]]]:
        """Items for each history (never one of its ``banned``), restricted to ``allowed``."""
        trie = self.trie
        if allowed is not None:
            chosen = np.flatnonzero(allowed)
            trie = ItemTrie([self.catalog.tokens[i] for i in chosen], chosen.tolist())
        most = n_items if isinstance(n_items, int) else max(n_items, default=1)
        room = self.options.max_length - most * trie.max_depth - 1
        prompt_ids = [
            prompts.history_prompt(
                self.catalog, self.template, h, self.options.max_history, max(room, 8)
            )
            for h in histories
        ]
        return sample_items(
            self.model,
            prompt_ids,
            [b.tolist() for b in banned],
            trie,
            n_items,
            self.sampling(),
            pad_id=self.tokenizer.pad_token_id,
            eos_id=self.catalog.eos,
            ctx=ctx,
            phase=phase,
            constrained=constrained,
            stats=self.stats,
        )
