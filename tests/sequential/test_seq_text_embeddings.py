"""Item-text embeddings in `seq` (correlated items) and `sasrec` (item inputs), with a tiny
sentence-transformers model built here: no model hub needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from recaug_core import Context, Dataset, GenerationRequest, SplitSpec, split_dataset
from recaug_core.testing import tiny_split
from recaug_sasrec.backend import SasrecBackend
from recaug_seq.strategy import SeqStrategy

WORDS = ["space", "robot", "alien", "star", "love", "kiss", "wedding", "heart"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised one-layer BERT sentence encoder, saved to disk, loaded by path."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("encoder")
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(
        [" ".join(WORDS)] * 4, trainers.WordPieceTrainer(vocab_size=100, special_tokens=special)
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=fast.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    bert = folder / "bert"
    BertModel(config).save_pretrained(bert)
    fast.save_pretrained(bert)
    model = SentenceTransformer(modules=[Transformer(str(bert)), Pooling(16, "mean")], device="cpu")
    model.save(str(folder / "st"))
    return str(folder / "st")


def themed_world() -> Dataset:
    """Two item families whose titles share words, and histories that mix them freely, so
    co-occurrence cannot tell the families apart but text can."""
    rng = np.random.default_rng(0)
    titles = [f"{WORDS[i % 4]} {WORDS[(i // 4) % 4]}" for i in range(16)]
    titles += [f"{WORDS[4 + i % 4]} {WORDS[4 + (i // 4) % 4]}" for i in range(16)]
    items = pa.table({"item_id": [f"i{i}" for i in range(32)], "title": titles})
    users = np.repeat(np.arange(40), 12)
    rows = pa.table(
        {
            "user_id": [f"u{u}" for u in users],
            "item_id": [f"i{i}" for i in rng.integers(0, 32, len(users))],
            "timestamp": pa.array(np.tile(np.arange(12) * 60, 40), pa.int64()),
        }
    )
    return Dataset(rows, items=items)


def test_seq_text_similarity_substitutes_items_with_similar_titles(
    encoder: str, tmp_path: Path
) -> None:
    split = split_dataset(themed_world(), SplitSpec(protocol="leave-one-out"))
    strategy = SeqStrategy(
        {"ops": "substitute", "similarity": "text", "text_model": encoder, "neighbours": 3}
    )
    ctx = Context(seed=0, work_dir=tmp_path, show_progress=False)
    strategy.fit(split.train, ctx)
    table = strategy.generate(split.train, GenerationRequest(target="all"), ctx)
    indptr, items = split.train.sequences()
    history = {
        user: items[indptr[row] : indptr[row + 1]]
        for row, user in enumerate(split.train.user_index.ids.to_pylist())
    }
    written = table.column("item_id").to_pylist()
    replaced, same_family = 0, 0
    for user in set(table.column("user_id").to_pylist()):
        rows = np.flatnonzero(np.array(table.column("user_id").to_pylist()) == user)
        parent = table.column("parent_user")[int(rows[0])].as_py()
        new = split.train.item_index.indices([written[r] for r in rows])
        old = history[parent]
        changed = new != old
        replaced += int(changed.sum())
        # Items 0-15 and 16-31 use disjoint title words: a text neighbour stays in its family.
        same_family += int(((new[changed] >= 16) == (old[changed] >= 16)).sum())
    assert replaced > 20
    assert same_family / replaced > 0.9
    assert list((tmp_path / "checkpoints" / "text-embeddings").glob("*.safetensors"))


@pytest.mark.parametrize("mode", ["add", "init"])
def test_sasrec_trains_with_item_text_inputs(encoder: str, mode: str, tmp_path: Path) -> None:
    split = tiny_split()
    fast = {"hidden": 16, "inner": 16, "max_len": 8, "epochs": 2, "batch_size": 16}
    with_text = SasrecBackend(
        {**fast, "item_text": "title,genres", "text_model": encoder, "text_mode": mode}
    )
    with_text.fit(split.train, Context(seed=0, work_dir=tmp_path, show_progress=False), split.valid)
    plain = SasrecBackend(fast)
    plain.fit(split.train, Context(seed=0, show_progress=False), split.valid)
    users = np.arange(5)
    scores = with_text.score(users)
    assert scores.shape == (5, split.train.n_items) and np.isfinite(scores).all()
    assert not np.allclose(scores, plain.score(users)), "the text embeddings changed nothing"
    weights = (with_text.checkpoint / "model.safetensors").read_bytes()
    assert (b"text_vectors" in weights) == (mode == "add")
