"""Fixtures for lora-gen: fast options, tiny saved models (built here, loaded from disk).

Helper modules of this folder are imported by name: pytest runs in importlib mode, which does
not put test folders on sys.path, so this file does (as tests/filters/conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lora_fast import FAST


@pytest.fixture
def fast() -> dict[str, object]:
    return dict(FAST)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny models run fastest on one thread, and the CI machine is shared.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tokenizer(titles: list[str], path: Path, *, vocab_size: int = 300) -> None:
    """A byte-level BPE tokenizer trained on ``titles``: items take several tokens each."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "</s>", "<s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator([*titles, "History: Next: ;"], trainer)
    PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", bos_token="<s>"
    ).save_pretrained(path)


def _titles() -> list[str]:
    from recaug_core.testing import tiny_dataset

    return tiny_dataset().items.column("title").to_pylist()


@pytest.fixture(scope="session")
def saved_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Llama causal LM with a BPE tokenizer, saved with save_pretrained."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    path = tmp_path_factory.mktemp("llama")
    _tokenizer(_titles(), path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def saved_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small T5 encoder-decoder with a BPE tokenizer, saved with save_pretrained."""
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    path = tmp_path_factory.mktemp("t5")
    _tokenizer(_titles(), path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    T5ForConditionalGeneration(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def saved_gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Gemma 3 causal LM (Gemma's architecture: sliding and full attention layers,
    tied output layer) whose vocabulary is padded to 4,096 entries, so that the catalog's
    tokens are a small part of it as with the real model; saved with save_pretrained."""
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    path = tmp_path_factory.mktemp("gemma")
    _tokenizer(_titles(), path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=4096,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=8,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    Gemma3ForCausalLM(config).save_pretrained(path)
    return path
