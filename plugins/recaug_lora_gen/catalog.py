"""Item names and their token sequences, the unit that prompts and constrained decoding share.

A prompt is assembled from token ids, never from re-tokenised text: an item contributes the
same ids in a prompt, in a training target and in the decoding trie, whatever the tokenizer
would do to the surrounding words.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recaug_core import Dataset, RecaugError

Items = Sequence[int] | np.ndarray  # item indices: a list, or a slice of a history array

NAME_COLUMNS = ("title", "movie_title", "name")
HISTORY = "{history}"


def item_names(train: Dataset, column: str | None) -> list[str]:
    """One distinct name per item of ``train.item_index``: its title (or ``column``), made
    unique with the id where titles repeat; items without text are named by their id."""
    available = train.text_columns()
    if column is not None and column not in available:
        raise RecaugError(
            f"option 'name_column' of strategy 'lora-gen': the items table has no text column "
            f"'{column}' (present: {', '.join(available) or 'none'})"
        )
    chosen = column or next((c for c in NAME_COLUMNS if c in available), None)
    ids = train.item_index.ids.to_pylist()
    names = train.item_texts([chosen]) if chosen else list(ids)
    names = [" ".join(name.split()) or item_id for name, item_id in zip(names, ids, strict=True)]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [
        f"{name} ({item_id})" if seen[name] > 1 else name
        for name, item_id in zip(names, ids, strict=True)
    ]


@dataclass
class Catalog:
    """Token ids of every item (aligned with ``train.item_index``) and of the template."""

    names: list[str]
    tokens: list[list[int]]
    bos: list[int]  # what the tokenizer puts in front of a text (may be empty)
    eos: int

    @classmethod
    def build(cls, tokenizer: Any, names: Sequence[str]) -> Catalog:
        tokens = [tokenizer.encode(" " + name, add_special_tokens=False) for name in names]
        if not all(tokens):
            raise RecaugError("lora-gen: the tokenizer turns an item name into no tokens")
        if not _prefix_free(tokens):
            # A separator ends every item, so "Alien" is never read as the start of "Aliens".
            separator = tokenizer.encode(" ;", add_special_tokens=False)
            tokens = [t + separator for t in tokens]
        if not _prefix_free(tokens):  # e.g. one name is another's followed by " ;"
            raise RecaugError(
                "lora-gen: some item names cannot be told apart once tokenised (identical, or "
                "one is another followed by ' ;'); choose another name_column"
            )
        eos = tokenizer.eos_token_id
        if eos is None:
            raise RecaugError("lora-gen: the base model's tokenizer has no EOS token")
        with_special = tokenizer.encode("x", add_special_tokens=True)
        plain = tokenizer.encode("x", add_special_tokens=False)
        bos = (
            with_special[: len(with_special) - len(plain)]
            if with_special[-len(plain) :] == plain
            else []
        )
        return cls(list(names), tokens, bos, int(eos))

    def history(self, items: Items) -> list[int]:
        return [token for item in items for token in self.tokens[item]]


def _encode(tokenizer: Any, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False) if text.strip() else []


def _prefix_free(tokens: list[list[int]]) -> bool:
    """No sequence starts another (nor equals it)."""
    ordered = sorted(tuple(t) for t in tokens)
    return all(b[: len(a)] != a for a, b in itertools.pairwise(ordered))


@dataclass
class Template:
    """A prompt template with one ``{history}`` (or ``{item}``) slot, tokenised around it."""

    before: list[int]
    after: list[int]

    @classmethod
    def build(cls, tokenizer: Any, text: str, slot: str = HISTORY) -> Template:
        """``text`` holds ``slot`` exactly once (the options validate every template)."""
        before, after = text.split(slot)
        return cls(_encode(tokenizer, before), _encode(tokenizer, after))

    def fill(self, catalog: Catalog, middle: list[int]) -> list[int]:
        return catalog.bos + self.before + middle + self.after
