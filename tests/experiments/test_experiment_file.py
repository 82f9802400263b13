"""Experiment files: every mistake is exit code 2 and one sentence naming the file and the key
(or line), before any data is read or any output folder made."""

from __future__ import annotations

from pathlib import Path

import pytest
from experiment_files import HEADER, arm

from recaug_app.experiment_file import load_experiment

EXAMPLES = Path(__file__).parents[2] / "examples" / "experiments"

CASES = [
    ("seeds = [0,\n", "exp.toml: line 2 (end of file): invalid TOML: ", ""),
    ("seeds = [0]\n[[backends]\n", "exp.toml: line 2, column 11: invalid TOML: ", "]]"),
    ("sedes = 3\n" + HEADER, "exp.toml: sedes: unknown key", ""),
    (HEADER.replace("seeds = [0, 1]", "seeds = [0, 0]"), "exp.toml: seeds: ", "distinct"),
    (HEADER.replace("seeds = [0, 1]", "seeds = []"), "exp.toml: seeds: ", "at least 1"),
    (HEADER.replace("seeds = [0, 1]", "seeds = [-1]"), "exp.toml: seeds[0]: ", "-1"),
    (HEADER.replace("ks = [10, 20]", "ks = [0]"), "exp.toml: ks[0]: ", "greater than"),
    ('seeds = [0]\n[dataset]\nref = "demo"\n', "exp.toml: backends: required key missing", ""),
    ("", "exp.toml: backends: required key missing", ""),
    (HEADER + arm("a", "seq", budget=-5), "exp.toml: arms[0].budget: ", "(got -5)"),
    (HEADER + arm("a", "seq") + arm("b", "seq", budget='"lots"'), "exp.toml: arms[1].budget: ", ""),
    (HEADER + arm("a", "nope"), "exp.toml: arms[0].strategy: unknown strategy 'nope'", "seq"),
    (HEADER + arm("a", "seq", options="{ colour = 1 }"), "exp.toml: arms[0].options: ", "colour"),
    (HEADER + arm("a", "seq", filters='["nope"]'), "exp.toml: arms[0].filters[0]: ", "nope"),
    (
        HEADER + arm("a", "seq", filters='["popularity:max_head_share=2"]'),
        "exp.toml: arms[0].filters[0].options: ",
        "max_head_share",
    ),
    (HEADER + arm("a", "seq", target='"everyone"'), "exp.toml: arms[0].target: ", "sparse"),
    (HEADER + arm("a", "seq", budjet=1), "exp.toml: arms[0].budjet: unknown key", ""),
    (HEADER + arm("a", "seq") + arm("a", "seq"), "exp.toml: arms[1].name: 'a' is used twice", ""),
    (HEADER + arm("a", "seq") + arm("A", "seq"), "exp.toml: arms[1].name: 'A' is used twice", ""),
    (
        HEADER.replace('name = "pop"', 'name = "pop"\noptions = { count = "some" }'),
        "exp.toml: backends[0].options: ",
        "count",
    ),
    (HEADER.replace('name = "pop"', 'name = "lightfm"'), "exp.toml: backends[0]: ", "lightfm"),
    (HEADER.replace('ref = "demo"', 'ref = "missing.csv"'), "exp.toml: dataset.ref: ", "missing"),
    (HEADER.replace("users = 120", "colour = 1"), "exp.toml: dataset.options: ", "colour"),
    (HEADER.replace('ref = "demo"', 'ref = "a\\u0000b"'), "exp.toml: dataset.ref: ", ""),
    (HEADER + "[split]\nratios = [0.5, 0.1]\n", "exp.toml: split.ratios", ""),
    (HEADER + "[split]\nprotocol = 'random'\n", "exp.toml: split.protocol: ", ""),
    (HEADER + "[dataset.clean]\nkcore = -1\n", "exp.toml: dataset.clean.kcore: ", ""),
]


@pytest.mark.parametrize(("text", "starts", "contains"), CASES)
def test_mistakes_are_one_sentence_naming_file_and_key(tmp_path, recaug, text, starts, contains):
    path = tmp_path / "exp.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = recaug("run", path, "--out", out)
    assert result.code == 2, result.err
    message = result.err.strip()
    assert message.startswith("error: " + starts), message
    assert contains in message
    assert "\n" not in message and "Traceback" not in message
    assert not out.exists()


def test_not_utf8_names_the_line(tmp_path, recaug):
    path = tmp_path / "exp.toml"
    path.write_bytes(HEADER.encode() + b'description = "caf\xe9"\n')
    result = recaug("run", path, "--out", tmp_path / "out")
    assert result.code == 2
    assert result.err.strip() == "error: exp.toml: line 10: not UTF-8 text"


def test_missing_file(tmp_path, recaug):
    result = recaug("run", tmp_path / "nope.toml", "--out", tmp_path / "out")
    assert result.code == 2 and "nope.toml: experiment file not found" in result.err


def test_filter_given_as_a_table(tmp_path, write_experiment):
    path = write_experiment(
        arm("a", "seq"),
        '[[arms.filters]]\nname = "popularity"\noptions = { max_head_share = 0.5 }\n',
    )
    experiment = load_experiment(path)
    filters = experiment.arms[0].settings.filters
    assert [f.name for f in filters] == ["dedupe", "popularity"]
    assert filters[1].options["max_head_share"] == 0.5


def test_dedupe_can_be_left_out(write_experiment):
    experiment = load_experiment(write_experiment(arm("a", "seq", dedupe="false")))
    assert experiment.arms[0].settings.filters == []


def test_relative_data_path_is_relative_to_the_experiment_file(tmp_path, recaug):
    from recaug_sources import samples

    samples.write("table-csv", tmp_path / "data")
    written = sorted(p.name for p in (tmp_path / "data").iterdir())
    folder = tmp_path / "experiments"
    folder.mkdir()
    path = folder / "exp.toml"
    path.write_text(
        HEADER.replace('ref = "demo"', f'ref = "../data/{written[0]}"').replace(
            "options = { users = 120, items = 60, interactions = 1500 }", ""
        )
    )
    experiment = load_experiment(path)
    assert experiment.data.ref == str((tmp_path / "data" / written[0]).resolve())


@pytest.mark.parametrize("name", ["demo.toml", "third-party.toml"])
def test_example_files_are_valid(name):
    from recaug_core.registry import get_registry

    if name == "third-party.toml" and "cooccurrence" not in get_registry().components("strategies"):
        pytest.skip("recaug-example-plugin is not installed")
    experiment = load_experiment(EXAMPLES / name)
    assert experiment.arms and len(experiment.config.seeds) == 3


@pytest.mark.parametrize("name", ["movielens-100k.toml", "movielens-100k-third-party.toml"])
def test_movielens_examples_are_valid_when_the_data_is_there(name):
    path = EXAMPLES / name
    import tomllib

    ref = tomllib.loads(path.read_text())["dataset"]["ref"]
    if not (path.parent / ref).exists():
        pytest.skip(f"MovieLens-100K is not at {path.parent / ref}")
    assert load_experiment(path).arms


def test_relative_paths_in_options_are_relative_to_the_experiment_file(
    tmp_path, monkeypatch, test_plugins
):
    folder = tmp_path / "project" / "experiments"
    (folder / "lists").mkdir(parents=True)
    (folder / "lists" / "blocked.txt").write_text("i0001\n")
    (folder / "interactions.csv").write_text("user,item\nu1,i0001\nu1,i0002\nu2,i0001\n")
    (folder / "items.csv").write_text("item_id,title\ni0001,A\ni0002,B\n")
    path = folder / "exp.toml"
    path.write_text(
        HEADER.replace('ref = "demo"', 'ref = "interactions.csv"').replace(
            "options = { users = 120, items = 60, interactions = 1500 }",
            'options = { items = "items.csv", delimiter = "," }',
        )
        + arm("blocked", "toy", filters='["blocklist:file=lists/blocked.txt"]')
    )
    monkeypatch.chdir(tmp_path)  # somewhere else: paths must not depend on it
    experiment = load_experiment(path)
    # a declared Path option is read relative to the file, existing or not
    filters = experiment.arms[0].settings.filters
    assert filters[-1].options["file"] == str(folder / "lists" / "blocked.txt")
    # a value written as a path that exists next to the file, too (the source's `items`)
    assert experiment.data.options["items"] == str(folder / "items.csv")
    # and a value that is no path stays as written
    assert experiment.data.options["delimiter"] == ","


def test_a_relative_path_in_an_experiment_reaches_the_filter(
    tmp_path, recaug, monkeypatch, test_plugins
):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "blocked.txt").write_text("\n".join(f"i{n:04d}" for n in range(1, 61)))
    path = folder / "exp.toml"
    path.write_text(HEADER + arm("blocked", "toy", filters='["blocklist:file=blocked.txt"]'))
    monkeypatch.chdir(tmp_path)
    result = recaug("run", path, "--out", tmp_path / "out", "--no-report")
    assert result.code == 0, result.err
    manifest = (tmp_path / "out/arms/blocked/seed-0/manifest.json").read_text()
    assert '"blocklist: item is blocked"' in manifest  # every item of the catalog is blocked
