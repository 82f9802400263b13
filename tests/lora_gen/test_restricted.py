"""The catalog-restricted output layer: fine-tuning over the catalog's tokens, sampling with
logits for the trie's frontier only, and candidate scoring, on a small Gemma 3 from disk."""

from __future__ import annotations

import pytest
from extensions import extension_rows

SMALL_DEMO = ["-s", "users=80", "-s", "items=80", "-s", "interactions=1200"]


def augment(recaug, out, fast, *extra, **more):
    pairs = {**fast, **more}
    opts = [arg for key, value in pairs.items() for arg in ("-o", f"{key}={value}")]
    return recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen", *opts, *extra, "--out", out,
    )  # fmt: skip


@pytest.mark.parametrize("layer", ["catalog", "full"])
def test_gemma_extends_users_with_catalog_items_only(recaug, fast, tmp_path, saved_gemma, layer):
    out = tmp_path / layer
    result = augment(recaug, out, fast, base_model=saved_gemma, output_layer=layer)
    assert result.code == 0, result.err
    rows = extension_rows(out)
    pairs = list(zip(rows["user_id"], rows["item_id"]))
    assert len(set(pairs)) == len(pairs), "an item generated twice for one user"
    assert rows.groupby("user_id").size().max() <= fast["per_user"]
    assert (rows["score"] <= 0).all()


@pytest.fixture(scope="module")
def gemma(saved_gemma):
    """(model, tokenizer, item token sequences) of the small saved Gemma."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from recaug_core.testing import tiny_dataset

    tokenizer = AutoTokenizer.from_pretrained(saved_gemma)
    model = AutoModelForCausalLM.from_pretrained(saved_gemma, dtype=torch.float32).eval()
    items = [
        tokenizer.encode(" " + t, add_special_tokens=False)
        for t in tiny_dataset().items.column("title").to_pylist()
    ]
    return model, tokenizer, items


def test_packed_examples_do_not_see_each_other(gemma):
    """Packing puts several examples in a row; each must get the logits it gets alone."""
    import torch

    from recaug_lora_gen.training import Example, collate, forward, pack

    def training_logits(model, batch):
        return forward(model, {k: v for k, v in batch.items() if k != "labels"}).logits

    model, tokenizer, items = gemma
    first = Example(input_ids=items[0] + items[1], labels=items[0] + items[1])
    second = Example(input_ids=items[3], labels=items[3])
    size = len(first.input_ids) + len(second.input_ids)
    rows = pack([first, second], max_length=size)
    assert len(rows) == 1 and len(rows[0].input_ids) == size
    batch = collate(rows, tokenizer.pad_token_id)
    with torch.no_grad():
        packed = training_logits(model, batch)
        alone = model(input_ids=torch.tensor([second.input_ids])).logits
    start = len(first.input_ids)
    torch.testing.assert_close(packed[0, start:], alone[0], rtol=1e-4, atol=1e-4)


def test_pack_fills_rows_up_to_the_limit_and_keeps_every_token():
    from recaug_lora_gen.training import Example, pack

    examples = [Example(list(range(n)), list(range(n))) for n in (7, 5, 4, 3, 1)]
    rows = pack(examples, max_length=10)
    assert all(len(r.input_ids) <= 10 for r in rows)
    assert sorted(len(r.input_ids) for r in rows) == [10, 10]  # 7+3, 5+4+1
    assert sum(len(r.input_ids) for r in rows) == 20


def test_restricted_layer_gives_the_full_layers_columns_and_is_put_back(gemma):
    import numpy as np
    import torch

    from recaug_lora_gen.head import restricted_output

    model, _, items = gemma
    vocabulary = np.unique(np.concatenate([np.asarray(t) for t in items]))
    ids = torch.tensor([items[0] + items[1]])
    original = model.get_output_embeddings()
    with torch.no_grad():
        full = model(input_ids=ids).logits
        with restricted_output(model, vocabulary):
            narrow = model(input_ids=ids).logits
    assert narrow.shape[-1] == len(vocabulary) < full.shape[-1]
    torch.testing.assert_close(narrow, full[..., vocabulary])
    assert model.get_output_embeddings() is original


def _greedy():
    from recaug_lora_gen.generation import Sampling

    return Sampling(temperature=1.0, top_k=1, top_p=1.0, num_return_sequences=1, batch_size=4)


def test_frontier_sampling_picks_what_full_constrained_generation_picks(gemma, tmp_path):
    """Greedy (top_k=1): logits for the frontier only must choose the same items as the full
    output layer followed by the catalog mask, for rows that stop at different times."""
    from recaug_core import Context
    from recaug_lora_gen.constrain import ItemTrie
    from recaug_lora_gen.frontier import sample_frontier
    from recaug_lora_gen.generation import sample_items
    from recaug_lora_gen.head import DecoderHead

    model, tokenizer, items = gemma
    trie = ItemTrie(items, list(range(len(items))))
    prompts = [items[0] + items[5], items[2], items[7] + items[1] + items[3], items[4]]
    banned = [[0, 5], [2], [7, 1, 3], [4]]
    wanted = [3, 1, 2, 4]
    common = {"pad_id": tokenizer.pad_token_id, "eos_id": tokenizer.eos_token_id}
    ctx = Context(seed=0, work_dir=tmp_path, show_progress=False)
    full = sample_items(
        model, prompts, banned, trie, wanted, _greedy(), ctx=ctx, phase="t", **common
    )
    frontier = sample_frontier(
        DecoderHead(model), prompts, banned, trie, wanted, _greedy(), ctx=ctx, phase="t", **common
    )
    assert [[i for i, _ in r] for r in frontier] == [[i for i, _ in r] for r in full]
    assert [len(r) for r in frontier] == wanted
    assert all(score <= 0 for r in frontier for _, score in r)


@pytest.mark.parametrize("restricted", [True, False])
def test_candidate_scores_match_one_sequence_at_a_time(gemma, restricted):
    """Batched scoring (left-padded prompts, a shared cache, candidates of unequal length)
    equals summing each candidate's next-token log-probabilities over a plain forward pass."""
    import numpy as np
    import torch

    from recaug_lora_gen.head import DecoderHead
    from recaug_lora_gen.scoring import candidate_logprobs

    model, tokenizer, items = gemma
    vocabulary = np.unique(np.concatenate([np.asarray(t) for t in items])) if restricted else None
    prompts = [items[0] + items[1], items[2] + items[3] + items[4] + items[5]]
    candidates = [[items[6], items[7], items[8]], [items[9], items[0], items[10]]]
    scores = candidate_logprobs(
        DecoderHead(model), prompts, candidates, vocabulary, pad_id=tokenizer.pad_token_id
    )
    for u, prompt in enumerate(prompts):
        for j, item in enumerate(candidates[u]):
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([prompt + item])).logits[0]
            if vocabulary is not None:
                logits = logits[:, vocabulary]
            logp = logits.log_softmax(-1)
            columns = item if vocabulary is None else np.searchsorted(vocabulary, item).tolist()
            expected = sum(float(logp[len(prompt) - 1 + t, columns[t]]) for t in range(len(item)))
            assert scores[u, j] == pytest.approx(expected, abs=1e-3)
