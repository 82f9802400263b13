"""recaug executes nothing it loads: no pickle in its formats, torch.load only with
weights_only=True, trust_remote_code only from an explicit option.

These read recaug's own source (core, application, bundled plugins, the example plugin) as
syntax trees, so a change that introduces an unsafe call fails here before it ships.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    path
    for folder in ("recaug_core", "recaug_app", "plugins", "examples")
    for path in (ROOT / folder).rglob("*.py")
    if "tests" not in path.relative_to(ROOT).parts
)
PICKLING_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = (
                func.value.id
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                else ""
            )
            yield node, owner, name


def keyword(node: ast.Call, name: str):
    return next((k.value for k in node.keywords if k.arg == name), None)


@pytest.fixture(scope="module")
def trees():
    return {path: ast.parse(path.read_text(), filename=str(path)) for path in SOURCES}


def test_the_scan_sees_recaugs_code(trees):
    assert any(p.name == "pipeline.py" for p in trees)


def test_no_pickling_module_is_imported(trees):
    offenders = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            offenders += [f"{path}:{node.lineno}" for n in names if n in PICKLING_MODULES]
    assert not offenders


def test_torch_load_always_has_weights_only_true(trees):
    offenders = []
    for path, tree in trees.items():
        for node, owner, name in calls(tree):
            if owner == "torch" and name == "load":
                flag = keyword(node, "weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    offenders.append(f"{path}:{node.lineno}")
    assert not offenders


def test_no_torch_save_or_pickled_numpy(trees):
    offenders = []
    for path, tree in trees.items():
        for node, owner, name in calls(tree):
            if owner == "torch" and name == "save":
                offenders.append(f"{path}:{node.lineno} torch.save (use safetensors)")
            allow = keyword(node, "allow_pickle")
            if isinstance(allow, ast.Constant) and allow.value is True:
                offenders.append(f"{path}:{node.lineno} allow_pickle=True")
    assert not offenders


def test_trust_remote_code_is_never_hard_wired_on(trees):
    offenders = []
    for path, tree in trees.items():
        for node, _, _ in calls(tree):
            value = keyword(node, "trust_remote_code")
            if isinstance(value, ast.Constant) and value.value is True:
                offenders.append(f"{path}:{node.lineno}")
    assert not offenders


def test_from_pretrained_model_loads_insist_on_safetensors(trees):
    """Model weights load from safetensors only (or a GGUF file: tensors and metadata, no
    pickle, as `recaug models prepare` reads Gemma's package); tokenizers and configs hold no
    code."""
    offenders = []
    for path, tree in trees.items():
        for node, owner, name in calls(tree):
            if name != "from_pretrained" or owner.endswith(
                ("Tokenizer", "TokenizerFast", "Config")
            ):
                continue
            if keyword(node, "use_safetensors") is None and keyword(node, "gguf_file") is None:
                offenders.append(f"{path}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert not offenders, "pass use_safetensors=True to every model from_pretrained call"
