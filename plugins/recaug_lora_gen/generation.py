"""Batched sampling with the catalog constraint, and the log-probability of each item."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from recaug_core import Context, derived_seed
from recaug_lora_gen.constrain import CatalogConstraint, ItemTrie


@dataclass
class Sampling:
    temperature: float
    top_k: int
    top_p: float
    num_return_sequences: int
    batch_size: int


@dataclass
class GenerationStats:
    new_tokens: int = 0
    items: int = 0
    seconds: float = 0.0


def my_batches(n_prompts: int, batch_size: int, ctx: Context) -> range:
    """The batch starts this process samples: every ``world``-th batch from its rank.

    Each batch is seeded by its start, so the rows do not depend on how many processes share
    the work (``accelerate launch`` on several devices gives the same rows as one process).
    """
    accelerator = ctx.accelerator()
    step = batch_size * accelerator.num_processes
    return range(accelerator.process_index * batch_size, n_prompts, step)


def gather_rows(results: list[list[Any]], ctx: Context) -> list[list[Any]]:
    """Every process's results merged by prompt (each prompt was sampled by one process)."""
    accelerator = ctx.accelerator()
    if accelerator.num_processes == 1:
        return results
    from accelerate.utils import gather_object

    mine = [(index, found) for index, found in enumerate(results) if found]
    merged: list[list[Any]] = [[] for _ in results]
    for index, found in gather_object(mine):
        merged[index] = found
    return merged


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        if prompt:
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
    return ids, mask


def sample_items(
    model: Any,
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
    constrained: bool = True,
    stats: GenerationStats | None = None,
) -> list[list[tuple[int, float]]]:
    """For each prompt, up to ``n_items`` distinct catalog items (none of its ``banned``), each
    with its log-probability under the model; all return sequences of a prompt are merged."""
    per_prompt = [n_items] * len(prompts) if isinstance(n_items, int) else list(n_items)
    results: list[list[tuple[int, float]]] = [[] for _ in prompts]
    copies = sampling.num_return_sequences
    bar = ctx.progress(total=len(prompts), desc=f"lora-gen {phase}", unit="user")
    started = time.perf_counter()
    device = model.device
    for begin in my_batches(len(prompts), sampling.batch_size, ctx):
        rows = list(range(begin, min(begin + sampling.batch_size, len(prompts))))
        ids, mask = left_pad([prompts[r] for r in rows], pad_id)
        want = max(per_prompt[r] for r in rows)
        processor = CatalogConstraint(
            trie,
            [banned[r] for r in rows for _ in range(copies)],
            [per_prompt[r] for r in rows for _ in range(copies)],  # each row stops at its own
            eos_id,
            temperature=sampling.temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            enabled=constrained,
        )
        torch.manual_seed(derived_seed(ctx.seed, phase, begin))
        with torch.no_grad():
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                num_return_sequences=copies,
                max_new_tokens=want * max(trie.max_depth, 1) + 1,
                logits_processor=[processor],
                return_dict_in_generate=True,
                output_logits=True,
                pad_token_id=pad_id,
                eos_token_id=eos_id,
            )
        new = out.sequences[:, -len(out.logits) :]
        # One step at a time, keeping only each chosen token's log-probability: stacking every
        # step's logits first held two more copies of steps x rows x vocabulary (tens of GB
        # for a 262k-token vocabulary at batch 128).
        logprobs = torch.stack(
            [
                step.float().log_softmax(-1).gather(1, new[:, i : i + 1]).squeeze(1)
                for i, step in enumerate(out.logits)
            ],
            dim=1,
        ).cpu()
        new = new.cpu()
        for sequence in range(new.shape[0]):
            prompt = rows[sequence // copies]
            tokens = new[sequence].tolist()
            taken = {item for item, _ in results[prompt]}
            for item, positions in trie.split(tokens):
                if item in taken or len(results[prompt]) >= per_prompt[prompt]:
                    continue
                score = sum(float(logprobs[sequence, p]) for p in positions)
                results[prompt].append((item, score))
                taken.add(item)
        if stats is not None:
            stats.new_tokens += int((new != pad_id).sum())
        bar.update(len(rows))
    bar.close()
    results = gather_rows(results, ctx)
    if stats is not None:
        stats.items += sum(len(r) for r in results)
        stats.seconds += time.perf_counter() - started
    return results


def sample_text(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling,
    max_new_tokens: int,
    *,
    pad_id: int,
    eos_id: int,
    ctx: Context,
    banned_tokens: Sequence[int] = (),
) -> list[str]:
    """Free text after each prompt (no catalog constraint), one sample per prompt;
    ``banned_tokens`` are never sampled."""
    texts: list[list[str]] = [[] for _ in prompts]
    bar = ctx.progress(total=len(prompts), desc="lora-gen text", unit="text")
    for begin in my_batches(len(prompts), sampling.batch_size, ctx):
        batch = prompts[begin : begin + sampling.batch_size]
        ids, mask = left_pad(batch, pad_id)
        warp = CatalogConstraint(
            ItemTrie([], []),
            [[] for _ in batch],
            0,
            eos_id,
            temperature=sampling.temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            enabled=False,
        )
        processors: list[Any] = [warp]
        if banned_tokens:
            from transformers import SuppressTokensLogitsProcessor

            suppress = SuppressTokensLogitsProcessor(list(banned_tokens), device=model.device)
            processors = [suppress, warp]
        torch.manual_seed(derived_seed(ctx.seed, "text", begin))
        with torch.no_grad():
            out = model.generate(
                input_ids=ids.to(model.device),
                attention_mask=mask.to(model.device),
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                logits_processor=processors,
                return_dict_in_generate=True,
                output_logits=True,
                pad_token_id=pad_id,
                eos_token_id=eos_id,
            )
        new = out.sequences[:, -len(out.logits) :].cpu()
        decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
        for offset, text in enumerate(decoded):
            texts[begin + offset] = [" ".join(text.split())]
        bar.update(len(batch))
    bar.close()
    return [found[0] if found else "" for found in gather_rows(texts, ctx)]
