"""transformers' own progress bars stay out of recaug's output."""

from __future__ import annotations

import pytest
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging

from recaug_lora_gen.models import load_base, save_merged
from recaug_lora_gen.tiny import build_tokenizer


@pytest.fixture(autouse=True)
def _bars_on() -> None:
    logging.enable_progress_bar()  # as a notebook may have them


def _one_layer_llama(vocab_size: int) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )


def test_loading_a_model_draws_no_loading_weights_bar(tmp_path, capsys):
    tokenizer = build_tokenizer(["i1", "i2", "i3"], ["a history"])
    tokenizer.save_pretrained(tmp_path)
    config = _one_layer_llama(len(tokenizer))
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    capsys.readouterr()
    model, _ = load_base(str(tmp_path), trust_remote_code=False)
    assert model.config.hidden_size == 8
    assert "Loading weights" not in capsys.readouterr().err
    assert logging.is_progress_bar_enabled(), "a notebook's own setting is restored"


def test_saving_a_model_draws_no_writing_shards_bar(tmp_path, capsys):
    tokenizer = build_tokenizer(["i1", "i2"], ["a history"])
    config = _one_layer_llama(len(tokenizer))

    class Merged:  # what peft's merge_and_unload hands back: a plain transformers model
        def merge_and_unload(self):
            return LlamaForCausalLM(config)

    capsys.readouterr()
    save_merged(Merged(), tokenizer, tmp_path)
    assert (tmp_path / "config.json").exists()
    assert "Writing model shards" not in capsys.readouterr().err
    assert logging.is_progress_bar_enabled()
