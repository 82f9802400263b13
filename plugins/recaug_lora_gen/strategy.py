"""`lora-gen`: fine-tune a language model with LoRA on users' histories, then sample new
interactions with decoding constrained to the catalog.

fit: name every item (its title), load the base model (or pretrain the tiny one, cached),
attach LoRA and train it on "history -> next items" prompts (checkpointed, resumable), save the
adapter as safetensors. generate: per mode, sample items for real users (extend), new users
(synthesize) or attribute text (text).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    Strategy,
    SyntheticData,
    empty_interactions,
    synthetic_table,
    tail_items,
    target_users,
)
from recaug_lora_gen.options import LoraGenOptions
from recaug_lora_gen.tiny import MAX_WORDS

SYNTHETIC_PREFIX = "syn-lora-gen-"


class LoraGenStrategy(Strategy):
    name = "lora-gen"
    description = (
        "LoRA fine-tuned language model writing catalog-constrained histories "
        "(extend, synthesize, text)."
    )
    Options = LoraGenOptions
    options: LoraGenOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        from recaug_lora_gen.fitting import fit_model
        from recaug_modelkit.threads import cpu_threads

        self.threads_ = training_threads(self.options, train)
        with cpu_threads(self.threads_, ctx.accelerator().device):
            self.fitted_ = fit_model(train, self.options, ctx)

    def score_candidates(
        self, users: np.ndarray, candidates: np.ndarray, ctx: Context
    ) -> np.ndarray:
        """``[len(users), k]``: the log-probability of each user's candidate items (row i of
        item indices ``candidates``) coming next after the user's training history, without
        generating; what the ``rerank`` strategy's ``llm`` scorer asks."""
        from recaug_modelkit.threads import cpu_threads

        with cpu_threads(self.threads_, ctx.accelerator().device):
            fitted = self.fitted_
            histories = [fitted.history(int(u)) for u in users]
            return fitted.score_candidates(histories, candidates, ctx)

    def generate(
        self, train: Dataset, request: GenerationRequest, ctx: Context
    ) -> pa.Table | SyntheticData:
        from recaug_modelkit.threads import cpu_threads

        if request.budget == 0:
            return empty_interactions()
        with cpu_threads(self.threads_, ctx.accelerator().device):
            return self._generate(train, request, ctx)

    def _generate(
        self, train: Dataset, request: GenerationRequest, ctx: Context
    ) -> pa.Table | SyntheticData:
        if self.options.mode == "text":
            from recaug_lora_gen.text import generate_text

            return generate_text(self.fitted_, train, request, self.options, ctx)
        if self.options.mode == "synthesize" or request.target == "new":
            return self._synthesize(train, request, ctx)
        return self._extend(train, request, ctx)

    def _extend(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        fitted, options = self.fitted_, self.options
        users = target_users(train, request.target)
        per_user = options.per_user
        if request.budget is not None and math.ceil(request.budget / per_user) < len(users):
            rng = ctx.rng("lora-gen", "users")
            users = np.sort(rng.choice(users, math.ceil(request.budget / per_user), replace=False))
        allowed = tail_items(train) if request.target == "long-tail" else None
        histories = [fitted.history(u) for u in users]
        found = fitted.sample(histories, histories, per_user, ctx, "extend", allowed=allowed)
        last = _last_timestamps(train)
        user_ids, item_ids, scores, stamps = [], [], [], []
        user_names = train.user_index.ids.to_pylist()
        for user, picks in zip(users, found, strict=True):
            for step, (item, score) in enumerate(picks, start=1):
                user_ids.append(user_names[user])
                item_ids.append(int(item))
                scores.append(score)
                stamps.append(None if last[user] < 0 else int(last[user]) + step)
        return synthetic_table(
            user_ids,
            train.item_index.to_ids(np.asarray(item_ids, dtype=np.int64)),
            self.name,
            parent_user=user_ids,
            score=np.asarray(scores, dtype=np.float32),
            timestamp=pa.array(stamps, pa.int64()),
        ).slice(0, request.budget)

    def _synthesize(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        """New users, each started by a few items (in time order) of a random real user and
        continued by the model to a length drawn from the real length distribution."""
        fitted, options = self.fitted_, self.options
        rng = ctx.rng("lora-gen", "synthesize")
        lengths = np.diff(fitted.indptr)
        active = np.flatnonzero(lengths > 0)
        n_new = (
            options.new_users if request.budget is None else min(options.new_users, request.budget)
        )
        parents = rng.choice(active, n_new)
        seeds, wanted = [], []
        room = max(1, (options.max_length - 8) // max(fitted.trie.max_depth, 1))
        for parent in parents:
            history = fitted.history(parent)
            picked = np.sort(
                rng.choice(len(history), min(options.seed_items, len(history)), replace=False)
            )
            seeds.append(history[picked])
            length = int(rng.choice(lengths[active]))
            wanted.append(max(0, min(length - len(picked), room)))
        found = fitted.sample(seeds, seeds, wanted, ctx, "synthesize")
        user_names = train.user_index.ids.to_pylist()
        user_ids, item_ids, parent_ids, scores = [], [], [], []
        for k, (parent, seed, picks) in enumerate(zip(parents, seeds, found, strict=True)):
            name = f"{SYNTHETIC_PREFIX}{k}"
            rows = [(int(i), None) for i in seed] + [(int(i), s) for i, s in picks]
            for item, score in rows:
                user_ids.append(name)
                item_ids.append(item)
                parent_ids.append(user_names[parent])
                scores.append(score)
        return synthetic_table(
            user_ids,
            train.item_index.to_ids(np.asarray(item_ids, dtype=np.int64)),
            self.name,
            parent_user=parent_ids,
            score=pa.array(scores, pa.float32()),
        ).slice(0, request.budget)


def training_threads(options: LoraGenOptions, train: Dataset) -> int:
    """The ``threads`` option, or the default for the model's size
    (``recaug_modelkit.threads``): the tiny model is about one row of ``tiny_hidden``
    weights per item and word, a step about ``batch_tokens`` tokens through it; any other
    base model is taken to be large."""
    from recaug_modelkit.threads import resolve_threads

    if options.base_model != "tiny":
        return resolve_threads(options.threads, math.inf)
    parameters = (train.n_items + MAX_WORDS) * options.tiny_hidden
    return resolve_threads(options.threads, 6.0 * parameters * options.batch_tokens)


def _last_timestamps(train: Dataset) -> np.ndarray:
    """Each user's latest real timestamp (-1 where none), so extensions come after it."""
    real = train.real()
    users, _ = real.codes()
    stamps = pc.fill_null(real.interactions.column("timestamp"), -1).to_numpy()
    last = np.full(train.n_users, -1, dtype=np.int64)
    np.maximum.at(last, users, np.asarray(stamps, dtype=np.int64))
    return last
