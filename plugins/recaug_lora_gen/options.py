"""Options of `lora-gen` (every one settable with ``-o KEY=VALUE``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from recaug_modelkit.options import ThreadsOption

Mode = Literal["extend", "synthesize", "text"]
DEFAULT_TEMPLATE = "History: {history} Next:"
DEFAULT_ITEM_TEMPLATE = "Item: {item} Description:"
DEFAULT_USER_TEMPLATE = "User: {history} Profile:"


class LoraGenOptions(ThreadsOption):
    mode: Mode = Field(
        default="extend",
        description=(
            "extend: new items for real users; synthesize: new syn-lora-gen-N users seeded by a "
            "few items of a real user; text: descriptions for items with thin text and user "
            "profile summaries"
        ),
    )
    base_model: str = Field(
        default="tiny",
        description=(
            "'tiny' (a small Llama pretrained here on the training histories, cached), "
            "'gemma-3-270m' (prepared offline on first use, see `recaug models`), or a "
            "folder / hub id of a causal or encoder-decoder (T5) model with safetensors weights"
        ),
    )
    output_layer: Literal["auto", "full", "catalog"] = Field(
        default="auto",
        description=(
            "catalog: logits only for tokens of catalog items (the fine-tuning softmax over "
            "them, and during generation only the tokens that can continue an allowed item); "
            "full: the whole vocabulary; auto: catalog for causal models whose vocabulary is "
            "over 4x the catalog's tokens (pretrained LLMs), else full"
        ),
    )
    pack: bool | None = Field(
        default=None,
        description=(
            "pack several fine-tuning examples into each row (no padding; attention stays "
            "within an example); default: on for pretrained causal models, off for tiny and T5"
        ),
    )
    adapter: str | None = Field(
        default=None,
        description="folder of a saved LoRA adapter (adapter_model.safetensors): no fine-tuning",
    )
    cache_dir: str | None = Field(
        default=None,
        description="where the tiny base model is cached (default: the run's checkpoint folder)",
    )
    template: str = Field(default=DEFAULT_TEMPLATE, description="prompt; {history} = items")
    item_template: str = Field(
        default=DEFAULT_ITEM_TEMPLATE, description="text mode prompt for an item; {item} = name"
    )
    user_template: str = Field(
        default=DEFAULT_USER_TEMPLATE, description="text mode prompt for a user; {history}"
    )
    name_column: str | None = Field(
        default=None, description="item text column naming items (default: title, else the id)"
    )
    per_user: int = Field(default=5, ge=1, le=1000, description="items generated per user")
    new_users: int = Field(
        default=200, ge=1, description="synthesize: users made (the budget may cut them)"
    )
    seed_items: int = Field(
        default=3, ge=1, description="synthesize: items of a real user that start a new user"
    )
    max_history: int = Field(default=30, ge=1, description="most recent items in a prompt")
    thin_words: int = Field(
        default=8, ge=0, description="text mode: items with fewer words of text get a description"
    )
    r: int = Field(default=8, ge=1, description="LoRA rank")
    alpha: float = Field(default=16.0, gt=0, description="LoRA alpha")
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="LoRA dropout")
    target_modules: list[str] = Field(
        default=["auto"],
        description="modules LoRA adapts; auto: peft's default for the architecture",
    )
    epochs: int = Field(default=3, ge=0, description="fine-tuning epochs")
    lr: float = Field(default=5e-3, gt=0, description="fine-tuning learning rate")
    batch_size: int = Field(default=32, ge=1, description="prompts sampled together")
    negatives: int = Field(
        default=1024,
        ge=0,
        description="tiny base model: vocabulary tokens drawn per training batch besides its "
        "target tokens, for a sampled softmax (its vocabulary is the catalog); the full "
        "softmax when that covers half the vocabulary (0: always; other base models: always)",
    )
    batch_tokens: int = Field(
        default=4096,
        ge=8,
        description="training batches: examples of similar length, up to this many tokens "
        "(padding included) each",
    )
    grad_accum: int = Field(default=1, ge=1, description="micro-batches per optimizer step")
    max_length: int = Field(default=128, ge=8, description="most tokens of prompt + target")
    cuts_per_user: int = Field(
        default=4, ge=1, description="fine-tuning examples per user (random split points)"
    )
    max_examples: int | None = Field(
        default=None,
        ge=1,
        description="fine-tune on at most this many examples, drawn at random (default: all; "
        "bounds the cost with a large base model)",
    )
    temperature: float = Field(default=1.0, gt=0, description="sampling temperature")
    top_p: float = Field(default=1.0, gt=0, le=1.0, description="nucleus sampling mass")
    top_k: int = Field(default=0, ge=0, description="sample among the k best tokens (0: all)")
    num_return_sequences: int = Field(
        default=1, ge=1, description="samples per prompt (their distinct items are merged)"
    )
    checkpoint_every: int = Field(
        default=50, ge=0, description="save a training checkpoint every N steps (0: never)"
    )
    merge: bool = Field(default=False, description="also save the base model with LoRA merged")
    trust_remote_code: bool = Field(
        default=False, description="allow code shipped with base_model (off unless set)"
    )
    tiny_hidden: int = Field(default=64, ge=8, description="tiny base model: hidden size")
    tiny_layers: int = Field(default=2, ge=1, description="tiny base model: layers")
    pretrain_epochs: int = Field(default=6, ge=0, description="tiny base model: epochs")
    pretrain_lr: float = Field(default=3e-3, gt=0, description="tiny base model: learning rate")

    @field_validator("template", "user_template")
    @classmethod
    def _history_slot(cls, value: str) -> str:
        return _one_slot(value, "{history}")

    @field_validator("item_template")
    @classmethod
    def _item_slot(cls, value: str) -> str:
        return _one_slot(value, "{item}")

    @field_validator("target_modules")
    @classmethod
    def _some_modules(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one module, or auto")
        return value


def _one_slot(template: str, slot: str) -> str:
    if template.count(slot) != 1:
        raise ValueError(f"the template must contain {slot} exactly once")
    return template
