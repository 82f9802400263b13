"""docs/cli.md is generated from the commands; it must match what the commands say now."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "tools"))

import docgen

ROOT = Path(__file__).parents[2]


def test_cli_reference_is_current():
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == docgen.render(), (
        "docs/cli.md is stale: run `python tools/docgen.py > docs/cli.md`"
    )


def test_cli_reference_lists_every_built_in_command():
    text = docgen.render()
    for command in (
        "augment",
        "evaluate",
        "run",
        "report",
        "export",
        "plugins",
        "list",
        "data info",
    ):
        assert f"`recaug {command}`" in text


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text("# CLI reference\n")
    assert docgen.main(["--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().out
    stale.write_text(docgen.render())
    assert docgen.main(["--check", str(stale)]) == 0


def test_every_docs_page_is_linked_from_the_index():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for page in (
        "quickstart",
        "experiments",
        "writing-strategies",
        "writing-backends",
        "gpu",
        "cli",
        "api",
        "architecture",
    ):
        assert (ROOT / "docs" / f"{page}.md").exists(), page
        assert f"({page}.md)" in index, page


def test_the_quickstart_installs_torch_as_the_readme_does():
    import re

    def torch_installs(page: str) -> set[str]:
        text = (ROOT / page).read_text(encoding="utf-8")
        return set(re.findall(r"pip install (torch[^\s`]*)", text))

    readme, quickstart = torch_installs("README.md"), torch_installs("docs/quickstart.md")
    assert readme and readme == quickstart, (readme, quickstart)
    assert all("==" in pin for pin in readme), "a pinned torch: the version CI tests"
