"""Arms with their own backend options (a contrastive view is then an arm like a strategy),
and arms that add no rows."""

from __future__ import annotations

import json

import pytest
from experiment_files import HEADER, arm

ONLY_REAL = '{ pop = { count = "real" } }'


def plain_arm(name: str, **fields: object) -> str:
    """An [[arms]] table without a strategy."""
    lines = ["", "[[arms]]", f'name = "{name}"']
    lines += [f"{key} = {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def test_backend_options_apply_to_their_arm_only(tmp_path, recaug, write_experiment, test_plugins):
    # `toy` adds rows that pop counts; with count=real the same arm ranks as the baseline.
    path = write_experiment(
        arm("toy", "toy", target='"all"'),
        arm("toy-real", "toy", target='"all"', backend_options=ONLY_REAL),
        plain_arm("no-rows", backend_options=ONLY_REAL),
    )
    out = tmp_path / "out"
    result = recaug("run", path, "--out", out)
    assert result.code == 0, result.err
    results = json.loads((out / "results.json").read_text())
    ndcg = {(r["arm"], r["seed"]): r["metrics"]["ndcg@10"] for r in results["runs"]}
    for seed in (0, 1):
        assert ndcg[("toy-real", seed)] == ndcg[("baseline", seed)]
        assert ndcg[("no-rows", seed)] == ndcg[("baseline", seed)]
    assert any(ndcg[("toy", s)] != ndcg[("baseline", s)] for s in (0, 1))
    arms = results["arms"]
    assert arms["toy-real"]["backend_options"]["pop"]["count"] == "real"
    assert arms["toy"]["backend_options"] == {}
    assert arms["no-rows"]["augment"] is None
    assert not (out / "arms" / "no-rows" / "seed-0" / "manifest.json").exists()
    cached = json.loads((out / "arms/toy-real/seed-0/eval/pop.json").read_text())
    assert cached["settings"]["backend"]["options"]["count"] == "real"
    report = (out / "report.md").read_text()
    assert "## Arms" in report and "pop: count=real" in report
    assert "no rows added" in report


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        (arm("a", "toy", backend_options="{ nope = {} }"), "arms[0].backend_options.nope: no "),
        (
            arm("a", "toy", backend_options='{ pop = { count = "some" } }'),
            "arms[0].backend_options.pop: ",
        ),
        (plain_arm("a"), "an arm needs a strategy or backend_options"),
        (plain_arm("a", budget=3, backend_options=ONLY_REAL), "budget needs a strategy"),
    ],
)
def test_mistakes_name_the_arm_key(write_experiment, recaug, test_plugins, arms, message):
    result = recaug("run", write_experiment(arms), "--out", "never")
    assert result.code == 2
    assert result.err.startswith("error: exp.toml: ") and message in result.err, result.err
    assert "Traceback" not in result.err


def test_an_arm_without_rows_needs_no_strategy_plugin(write_experiment, test_plugins):
    from recaug_app.experiment_file import load_experiment

    experiment = load_experiment(write_experiment(plain_arm("view", backend_options=ONLY_REAL)))
    (only,) = experiment.arms
    assert only.settings is None
    backend = experiment.backend_for(only, experiment.backends[0])
    assert backend.options["count"] == "real"
    assert experiment.backend_for(None, experiment.backends[0]).options["count"] == "all"
    assert HEADER in experiment.text
