"""The language model as a scorer: the log-probability of candidate items given a history,
without generating anything.

For a batch of users, each prompt runs through the model once; its key/value cache is then
repeated for the user's ``k`` candidates, and all candidates' tokens run as one batch on top of
it, so a user costs its prompt plus ``k`` short items rather than ``k`` whole sequences. An
item's score is the sum over its tokens of the next-token log-softmax: over the catalog's
tokens with the restricted output layer (as the model was fine-tuned), else over the whole
vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from recaug_lora_gen.generation import left_pad
from recaug_lora_gen.head import DecoderHead


def candidate_logprobs(
    head: DecoderHead,
    prompts: Sequence[Sequence[int]],
    candidates: Sequence[Sequence[Sequence[int]]],
    vocabulary: np.ndarray | None,
    *,
    pad_id: int,
) -> np.ndarray:
    """``[len(prompts), k]``: log P(candidate j's tokens | prompt i); every prompt has ``k``
    candidates, each a non-empty token sequence (in ``vocabulary`` when one is given)."""
    device = head.weight.device
    n, k = len(prompts), len(candidates[0]) if candidates else 0
    if n == 0 or k == 0:
        return np.zeros((n, k), dtype=np.float32)
    columns = None if vocabulary is None else torch.as_tensor(vocabulary, device=device)
    flat = [list(c) for per_user in candidates for c in per_user]  # n * k, user-major

    def column(tokens: torch.Tensor) -> torch.Tensor:
        if vocabulary is None:
            return tokens
        # padding (masked out afterwards) may fall outside the vocabulary: clip it in range
        index = np.searchsorted(vocabulary, tokens.cpu().numpy()).clip(max=len(vocabulary) - 1)
        return torch.from_numpy(index).to(device)

    ids, mask = left_pad(prompts, pad_id)
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    width = max(len(c) for c in flat)
    follow = torch.full((n * k, width), pad_id, dtype=torch.long)
    present = torch.zeros((n * k, width), dtype=torch.bool)
    for row, tokens in enumerate(flat):
        follow[row, : len(tokens)] = torch.tensor(tokens)
        present[row, : len(tokens)] = True
    follow, present = follow.to(device), present.to(device)
    with torch.no_grad():
        hidden, cache = head.hidden(input_ids=ids, attention_mask=mask, position_ids=positions)
        first = head.logits(hidden[:, -1], columns).float().log_softmax(-1)  # [n, V]
        first = first.repeat_interleave(k, dim=0)
        total = first.gather(1, column(follow[:, :1])).squeeze(1)
        if width > 1:
            cache.batch_repeat_interleave(k)
            feed = follow[:, :-1]
            extended = torch.cat([mask.repeat_interleave(k, dim=0), present[:, :-1].long()], 1)
            start = positions[:, -1].repeat_interleave(k)[:, None] + 1
            step_positions = start + torch.arange(width - 1, device=device)
            later, _ = head.hidden(
                input_ids=feed,
                attention_mask=extended,
                position_ids=step_positions,
                cache=cache,
            )
            logp = head.logits(later, columns).float().log_softmax(-1)  # [n*k, width-1, V]
            targets = follow[:, 1:]
            picked = logp.gather(2, column(targets)[..., None]).squeeze(2)
            total = total + (picked * present[:, 1:]).sum(1)
    return total.reshape(n, k).cpu().numpy().astype(np.float32)
