"""What a new user sees first: version, help, exit codes, and a light start-up."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from recaug_core import __version__


def test_version(recaug):
    result = recaug("--version")
    assert result.code == 0
    assert __version__ in result.out


def test_module_entry_point_works(recaug_subprocess):
    result = recaug_subprocess("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def imported_after(code: str, modules: tuple[str, ...]) -> tuple[list[str], str]:
    """Run ``code`` in a fresh interpreter; return which of ``modules`` it imported and what
    it printed."""
    probe = f"import sys\n{code}\nprint('LOADED', [m for m in {modules!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert "LOADED" in result.stdout, result.stdout + result.stderr
    printed, loaded = result.stdout.rsplit("LOADED", 1)
    return ast.literal_eval(loaded.strip()), printed


def test_help_imports_neither_torch_nor_pyarrow():
    heavy = ("torch", "transformers", "pyarrow", "matplotlib", "datasets")
    loaded, printed = imported_after("from recaug_app.cli import invoke; invoke(['--help'])", heavy)
    assert loaded == []
    assert "augment" in printed and "evaluate" in printed


def test_loading_every_bundled_plugin_imports_no_model_library():
    # Every command loads the registry first: plugins import their heavy libraries only
    # when a component runs, so listing them stays around a second.
    code = (
        "from recaug_core.registry import KINDS, get_registry\n"
        "registry = get_registry()\n"
        "print(sum(len(registry.components(kind)) for kind in KINDS))"
    )
    heavy = ("torch", "transformers", "peft", "accelerate", "scipy.stats", "matplotlib")
    loaded, printed = imported_after(code, (*heavy, "sentence_transformers"))
    assert loaded == []
    assert int(printed.split()[-1]) >= 20  # the bundled components were all loaded


def test_usage_error_exits_2_without_traceback(recaug):
    result = recaug("augment", "--out", "x")  # --strategy missing
    assert result.code == 2
    assert "Traceback" not in result.err and "--strategy" in result.err


def test_unknown_strategy_names_the_available_ones(recaug, tmp_path):
    result = recaug("augment", "--strategy", "nope", "--out", tmp_path / "r")
    assert result.code == 2
    assert "unknown strategy 'nope'" in result.err
    assert not (tmp_path / "r").exists()


def test_data_info_json(recaug):
    result = recaug("data", "info", "demo", "--json")
    assert result.code == 0
    info = json.loads(result.out)
    assert info["users"] == 1000 and info["items"] == 500
    assert 25_000 < info["interactions"] < 35_000
    assert {"title", "genres", "description"} <= set(info["item_text_columns"])
    assert info["user_length_quantiles"]["0"] >= 3
    assert info["source"]["source"] == "demo"


def test_missing_data_path_is_exit_2(recaug, tmp_path):
    result = recaug("data", "info", tmp_path / "nothing.csv")
    assert result.code == 2
    assert "nothing.csv" in result.err


def test_internal_errors_exit_1_with_a_hint(recaug, monkeypatch):
    import recaug_app.describe as data_command

    def explode(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(data_command, "describe", explode)
    result = recaug("data", "info", "demo")
    assert result.code == 1
    assert "internal error: ZeroDivisionError: boom" in result.err
    assert "--debug" in result.err and "Traceback" not in result.err
