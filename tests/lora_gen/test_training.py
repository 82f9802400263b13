"""Training batches of similar length within a token budget, and the loss scored only at
labelled positions, which must equal the model's own loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recaug_lora_gen.training import (
    IGNORE,
    Example,
    collate,
    epoch_batches,
    labelled_loss,
    labelled_loss_applies,
)


def test_an_epoch_takes_every_example_once_in_batches_within_the_budget():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 60, size=2000)
    batches = epoch_batches(lengths, 512, torch.Generator().manual_seed(0))
    taken = np.concatenate(batches)
    assert sorted(taken.tolist()) == list(range(2000))
    assert all(len(b) * lengths[b].max() <= 512 for b in batches)
    short = np.full(1000, 8)
    assert len(epoch_batches(short, 512, torch.Generator())) == 1000 * 8 // 512 + 1
    again = epoch_batches(lengths, 512, torch.Generator().manual_seed(0))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))


def test_an_example_longer_than_the_budget_gets_a_batch_of_its_own():
    batches = epoch_batches(np.array([5, 900, 5]), 100, torch.Generator())
    assert sorted(len(b) for b in batches) == [1, 2]


def tiny(model_type: str):
    import transformers

    config = {
        "llama": transformers.LlamaConfig(
            vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32,
        ),
        "gpt2": transformers.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2),
        "qwen2": transformers.Qwen2Config(
            vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32,
        ),
    }[model_type]  # fmt: skip
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "qwen2"])
def test_labelled_loss_is_the_models_own_loss(model_type: str):
    model = tiny(model_type)
    assert labelled_loss_applies(model)
    examples = [
        Example([1, 5, 7, 9, 2], [IGNORE, IGNORE, IGNORE, 9, 2]),
        Example([1, 4, 2], [IGNORE, 4, 2]),
        Example([1, 8, 8, 8, 8, 3, 2], [IGNORE] * 5 + [3, 2]),
    ]
    batch = collate(examples, pad_id=0)
    with torch.no_grad():
        own = model(**batch).loss
        ours = labelled_loss(model, batch)
    assert ours.item() == pytest.approx(own.item(), rel=1e-5)


def test_labelled_loss_of_a_lora_model_is_its_own_loss():
    from recaug_lora_gen.models import attach_lora
    from recaug_lora_gen.options import LoraGenOptions

    model = attach_lora(tiny("llama"), LoraGenOptions(dropout=0.0))
    for name, param in model.named_parameters():
        if "lora_B" in name:  # B starts at zero: make the adapter change the output
            torch.nn.init.normal_(param)
    batch = collate([Example([1, 5, 7, 2], [IGNORE, IGNORE, 7, 2])], pad_id=0)
    assert labelled_loss_applies(model)
    with torch.no_grad():
        assert labelled_loss(model, batch).item() == pytest.approx(
            model(**batch).loss.item(), rel=1e-5
        )
        plain = tiny("llama")(**batch).loss.item()
    assert labelled_loss(model, batch).item() != pytest.approx(plain, rel=1e-3)


def test_the_sampled_softmax_estimates_the_full_loss():
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=4000, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    rng = np.random.default_rng(0)
    examples = [Example(ids := rng.integers(4, 4000, 12).tolist(), ids) for _ in range(8)]
    batch = collate(examples, pad_id=0)
    with torch.no_grad():
        full = labelled_loss(model, batch).item()
        assert labelled_loss(model, batch, 0, torch.Generator()).item() == full
        wide = labelled_loss(model, batch, 3000, torch.Generator()).item()
        assert wide == pytest.approx(full), "covering half the vocabulary: the full softmax"
        gen = torch.Generator().manual_seed(0)
        sampled = [labelled_loss(model, batch, 500, gen).item() for _ in range(20)]
    assert np.mean(sampled) == pytest.approx(full, rel=0.02)
    assert np.std(sampled) > 0
