"""fit(): base model (tiny pretrained here, or loaded), LoRA fine-tuning, adapter saved.

Everything lives under the run's checkpoint folder ``checkpoints/lora-gen/``: ``pretrain/``
and ``finetune/`` training checkpoints, ``adapter/`` (the LoRA adapter, safetensors),
``merged/`` with ``merge=true``, and the tiny base model ``tiny-<fingerprint>/`` unless
``cache_dir`` puts it elsewhere.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from recaug_core import Context, Dataset, RecaugError
from recaug_lora_gen import models, prompts
from recaug_lora_gen.catalog import Catalog, Template, item_names
from recaug_lora_gen.constrain import ItemTrie
from recaug_lora_gen.fitted import Fitted
from recaug_lora_gen.head import (
    catalog_vocabulary,
    restricted_loss,
    restricted_output,
    use_restricted,
)
from recaug_lora_gen.options import LoraGenOptions
from recaug_lora_gen.tiny import ensure_tiny, fingerprint
from recaug_lora_gen.training import Loss, Schedule, pack, run_training
from recaug_modelkit import pretrained

GENERATION_ONLY = (
    "batch_size",
    "new_users",
    "seed_items",
    "temperature",
    "top_p",
    "top_k",
    "num_return_sequences",
    "checkpoint_every",
    "merge",
    "thin_words",
    "threads",
)
ADAPTER = "adapter"
FINGERPRINT_FILE = "recaug-fingerprint.txt"


def fit_model(train: Dataset, options: LoraGenOptions, ctx: Context) -> Fitted:
    real = train.real()
    indptr, items = real.sequences()
    names = item_names(train, options.name_column)
    folder = ctx.checkpoint_dir("lora-gen")
    data_key = fingerprint(
        {"names": names, "seed": ctx.seed}, [indptr.astype(np.int64), items.astype(np.int64)]
    )
    base = options.base_model
    if base == "tiny":
        base = str(_tiny(train, names, indptr, items, data_key, options, ctx))
    elif base in pretrained.MODELS:
        base = str(pretrained.resolve(base, log=ctx.log))  # prepared on first use
    model, tokenizer = models.load_base(base, options.trust_remote_code)
    encoder_decoder = bool(model.config.is_encoder_decoder)
    catalog = Catalog.build(tokenizer, names)
    template = Template.build(tokenizer, options.template)
    vocabulary = catalog_vocabulary(catalog)
    restricted = options.mode != "text" and use_restricted(
        options.output_layer, model, vocabulary, encoder_decoder
    )  # text is written with the whole vocabulary
    fitted = Fitted(
        model=model,
        tokenizer=tokenizer,
        catalog=catalog,
        template=template,
        trie=ItemTrie(catalog.tokens, list(range(len(names)))),
        indptr=indptr,
        items=items,
        options=options,
        folder=folder,
        encoder_decoder=encoder_decoder,
        vocabulary=vocabulary if restricted else None,
    )
    key = fingerprint({"data": data_key, "base": base, "options": fit_key_options(options)}, [])
    # Training moved the model to the accelerator's device; a loaded adapter needs the move.
    fitted.model = _adapt(fitted, train, key, ctx).to(ctx.accelerator().device)
    fitted.model.eval()
    return fitted


def _tiny(
    train: Dataset,
    names: list[str],
    indptr: np.ndarray,
    items: np.ndarray,
    data_key: str,
    options: LoraGenOptions,
    ctx: Context,
) -> Path:
    from recaug_lora_gen.text import item_documents

    shaping = {
        k: getattr(options, k)
        for k in (
            "tiny_hidden",
            "tiny_layers",
            "pretrain_epochs",
            "pretrain_lr",
            "batch_tokens",
            "negatives",
        )
    }
    texts = [options.template, options.item_template, options.user_template]
    if options.mode == "text":
        texts += train.item_texts()
    # The texts (templates, and item text in text mode) shape the vocabulary: part of the key.
    parts = {"data": data_key, "model": shaping, "max_length": options.max_length, "texts": texts}
    key = fingerprint(parts, [])

    def documents(tokenizer: Any) -> list[Any]:
        catalog = Catalog.build(tokenizer, names)
        extra = item_documents(train, catalog, tokenizer, options) if options.mode == "text" else []
        return prompts.pretraining_documents(catalog, indptr, items, extra, options.max_length)

    return ensure_tiny(cache_root(options, ctx), key, names, texts, documents, options, ctx)


def _adapt(fitted: Fitted, train: Dataset, key: str, ctx: Context) -> Any:
    """The model with LoRA: loaded from ``adapter``, or a finished adapter of this run when
    resuming, or fine-tuned now (then saved)."""
    options = fitted.options
    if options.adapter:
        model = models.load_adapter(fitted.model, options.adapter)
    else:
        final = fitted.folder / ADAPTER
        marker = final / FINGERPRINT_FILE
        if ctx.resume and marker.exists() and marker.read_text() == key:
            ctx.log(f"lora-gen: resuming with the finished adapter in {final}")
            model = models.load_adapter(fitted.model, str(final))
        else:
            model = models.attach_lora(fitted.model, options)
            fitted.model = model
            _finetune(fitted, train, key, ctx)
            if ctx.is_main_process:
                models.save_adapter(model, final)
                marker.write_text(key)
    if options.merge:
        merged_dir = fitted.folder / "merged"
        model = models.save_merged(model, fitted.tokenizer, merged_dir)
    return model


def _finetune(fitted: Fitted, train: Dataset, key: str, ctx: Context) -> None:
    options = fitted.options
    if options.mode == "text":
        from recaug_lora_gen.text import finetune_examples

        examples = finetune_examples(fitted, train, ctx)
    else:
        examples = prompts.next_item_examples(
            fitted.catalog,
            fitted.template,
            fitted.indptr,
            fitted.items,
            cuts=options.cuts_per_user,
            per_user=options.per_user,
            max_items=options.max_history,
            max_length=options.max_length,
            encoder_decoder=fitted.encoder_decoder,
            rng=ctx.rng("lora-gen", "cuts"),
        )
    if options.max_examples is not None and len(examples) > options.max_examples:
        rng = ctx.rng("lora-gen", "examples")
        chosen = np.sort(rng.choice(len(examples), options.max_examples, replace=False))
        examples = [examples[i] for i in chosen]
    if not examples or options.epochs == 0:
        return
    if _packs(fitted):
        examples = pack(examples, options.max_length)
    schedule = Schedule(
        options.epochs,
        options.lr,
        options.batch_tokens,
        options.grad_accum,
        options.checkpoint_every,
        # the tiny model's vocabulary is the catalog: sample it (a given base model: never)
        negatives=options.negatives if options.base_model == "tiny" else 0,
    )
    loss_fn: Loss | None = None
    layer: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if fitted.vocabulary is not None:
        vocab_size = int(fitted.model.config.vocab_size)
        loss_fn = restricted_loss(fitted.vocabulary, vocab_size)
        layer = restricted_output(fitted.model, fitted.vocabulary)
    with layer:
        run_training(
            fitted.model,
            examples,
            schedule,
            phase="finetune",
            folder=fitted.folder / "finetune",
            fingerprint=key,
            pad_id=fitted.tokenizer.pad_token_id,
            ctx=ctx,
            loss_fn=loss_fn,
        )


def _packs(fitted: Fitted) -> bool:
    """Whether fine-tuning packs examples (default: pretrained causal models)."""
    choice = fitted.options.pack
    if choice is None:
        return fitted.options.base_model != "tiny" and not fitted.encoder_decoder
    if choice and fitted.encoder_decoder:
        raise RecaugError(
            "option 'pack' of strategy 'lora-gen': packing works with causal models only "
            "(this base model is an encoder-decoder)"
        )
    return choice


def fit_key_options(options: LoraGenOptions) -> dict[str, Any]:
    """The options that shape the fine-tuned model (sampling options do not)."""
    return {k: v for k, v in options.model_dump(mode="json").items() if k not in GENERATION_ONLY}


def cache_root(options: LoraGenOptions, ctx: Context) -> Path:
    if options.cache_dir:
        path = Path(options.cache_dir).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return ctx.checkpoint_dir("lora-gen")
