"""`base_model=tiny`: a small Llama-architecture model pretrained from scratch on the training
histories, for when no pretrained model is at hand (and for tests and demos on a CPU).

Its tokenizer is word-level and gives every item name one token, so a history of 20 items is
20 tokens. The result is saved like any Hugging Face model (``save_pretrained``, safetensors)
into ``<cache>/tiny-<fingerprint>``, where the fingerprint covers the training data, the item
names, the templates and every option that shapes the model; the rest of the strategy then
loads it through the same ``from_pretrained`` path as ``base_model=PATH``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recaug_core import Context

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
MAX_WORDS = 4000  # plain words besides item names (template and item-text vocabulary)


def fingerprint(parts: dict[str, Any], arrays: Sequence[np.ndarray]) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def build_tokenizer(names: Sequence[str], texts: Sequence[str]) -> Any:
    """Word-level tokenizer: specials, the most frequent words of ``texts``, and one added
    token per item name (matched whole, before splitting on whitespace)."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    counts = Counter(word for text in texts for word in text.split())
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_WORDS]]
    vocab = {token: i for i, token in enumerate([*SPECIALS, *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.add_tokens([AddedToken(name, single_word=True, normalized=False) for name in names])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )


def build_model(tokenizer: Any, hidden: int, layers: int, max_length: int) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 16),
        num_key_value_heads=max(1, hidden // 16),
        max_position_embeddings=max_length,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config)


def ensure_tiny(
    cache: Path,
    key: str,
    names: Sequence[str],
    texts: Sequence[str],
    documents: Any,
    options: Any,
    ctx: Context,
) -> Path:
    """The tiny base model's folder, pretrained now unless the cache already holds it.

    ``documents(tokenizer)`` returns the pretraining examples (it needs the tokenizer's ids).
    """
    import torch

    from recaug_lora_gen.training import Schedule, run_training
    from recaug_modelkit.quiet import transformers_bars_off

    target = cache / f"tiny-{key}"
    if (target / "config.json").exists():
        ctx.log(f"lora-gen: using the cached tiny base model {target}")
        return target
    tokenizer = build_tokenizer(names, texts)
    torch.manual_seed(ctx.seed)
    model = build_model(tokenizer, options.tiny_hidden, options.tiny_layers, options.max_length)
    schedule = Schedule(
        epochs=options.pretrain_epochs,
        lr=options.pretrain_lr,
        batch_tokens=options.batch_tokens,
        negatives=options.negatives,
        grad_accum=1,
        checkpoint_every=options.checkpoint_every,
    )
    run_training(
        model,
        documents(tokenizer),
        schedule,
        phase="pretrain",
        folder=ctx.checkpoint_dir("lora-gen") / "pretrain",
        fingerprint=key,
        pad_id=tokenizer.pad_token_id,
        ctx=ctx,
    )
    if ctx.is_main_process:
        staging = cache / f".tiny-{key}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        with transformers_bars_off():  # "Writing model shards" frames in a log say nothing
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # a complete folder or none: the cache never holds half a model
    ctx.accelerator().wait_for_everyone()
    return target
