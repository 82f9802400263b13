"""The decoding constraint: only catalog items, none banned, none twice, then EOS."""

from __future__ import annotations

import pytest
import torch

from recaug_lora_gen.constrain import CatalogConstraint, ItemTrie

EOS = 0
VOCAB = 10


def allowed(processor: CatalogConstraint, sequence: list[int]) -> set[int]:
    scores = processor(torch.tensor([sequence]), torch.zeros(1, VOCAB))
    return set(torch.nonzero(scores[0] > -float("inf")).flatten().tolist())


def test_walk_allows_only_open_items_and_stops_with_eos():
    trie = ItemTrie([[5, 6], [5, 7], [8]], items=[0, 1, 2])
    processor = CatalogConstraint(trie, banned=[[1]], items_per_row=5, eos_token_id=EOS)
    prompt = [3, 3]
    assert allowed(processor, prompt) == {5, 8}
    assert allowed(processor, [*prompt, 5]) == {6}  # 5,7 is item 1: banned
    # item 0 done: no item starting with 5 is left, so 5 is closed
    assert allowed(processor, [*prompt, 5, 6]) == {8}
    assert allowed(processor, [*prompt, 5, 6, 8]) == {EOS}  # the catalog is exhausted


def test_eos_after_the_requested_number_of_items():
    trie = ItemTrie([[5], [6], [7]], items=[0, 1, 2])
    processor = CatalogConstraint(trie, banned=[[]], items_per_row=1, eos_token_id=EOS)
    assert allowed(processor, [3]) == {5, 6, 7}
    assert allowed(processor, [3, 6]) == {EOS}


def test_split_reads_items_back_and_stops_outside_the_trie():
    trie = ItemTrie([[5, 6], [8]], items=[10, 11])
    assert trie.split([8, 5, 6, EOS, 8]) == [(11, [0]), (10, [1, 2])]


@pytest.mark.parametrize("sequences", [[[5], [5, 6]], [[5, 6], [5]]])
def test_an_item_that_prefixes_another_is_rejected(sequences):
    with pytest.raises(ValueError, match="prefix"):
        ItemTrie(sequences, items=[0, 1])


class WordTokenizer:
    """One id per whitespace-separated word (enough to exercise Catalog.build)."""

    eos_token_id = 0

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [self.ids.setdefault(word, len(self.ids) + 1) for word in text.split()]


def test_items_get_a_separator_only_when_one_name_starts_another():
    from recaug_lora_gen.catalog import Catalog

    tokenizer = WordTokenizer()
    ids = tokenizer.ids
    assert Catalog.build(tokenizer, ["Alien", "Heat"]).tokens == [[ids["Alien"]], [ids["Heat"]]]
    catalog = Catalog.build(tokenizer, ["Star", "Star Wars"])
    star, wars, separator = ids["Star"], ids["Wars"], ids[";"]
    assert catalog.tokens == [[star, separator], [star, wars, separator]]
    ItemTrie(catalog.tokens, items=[0, 1])  # prefix-free now


def test_names_that_stay_ambiguous_are_an_error():
    from recaug_core import RecaugError
    from recaug_lora_gen.catalog import Catalog

    with pytest.raises(RecaugError, match="told apart"):
        Catalog.build(WordTokenizer(), ["Star", "Star ;"])
