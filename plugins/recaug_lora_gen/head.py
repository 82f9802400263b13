"""The catalog-restricted output layer.

A pretrained LLM's output layer is its largest matrix (Gemma 3 270M: 262,144 x 640, about 60 %
of its multiply-adds per token), yet an item is spelled with a few thousand distinct tokens.
Fine-tuning can therefore use a softmax over the catalog's tokens only (each target token is an
item token or EOS), and constrained decoding, which masks every other token anyway, needs
logits only for the tokens that can continue an allowed item. Under the constraint the two give
the same distribution as the full layer followed by the mask.

The layer's weights are frozen (LoRA does not adapt them), so a restricted copy is exact.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from recaug_core import RecaugError
from recaug_lora_gen.catalog import Catalog
from recaug_lora_gen.training import IGNORE, forward

AUTO_RATIO = 4  # auto: restricted when the vocabulary is this many times the catalog's tokens


def catalog_vocabulary(catalog: Catalog) -> np.ndarray:
    """Sorted distinct token ids of every item, and EOS."""
    tokens = [t for sequence in catalog.tokens for t in sequence]
    return np.unique(np.asarray([*tokens, catalog.eos], dtype=np.int64))


def use_restricted(option: str, model: Any, vocabulary: np.ndarray, encoder_decoder: bool) -> bool:
    if option == "full":
        return False
    if encoder_decoder:
        if option == "catalog":
            raise RecaugError(
                "option 'output_layer' of strategy 'lora-gen': catalog works with causal "
                "models only (this base model is an encoder-decoder)"
            )
        return False
    return option == "catalog" or model.config.vocab_size >= AUTO_RATIO * len(vocabulary)


def base_of(model: Any) -> Any:
    """The transformers model under a peft wrapper (LoRA layers are inside it)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


class DecoderHead:
    """Hidden states from a causal model's decoder stack, and logits for chosen tokens only
    (or, with ``tokens=None``, the whole vocabulary)."""

    def __init__(self, model: Any) -> None:
        base = base_of(model)
        self.decoder = base.get_decoder()
        output = base.get_output_embeddings()
        self.weight, self.bias = output.weight, output.bias
        self.softcap = getattr(base.config, "final_logit_softcapping", None)
        # transformers 5 renames `past_key_values` to `cache` (the old name warns until 5.40)
        parameters = inspect.signature(self.decoder.forward).parameters
        self.cache_name = "cache" if "cache" in parameters else "past_key_values"

    def hidden(self, cache: Any = None, **inputs: Any) -> tuple[torch.Tensor, Any]:
        """(last hidden states [batch, length, hidden], the key/value cache to continue)."""
        if cache is not None:
            inputs[self.cache_name] = cache
        out = self.decoder(use_cache=True, **inputs)
        returned = getattr(out, "cache", None)
        return out.last_hidden_state, returned if returned is not None else out.past_key_values

    def logits(self, hidden: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
        """``hidden`` [..., h] against the output rows of ``tokens`` only: [..., len(tokens)]."""
        weight = self.weight if tokens is None else self.weight[tokens]
        logits = hidden @ weight.T
        if self.bias is not None:
            logits = logits + (self.bias if tokens is None else self.bias[tokens])
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits


@contextmanager
def restricted_output(model: Any, vocabulary: np.ndarray) -> Iterator[None]:
    """While inside, ``model(...)`` returns logits over ``vocabulary`` only (column j is token
    ``vocabulary[j]``); the original layer is put back afterwards."""
    base = base_of(model)
    original = base.get_output_embeddings()
    rows = torch.as_tensor(vocabulary, device=original.weight.device)
    layer = torch.nn.Linear(
        original.in_features,
        len(vocabulary),
        bias=original.bias is not None,
        device=original.weight.device,
        dtype=original.weight.dtype,
    )
    with torch.no_grad():
        layer.weight.copy_(original.weight[rows])
        if original.bias is not None:
            layer.bias.copy_(original.bias[rows])
    layer.requires_grad_(False)
    base.set_output_embeddings(layer)
    try:
        yield
    finally:
        base.set_output_embeddings(original)


def restricted_loss(vocabulary: np.ndarray, vocab_size: int) -> Any:
    """A training loss for ``run_training``: cross-entropy of the next token over
    ``vocabulary`` (every label must be in it), under ``restricted_output``."""
    lookup = torch.full((vocab_size,), IGNORE, dtype=torch.long)
    lookup[torch.as_tensor(vocabulary)] = torch.arange(len(vocabulary))

    def loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["labels"]
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        logits = forward(model, inputs).logits[:, :-1]
        targets = labels[:, 1:]
        mapped = torch.where(
            targets == IGNORE, IGNORE, lookup.to(targets.device)[targets.clamp(min=0)]
        )
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            mapped.reshape(-1),
            ignore_index=IGNORE,
        )

    return loss
