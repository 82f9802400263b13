"""Mode `text`: a description for every item whose text is thin, and a profile summary (its
most telling keywords) for users, returned as ``SyntheticData.text``.

The model learns from the training split only: items that do have text teach
"Item: <name> Description: <their text>", and each training user teaches
"User: <history> Profile: <the words most frequent in their items' text>".
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    SyntheticData,
    empty_interactions,
    target_users,
    text_table,
)
from recaug_lora_gen import prompts
from recaug_lora_gen.catalog import Catalog, Template
from recaug_lora_gen.options import LoraGenOptions
from recaug_lora_gen.training import Example

if TYPE_CHECKING:
    from recaug_lora_gen.fitted import Fitted

ITEM_COLUMN = "gen_description"
USER_COLUMN = "gen_profile"
KEYWORDS = 5
MAX_TEXT_TOKENS = 48


def item_descriptions(train: Dataset, options: LoraGenOptions) -> list[str]:
    """Each item's text besides its name ('' where it has none)."""
    name_columns = {options.name_column, "title", "movie_title", "name"}
    columns = [c for c in train.text_columns() if c not in name_columns]
    if not columns:
        return [""] * train.n_items
    ids = train.item_index.ids.to_pylist()
    texts = train.item_texts(columns, separator=" ")
    return [
        "" if text == item_id else " ".join(text.split())
        for text, item_id in zip(texts, ids, strict=True)
    ]


def item_documents(
    train: Dataset, catalog: Catalog, tokenizer: Any, options: LoraGenOptions
) -> list[list[int]]:
    """Pretraining documents for the tiny model: each described item, as the prompt has it."""
    template = Template.build(tokenizer, options.item_template, "{item}")
    return [
        template.before + catalog.tokens[item] + template.after + _encode(tokenizer, text)
        for item, text in enumerate(item_descriptions(train, options))
        if text
    ]


def _encode(tokenizer: Any, text: str) -> list[int]:
    return tokenizer.encode(" " + text, add_special_tokens=False)[:MAX_TEXT_TOKENS]


def _keywords(descriptions: list[str], history: np.ndarray) -> str:
    counts = Counter(word for item in history for word in descriptions[item].split())
    return " ".join(word for word, _ in counts.most_common(KEYWORDS))


def finetune_examples(fitted: Fitted, train: Dataset, ctx: Context) -> list[Example]:
    options, catalog, tokenizer = fitted.options, fitted.catalog, fitted.tokenizer
    item_template = Template.build(tokenizer, options.item_template, "{item}")
    user_template = Template.build(tokenizer, options.user_template, "{history}")
    descriptions = item_descriptions(train, options)
    described = [
        i for i, text in enumerate(descriptions) if len(text.split()) >= options.thin_words
    ]
    prompt_ids = [item_template.fill(catalog, catalog.tokens[i]) for i in described]
    targets = [_encode(tokenizer, descriptions[i]) for i in described]
    for user in range(len(fitted.indptr) - 1):
        history = fitted.history(user)
        words = _keywords(descriptions, history)
        if words:
            prompt_ids.append(_user_prompt(fitted, user_template, history))
            targets.append(_encode(tokenizer, words))
    return prompts.text_examples(
        prompt_ids, targets, catalog.eos, options.max_length, fitted.encoder_decoder
    )


def _user_prompt(fitted: Fitted, template: Template, history: np.ndarray) -> list[int]:
    room = fitted.options.max_length - KEYWORDS * 4
    return prompts.history_prompt(
        fitted.catalog, template, history, fitted.options.max_history, room
    )


def _name_tokens(catalog: Catalog) -> list[int]:
    """Tokens that stand for a whole item name (the tiny tokenizer's): a description is made of
    words, so these are never sampled in text. Multi-token names are ordinary words: kept."""
    if all(len(tokens) == 1 for tokens in catalog.tokens):
        return [tokens[0] for tokens in catalog.tokens]
    return []


def generate_text(
    fitted: Fitted,
    train: Dataset,
    request: GenerationRequest,
    options: LoraGenOptions,
    ctx: Context,
) -> SyntheticData:
    from recaug_lora_gen.generation import sample_text

    tokenizer, catalog = fitted.tokenizer, fitted.catalog
    item_template = Template.build(tokenizer, options.item_template, "{item}")
    user_template = Template.build(tokenizer, options.user_template, "{history}")
    descriptions = item_descriptions(train, options)
    thin = [i for i, text in enumerate(descriptions) if len(text.split()) < options.thin_words]
    users = target_users(train, "sparse" if request.target == "new" else request.target)
    if request.budget is not None:
        thin = thin[: request.budget]
        users = users[: max(0, request.budget - len(thin))]
    item_prompts = [item_template.fill(catalog, catalog.tokens[i]) for i in thin]
    user_prompts = [_user_prompt(fitted, user_template, fitted.history(u)) for u in users]
    texts = sample_text(
        fitted.model,
        tokenizer,
        item_prompts + user_prompts,
        fitted.sampling(),
        MAX_TEXT_TOKENS,
        pad_id=tokenizer.pad_token_id,
        eos_id=catalog.eos,
        ctx=ctx,
        banned_tokens=_name_tokens(catalog),
    )
    item_ids = train.item_index.to_ids(np.asarray(thin, dtype=np.int64))
    user_ids = train.user_index.to_ids(np.asarray(users, dtype=np.int64))
    text = pa.concat_tables(
        [
            text_table("item", item_ids, ITEM_COLUMN, texts[: len(thin)], "lora-gen"),
            text_table("user", user_ids, USER_COLUMN, texts[len(thin) :], "lora-gen"),
        ]
    )
    return SyntheticData(empty_interactions(), text)
