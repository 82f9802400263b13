"""Training examples and generation prompts, built from token ids (see ``catalog``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recaug_lora_gen.catalog import Catalog, Items, Template
from recaug_lora_gen.training import IGNORE, Example


def history_prompt(
    catalog: Catalog, template: Template, history: Items, max_items: int, room: int
) -> list[int]:
    """The template around the most recent items of ``history`` that fit in ``room`` tokens
    (at least the newest one, even if it alone is too long)."""
    budget = room - len(catalog.bos) - len(template.before) - len(template.after)
    chosen: list[int] = []
    for item in reversed(history[-max_items:]):
        budget -= len(catalog.tokens[item])
        if budget < 0 and chosen:
            break
        chosen.append(item)
    return template.fill(catalog, catalog.history(chosen[::-1]))


def example(prompt: list[int], target: list[int], encoder_decoder: bool) -> Example:
    if encoder_decoder:
        return Example(prompt, target)
    return Example(prompt + target, [IGNORE] * len(prompt) + target)


def next_item_examples(
    catalog: Catalog,
    template: Template,
    indptr: np.ndarray,
    items: np.ndarray,
    *,
    cuts: int,
    per_user: int,
    max_items: int,
    max_length: int,
    encoder_decoder: bool,
    rng: np.random.Generator,
) -> list[Example]:
    """Per user, ``cuts`` random split points: the items before one are the prompt, the next
    ``per_user`` items (then EOS) the target, as generation will ask for them."""
    examples = []
    for user in range(len(indptr) - 1):
        history = items[indptr[user] : indptr[user + 1]]
        if len(history) < 2:
            continue
        for cut in np.sort(rng.integers(1, len(history), size=min(cuts, len(history) - 1))):
            target = [*catalog.history(history[cut : cut + per_user]), catalog.eos]
            room = max_length - len(target)
            if room < 1:
                continue
            prompt = history_prompt(catalog, template, history[:cut], max_items, room)
            examples.append(example(prompt, target, encoder_decoder))
    return examples


def text_examples(
    prompts: Sequence[list[int]],
    targets: Sequence[list[int]],
    eos: int,
    max_length: int,
    encoder_decoder: bool,
) -> list[Example]:
    """Prompt -> text examples, the text cut so that prompt and text fit ``max_length``."""
    examples = []
    for prompt, target in zip(prompts, targets, strict=True):
        room = max_length - len(prompt) - 1
        if room < 1 or not target:
            continue
        examples.append(example(prompt, [*target[:room], eos], encoder_decoder))
    return examples


def pretraining_documents(
    catalog: Catalog,
    indptr: np.ndarray,
    items: np.ndarray,
    extra: Sequence[list[int]],
    max_length: int,
) -> list[Example]:
    """Whole histories (and ``extra`` token documents) cut into windows, every token a label."""
    documents = [
        catalog.bos + catalog.history(items[indptr[u] : indptr[u + 1]]) + [catalog.eos]
        for u in range(len(indptr) - 1)
        if indptr[u + 1] > indptr[u]
    ]
    documents += [catalog.bos + doc + [catalog.eos] for doc in extra]
    windows = []
    for doc in documents:
        for start in range(0, max(len(doc) - 1, 1), max_length):
            piece = doc[start : start + max_length]
            if len(piece) > 1:
                windows.append(Example(piece, list(piece)))
    return windows
