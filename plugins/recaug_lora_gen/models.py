"""Loading the base model and tokenizer, attaching LoRA, saving and reloading adapters.

Weights load from safetensors only. Adapters are read here rather than through
``PeftModel.from_pretrained``, which would fall back to a pickled ``adapter_model.bin``: the
config comes from ``LoraConfig.from_pretrained`` (JSON) and the weights from
``adapter_model.safetensors`` via ``safetensors``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from recaug_core import RecaugError
from recaug_modelkit.quiet import transformers_bars_off

ADAPTER_WEIGHTS = "adapter_model.safetensors"


def load_base(path: str, trust_remote_code: bool) -> tuple[Any, Any]:
    """(model, tokenizer) from a folder or hub id; encoder-decoder models are recognised."""
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
    )

    try:
        with transformers_bars_off():
            config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
            loader = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
            model = loader.from_pretrained(
                path,
                use_safetensors=True,
                trust_remote_code=trust_remote_code,
            )
    except (OSError, ValueError) as exc:
        raise RecaugError(
            f"option 'base_model' of strategy 'lora-gen': cannot load {path!r} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def attach_lora(model: Any, options: Any) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model

    task = TaskType.SEQ_2_SEQ_LM if model.config.is_encoder_decoder else TaskType.CAUSAL_LM
    modules = None if options.target_modules == ["auto"] else list(options.target_modules)
    config = LoraConfig(
        task_type=task,
        r=options.r,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=modules,
    )
    try:
        return _peft_model(get_peft_model, model, config)
    except ValueError as exc:
        raise RecaugError(
            f"option 'target_modules' of strategy 'lora-gen': {str(exc).splitlines()[0]}"
        ) from None


def _peft_model(get_peft_model: Any, model: Any, config: Any) -> Any:
    # peft 0.21 calls a transformers method that transformers 5 deprecates; the warning is
    # theirs to fix and would only clutter every run's output.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        return get_peft_model(model, config)


def load_adapter(model: Any, folder: str) -> Any:
    """``model`` with the LoRA adapter saved in ``folder`` (safetensors only)."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(folder)
    weights = path / ADAPTER_WEIGHTS
    if not weights.is_file():
        found = (
            "adapter_model.bin (pickle, refused)"
            if (path / "adapter_model.bin").exists()
            else "none"
        )
        raise RecaugError(
            f"option 'adapter' of strategy 'lora-gen': {path} has no {ADAPTER_WEIGHTS} "
            f"(found: {found}); adapters load from safetensors only"
        )
    config = LoraConfig.from_pretrained(str(path))
    peft_model = _peft_model(get_peft_model, model, config)
    result = set_peft_model_state_dict(peft_model, load_file(str(weights)))
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise RecaugError(
            f"option 'adapter' of strategy 'lora-gen': {path} does not fit the base model "
            f"(unexpected weights such as {unexpected[0]})"
        )
    return peft_model


def save_adapter(model: Any, folder: Path) -> None:
    with transformers_bars_off():
        model.save_pretrained(str(folder), safe_serialization=True)


def save_merged(model: Any, tokenizer: Any, folder: Path) -> Any:
    """Merge LoRA into the base weights, save that model; returns the merged model."""
    merged = model.merge_and_unload()
    with transformers_bars_off():
        merged.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
    return merged
