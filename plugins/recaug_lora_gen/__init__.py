"""Bundled strategy `lora-gen`: a causal (or encoder-decoder) language model, LoRA fine-tuned
on users' histories, writes new interactions by constrained decoding over the catalog."""

from recaug_core import hookimpl


@hookimpl
def register_strategies(register):
    from recaug_lora_gen.strategy import LoraGenStrategy

    register(LoraGenStrategy)
