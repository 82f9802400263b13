"""Constrained sampling that computes logits only for the trie's frontier.

``generate`` would compute every step's logits over the whole vocabulary and then mask all but
a few hundred of them. This loop runs the decoder stack with a key/value cache and, at each
step, multiplies the hidden states with the output rows of the union of the tokens the batch's
rows may choose (their frontiers in the item trie), masks each row to its own frontier and
samples. Rows that have finished leave the batch and its cache.

An item's score is its log-probability under the constrained distribution (the softmax over
the row's frontier at temperature 1, summed over the item's tokens).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import TopKLogitsWarper, TopPLogitsWarper

from recaug_core import Context, derived_seed
from recaug_lora_gen.constrain import CatalogConstraint, ItemTrie
from recaug_lora_gen.generation import (
    GenerationStats,
    Sampling,
    gather_rows,
    left_pad,
    my_batches,
)
from recaug_lora_gen.head import DecoderHead


def sample_frontier(
    head: DecoderHead,
    prompts: Sequence[Sequence[int]],
    banned: Sequence[Sequence[int]],
    trie: ItemTrie,
    n_items: int | Sequence[int],
    sampling: Sampling,
    *,
    pad_id: int,
    eos_id: int,
    ctx: Context,
    phase: str,
    stats: GenerationStats | None = None,
) -> list[list[tuple[int, float]]]:
    """As ``generation.sample_items``: for each prompt up to ``n_items`` distinct catalog
    items (none of its ``banned``) with their scores; all return sequences are merged."""
    per_prompt = [n_items] * len(prompts) if isinstance(n_items, int) else list(n_items)
    results: list[list[tuple[int, float]]] = [[] for _ in prompts]
    copies = sampling.num_return_sequences
    bar = ctx.progress(total=len(prompts), desc=f"lora-gen {phase}", unit="user")
    started = time.perf_counter()
    for begin in my_batches(len(prompts), sampling.batch_size, ctx):
        rows = list(range(begin, min(begin + sampling.batch_size, len(prompts))))
        expanded = [r for r in rows for _ in range(copies)]
        walk = CatalogConstraint(
            trie, [banned[r] for r in expanded], [per_prompt[r] for r in expanded], eos_id
        )
        torch.manual_seed(derived_seed(ctx.seed, phase, begin))
        most = max(per_prompt[r] for r in rows) * max(trie.max_depth, 1) + 1
        tokens, logprobs = _decode(
            head, [prompts[r] for r in expanded], walk, most, sampling, pad_id
        )
        for sequence, prompt in enumerate(expanded):
            taken = {item for item, _ in results[prompt]}
            for item, positions in trie.split(tokens[sequence]):
                if item in taken or len(results[prompt]) >= per_prompt[prompt]:
                    continue
                results[prompt].append((item, sum(logprobs[sequence][p] for p in positions)))
                taken.add(item)
        if stats is not None:
            stats.new_tokens += sum(len(t) for t in tokens)
        bar.update(len(rows))
    bar.close()
    results = gather_rows(results, ctx)
    if stats is not None:
        stats.items += sum(len(r) for r in results)
        stats.seconds += time.perf_counter() - started
    return results


def _decode(
    head: DecoderHead,
    prompts: list[Sequence[int]],
    walk: CatalogConstraint,
    max_new_tokens: int,
    sampling: Sampling,
    pad_id: int,
) -> tuple[list[list[int]], list[list[float]]]:
    """Each row's sampled tokens (EOS last, when it stopped) and their log-probabilities."""
    device = head.weight.device
    ids, mask = left_pad(prompts, pad_id)
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    warpers: list[Any] = []
    if sampling.top_k > 0:
        warpers.append(TopKLogitsWarper(top_k=sampling.top_k))
    if sampling.top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=sampling.top_p))
    tokens: list[list[int]] = [[] for _ in prompts]
    logprobs: list[list[float]] = [[] for _ in prompts]
    active = np.arange(len(prompts))  # rows still decoding, in the cache's order
    with torch.no_grad():
        hidden, cache = head.hidden(input_ids=ids, attention_mask=mask, position_ids=positions)
        last = hidden[:, -1]
        position = positions[:, -1]
        for _ in range(max_new_tokens):
            allowed = walk.allowed_tokens()
            frontier = [allowed[row] for row in active]
            union = np.unique(np.concatenate(frontier))
            logits = head.logits(last, torch.from_numpy(union).to(device)).float()
            keep = np.zeros(logits.shape, dtype=bool)
            for i, row_tokens in enumerate(frontier):
                keep[i, np.searchsorted(union, row_tokens)] = True
            logits = logits.masked_fill(~torch.from_numpy(keep).to(device), -float("inf"))
            scores = logits.log_softmax(-1)
            warped = logits / sampling.temperature
            for warper in warpers:
                warped = warper(None, warped)
            choice = torch.multinomial(warped.softmax(-1), 1).squeeze(1)
            chosen = union[choice.cpu().numpy()]
            picked = scores.gather(1, choice[:, None]).squeeze(1).cpu().tolist()
            step = np.full(len(prompts), pad_id, dtype=np.int64)
            step[active] = chosen
            for i, row in enumerate(active):
                tokens[row].append(int(chosen[i]))
                logprobs[row].append(float(picked[i]))
            walk.advance(step)
            going = ~walk.stopped[active]
            if not going.any():
                break
            if not going.all():  # finished rows leave the batch and the cache
                index = torch.from_numpy(np.flatnonzero(going)).to(device)
                cache.batch_select_indices(index)
                mask, position, choice = mask[index], position[index], choice[index]
                chosen, active = chosen[going], active[going]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
            position = position + 1
            hidden, cache = head.hidden(
                input_ids=torch.from_numpy(chosen).to(device)[:, None],
                attention_mask=mask,
                position_ids=position[:, None],
                cache=cache,
            )
            last = hidden[:, -1]
    return tokens, logprobs
