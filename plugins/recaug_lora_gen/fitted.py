"""What fitting lora-gen yields: the fine-tuned model with its catalog, template and trie, and
the sampling that extending, synthesizing and text mode share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recaug_core import Context, RecaugError
from recaug_lora_gen import prompts
from recaug_lora_gen.catalog import Catalog, Template
from recaug_lora_gen.constrain import ItemTrie
from recaug_lora_gen.generation import GenerationStats, Sampling, sample_items
from recaug_lora_gen.options import LoraGenOptions

SCORE_CELLS = 50_000_000  # most log-probabilities held at once while scoring (about 200 MB)


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
    vocabulary: np.ndarray | None = None  # the restricted output layer's tokens (None: full)
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
        prompt_ids = [self.prompt(h, room) for h in histories]
        common: dict[str, Any] = {
            "pad_id": self.tokenizer.pad_token_id,
            "eos_id": self.catalog.eos,
            "ctx": ctx,
            "phase": phase,
            "stats": self.stats,
        }
        lists = [b.tolist() for b in banned]
        if self.vocabulary is not None and constrained:
            from recaug_lora_gen.frontier import sample_frontier
            from recaug_lora_gen.head import DecoderHead

            head = DecoderHead(self.model)
            return sample_frontier(
                head, prompt_ids, lists, trie, n_items, self.sampling(), **common
            )
        return sample_items(
            self.model,
            prompt_ids,
            lists,
            trie,
            n_items,
            self.sampling(),
            constrained=constrained,
            **common,
        )

    def prompt(self, history: np.ndarray, room: int) -> list[int]:
        """The prompt for ``history``, its most recent items that fit in ``room`` tokens."""
        o = self.options
        return prompts.history_prompt(
            self.catalog, self.template, history, o.max_history, max(room, 8)
        )

    def score_candidates(
        self, histories: Sequence[np.ndarray], candidates: np.ndarray, ctx: Context
    ) -> np.ndarray:
        """``[len(histories), k]``: the log-probability of each candidate item (row i of the
        item indices ``candidates``) coming next after history i."""
        from recaug_lora_gen.head import DecoderHead
        from recaug_lora_gen.scoring import candidate_logprobs

        if self.encoder_decoder:
            raise RecaugError("lora-gen scores candidates with causal models only (not T5)")
        candidates = np.asarray(candidates, dtype=np.int64).reshape(len(histories), -1)
        k = candidates.shape[1]
        head = DecoderHead(self.model)
        room = self.options.max_length - self.trie.max_depth - 1
        cells = k * self.catalog_width() * self.trie.max_depth  # log-probabilities per user
        per_batch = max(1, min(self.options.batch_size, SCORE_CELLS // max(cells, 1)))
        scores = np.zeros(candidates.shape, dtype=np.float32)
        bar = ctx.progress(total=len(histories), desc="lora-gen score", unit="user")
        for begin in range(0, len(histories), per_batch):
            rows = range(begin, min(begin + per_batch, len(histories)))
            scores[begin : rows.stop] = candidate_logprobs(
                head,
                [self.prompt(histories[r], room) for r in rows],
                [[self.catalog.tokens[i] for i in candidates[r]] for r in rows],
                self.vocabulary,
                pad_id=self.tokenizer.pad_token_id,
            )
            bar.update(len(rows))
        bar.close()
        return scores

    def catalog_width(self) -> int:
        """How many logits one scored token needs (the output layer's width)."""
        if self.vocabulary is not None:
            return len(self.vocabulary)
        return int(self.model.config.vocab_size)
