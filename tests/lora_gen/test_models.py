"""Base models from disk (causal and T5), adapters saved as safetensors and reloaded, merging."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

SMALL_DEMO = ["-s", "users=80", "-s", "items=80", "-s", "interactions=1200"]


def augment(recaug, out: Path, fast: dict[str, object], *extra: str, **more: object):
    pairs = {**fast, **more}
    opts = [arg for key, value in pairs.items() for arg in ("-o", f"{key}={value}")]
    return recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen", *opts, *extra, "--out", out,
    )  # fmt: skip


def synthetic(out: Path):
    return pq.read_table(out / "synthetic.parquet")


def catalog(out: Path) -> set[str]:
    return set(pq.read_table(out / "items.parquet").column("item_id").to_pylist())


def test_saved_causal_model_fine_tunes_and_its_adapter_reloads_to_the_same_rows(
    recaug, fast, tmp_path, saved_llama
):
    first = tmp_path / "first"
    result = augment(recaug, first, fast, base_model=saved_llama)
    assert result.code == 0, result.err
    rows = synthetic(first)
    assert rows.num_rows and set(rows.column("item_id").to_pylist()) <= catalog(first)
    adapter = first / "checkpoints" / "lora-gen" / "adapter"
    assert (adapter / "adapter_model.safetensors").stat().st_size > 0
    assert not list(adapter.glob("*.bin"))

    again = tmp_path / "again"
    result = augment(recaug, again, fast, base_model=saved_llama, adapter=adapter)
    assert result.code == 0, result.err
    assert synthetic(again).equals(rows)
    assert not (again / "checkpoints" / "lora-gen" / "finetune").exists(), "it trained again"


def test_a_pickled_adapter_is_refused(recaug, fast, tmp_path, saved_llama):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.bin").write_bytes(b"not loaded")
    result = augment(recaug, tmp_path / "run", fast, base_model=saved_llama, adapter=folder)
    assert result.code == 2
    assert "adapter" in result.err and "safetensors" in result.err


def test_merge_saves_a_loadable_merged_model(recaug, fast, tmp_path, saved_llama):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    result = augment(recaug, out, fast, base_model=saved_llama, merge="true")
    assert result.code == 0, result.err
    merged = out / "checkpoints" / "lora-gen" / "merged"
    assert list(merged.glob("*.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(merged, use_safetensors=True)
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_encoder_decoder_model_through_the_same_prompts(recaug, fast, tmp_path, saved_t5):
    out = tmp_path / "run"
    result = augment(recaug, out, fast, base_model=saved_t5)
    assert result.code == 0, result.err
    rows = synthetic(out)
    assert rows.num_rows and set(rows.column("item_id").to_pylist()) <= catalog(out)
    config = (out / "checkpoints" / "lora-gen" / "adapter" / "adapter_config.json").read_text()
    assert "SEQ_2_SEQ_LM" in config


@pytest.mark.parametrize(
    ("modules", "adapted"),
    [("k_proj,o_proj", {"k_proj", "o_proj"}), ("auto", {"q_proj", "v_proj"})],
)
def test_target_modules_choose_what_lora_adapts(
    recaug, fast, tmp_path, saved_llama, modules, adapted
):
    import json

    out = tmp_path / "run"
    result = augment(recaug, out, fast, base_model=saved_llama, target_modules=modules)
    assert result.code == 0, result.err
    config = json.loads(
        (out / "checkpoints" / "lora-gen" / "adapter" / "adapter_config.json").read_text()
    )
    assert set(config["target_modules"]) == adapted
