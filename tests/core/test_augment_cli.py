"""`recaug augment` end to end with the toy strategy: outputs, provenance, run-folder safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

SMALL = ("demo", "-s", "users=120", "-s", "items=60", "-s", "interactions=1500")
OUTPUTS = (
    "synthetic.parquet",
    "rejected.parquet",
    "augmented.parquet",
    "split.parquet",
    "items.parquet",
    "users.parquet",
    "manifest.json",
)


@pytest.fixture
def run_dir(tmp_path, recaug, toy_plugin):
    out = tmp_path / "run"
    result = recaug("augment", *SMALL, "--strategy", "toy", "-o", "per_user=4", "--out", out)
    assert result.code == 0, result.err
    return out


def test_writes_every_output_file(run_dir):
    for name in OUTPUTS:
        assert (run_dir / name).exists(), name
    assert not list(run_dir.glob(".*tmp*")) and not (run_dir / ".lock").exists()


def test_augmented_is_real_train_plus_kept_synthetic(run_dir):
    split = pq.read_table(run_dir / "split.parquet")
    train_rows = int(pc.sum(pc.equal(split.column("split"), "train")).as_py())
    augmented = pq.read_table(run_dir / "augmented.parquet")
    synthetic = pq.read_table(run_dir / "synthetic.parquet")
    rejected = pq.read_table(run_dir / "rejected.parquet")
    origins = augmented.column("origin")
    assert int(pc.sum(pc.equal(origins, "real")).as_py()) == train_rows
    kept = int(pc.sum(pc.equal(origins, "toy")).as_py())
    assert kept + rejected.num_rows == synthetic.num_rows
    assert set(synthetic.column("origin").to_pylist()) == {"toy"}
    assert set(rejected.column("reason").to_pylist()) <= {
        "dedupe: repeats a real training pair",
        "dedupe: repeats an earlier synthetic row",
    }


def test_no_held_out_pair_reaches_the_augmented_training_set(run_dir):
    split = pq.read_table(run_dir / "split.parquet")
    held = split.filter(pc.not_equal(split.column("split"), "train"))
    held_pairs = set(zip(held.column("user_id").to_pylist(), held.column("item_id").to_pylist()))
    augmented = pq.read_table(run_dir / "augmented.parquet")
    real = augmented.filter(pc.equal(augmented.column("origin"), "real"))
    assert not held_pairs & set(
        zip(real.column("user_id").to_pylist(), real.column("item_id").to_pylist())
    )


def test_manifest_records_how_to_reproduce(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["schema_version"] == 2 and manifest["kind"] == "augment"
    assert manifest["status"] == "done"
    assert manifest["command"][:2] == ["recaug", "augment"]
    settings = manifest["fingerprint"]  # everything that decides the output
    assert settings["seed"] == 0 and settings["data"]["ref"] == "demo"
    assert settings["augment"]["strategy"] == "toy"
    assert settings["augment"]["options"] == {"per_user": 4}
    assert settings["augment"]["filters"][0]["name"] == "dedupe"
    assert manifest["versions"]["recaug"] and manifest["versions"]["pyarrow"]
    counts = manifest["counts"]
    assert counts["generated"] == counts["kept"] + counts["rejected"]
    assert manifest["filter_stats"]["dedupe"]["in"] == counts["generated"]
    for stage in ("load_s", "split_s", "fit_s", "generate_s", "filter_s", "write_s"):
        assert stage in manifest["timings"]


def test_same_seed_same_rows_other_seed_other_rows(run_dir, tmp_path, recaug):
    again = tmp_path / "again"
    other = tmp_path / "other"
    toy = ("augment", *SMALL, "--strategy", "toy", "-o", "per_user=4")
    assert recaug(*toy, "--out", again).code == 0
    assert (
        recaug(
            "augment",
            *SMALL,
            "--strategy",
            "toy",
            "-o",
            "per_user=4",
            "--seed",
            "1",
            "--out",
            other,
        ).code
        == 0
    )
    first = pq.read_table(run_dir / "synthetic.parquet")
    assert first.equals(pq.read_table(again / "synthetic.parquet"))
    assert not first.equals(pq.read_table(other / "synthetic.parquet"))


def test_a_finished_run_is_never_overwritten(run_dir, recaug):
    before = (run_dir / "synthetic.parquet").read_bytes()
    result = recaug("augment", *SMALL, "--strategy", "toy", "--out", run_dir)
    assert result.code == 2 and "already holds a finished run" in result.err
    assert (run_dir / "synthetic.parquet").read_bytes() == before


def test_resume_of_a_finished_run_does_nothing(run_dir, recaug):
    result = recaug(
        "augment", *SMALL, "--strategy", "toy", "-o", "per_user=4", "--out", run_dir, "--resume"
    )
    assert result.code == 0 and "nothing to do" in result.err


def test_resume_with_other_settings_is_refused(run_dir, recaug):
    result = recaug(
        "augment", *SMALL, "--strategy", "toy", "-o", "per_user=9", "--out", run_dir, "--resume"
    )
    assert result.code == 2 and "strategy options differ" in result.err


def test_an_unfinished_run_needs_resume_and_resumes_from_the_generated_rows(run_dir, recaug):
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["status"] = "running"  # as a SIGKILLed run leaves it
    manifest_path.write_text(json.dumps(manifest))
    (run_dir / "augmented.parquet").unlink()
    expected = pq.read_table(run_dir / "synthetic.parquet")
    refused = recaug("augment", *SMALL, "--strategy", "toy", "-o", "per_user=4", "--out", run_dir)
    assert refused.code == 2 and "--resume" in refused.err
    resumed = recaug(
        "augment", *SMALL, "--strategy", "toy", "-o", "per_user=4", "--out", run_dir, "--resume"
    )
    assert resumed.code == 0, resumed.err
    assert pq.read_table(run_dir / "synthetic.parquet").equals(expected)
    assert (run_dir / "augmented.parquet").exists()


def test_a_live_lock_keeps_a_second_run_out(tmp_path, recaug, toy_plugin):
    out = tmp_path / "locked"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".lock").write_text(f"{sleeper.pid} {os.uname().nodename}\n")
        result = recaug("augment", *SMALL, "--strategy", "toy", "--out", out)
        assert result.code == 2
        assert f"in use by another recaug run (pid {sleeper.pid})" in result.err
    finally:
        sleeper.kill()
        sleeper.wait()
    # the holder is gone: its lock is stale and the next run takes it over
    assert recaug("augment", *SMALL, "--strategy", "toy", "--out", out).code == 0


def test_a_folder_that_is_not_a_run_is_not_written_into(tmp_path, recaug, toy_plugin):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = recaug("augment", *SMALL, "--strategy", "toy", "--out", out)
    assert result.code == 2 and "holds no recaug run" in result.err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_bad_data_leaves_no_run_folder_behind(tmp_path, recaug, toy_plugin):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating\nu1,i1,5\nu2,i2,lots\n")
    out = tmp_path / "run"
    result = recaug("augment", bad, "--strategy", "toy", "--out", out)
    assert result.code == 2 and "bad.csv, line 3, column 'rating'" in result.err
    assert not out.exists()


def test_budget_and_filters_on_the_command_line(tmp_path, recaug, toy_plugin):
    out = tmp_path / "run"
    result = recaug(
        "augment",
        *SMALL,
        "--strategy",
        "toy",
        "-o",
        "per_user=50",
        "--budget",
        "25",
        "--no-dedupe",
        "--json",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    counts = json.loads(result.out)["counts"]
    assert counts["generated"] == 25 and counts["rejected"] == 0
    unknown = recaug(
        "augment", *SMALL, "--strategy", "toy", "--filter", "nope:x=1", "--out", tmp_path / "r2"
    )
    assert unknown.code == 2 and "unknown filter 'nope'" in unknown.err
    malformed = recaug(
        "augment", *SMALL, "--strategy", "toy", "--filter", "dedupe:x", "--out", tmp_path / "r3"
    )
    assert malformed.code == 2 and "NAME:key=value" in malformed.err


TOY = ("augment", *SMALL, "--strategy", "toy")


def _as_left_by(run_dir, status):
    """The folder as a run that generated and then failed (or was killed) leaves it."""
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["status"] = status
    manifest["error"] = "RecaugError: a filter refused its options" if status == "failed" else None
    manifest_path.write_text(json.dumps(manifest))
    (run_dir / "augmented.parquet").unlink()


def test_a_failed_run_says_how_to_reuse_its_folder(run_dir, recaug):
    _as_left_by(run_dir, "failed")
    refused = recaug(*TOY, "-o", "per_user=4", "--out", run_dir)
    assert refused.code == 2
    assert "it failed: a filter refused its options" in refused.err
    assert "pass --resume to continue it, --force to delete it and start afresh" in refused.err


def test_force_starts_a_failed_run_afresh_with_any_settings(run_dir, recaug):
    _as_left_by(run_dir, "failed")
    result = recaug(*TOY, "-o", "per_user=2", "--out", run_dir, "--force")
    assert result.code == 0, result.err
    assert "--force: deleted the unfinished run (it failed: " in result.err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["fingerprint"]["augment"]["options"] == {
        "per_user": 2
    }


def test_force_never_deletes_a_finished_run(run_dir, recaug):
    before = (run_dir / "synthetic.parquet").read_bytes()
    result = recaug(*TOY, "-o", "per_user=2", "--out", run_dir, "--force")
    assert result.code == 2 and "--force never deletes" in result.err
    assert (run_dir / "synthetic.parquet").read_bytes() == before


@pytest.mark.parametrize("status", ["failed", "running"])
def test_resume_with_other_filters_filters_the_generated_rows_again(run_dir, recaug, status):
    _as_left_by(run_dir, status)
    generated = pq.read_table(run_dir / "synthetic.parquet")
    result = recaug(*TOY, "-o", "per_user=4", "--no-dedupe", "--out", run_dir, "--resume")
    assert result.code == 0, result.err
    assert "with other dedupe and filters; its generated rows are filtered again" in result.err
    assert pq.read_table(run_dir / "synthetic.parquet").equals(generated)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["fingerprint"]["augment"]["filters"] == []
    assert manifest["counts"]["rejected"] == 0 and manifest["status"] == "done"


def test_resume_replaces_a_failed_run_of_other_strategy_settings(run_dir, recaug):
    _as_left_by(run_dir, "failed")
    result = recaug(*TOY, "-o", "per_user=2", "--out", run_dir, "--resume")
    assert result.code == 0, result.err
    assert "of other settings (strategy options differ), which nothing here can use" in result.err
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "done"


def test_resume_keeps_an_interrupted_run_of_other_strategy_settings(run_dir, recaug):
    _as_left_by(run_dir, "running")  # killed after generating: its rows cost time
    result = recaug(*TOY, "-o", "per_user=2", "--out", run_dir, "--resume")
    assert result.code == 2 and "strategy options differ" in result.err
    assert "pass --force instead of --resume to delete it and start afresh" in result.err


def test_augment_ends_by_naming_the_folder_and_the_next_command(tmp_path, recaug, toy_plugin):
    out = tmp_path / "my run"
    result = recaug(*TOY, "--out", out)
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert lines[-2] == f"run folder: {out}"
    assert lines[-1].startswith(f"next: recaug evaluate --augmented '{out}'")


def test_strategy_options_may_follow_its_name(tmp_path, recaug, toy_plugin):
    out = tmp_path / "run"
    result = recaug("augment", *SMALL, "--strategy", "toy:per_user=2", "--out", out)
    assert result.code == 0, result.err
    options = json.loads((out / "manifest.json").read_text())["fingerprint"]["augment"]["options"]
    assert options == {"per_user": 2}


def test_unknown_csv_columns_name_the_option_that_maps_them(recaug, tmp_path):
    data = tmp_path / "shop.csv"
    data.write_text("account,sku,stars,when\na1,s1,5,2024-01-02\na2,s1,4,2024-01-03\n")
    result = recaug("data", "info", data)
    assert result.code == 2
    assert "no user column among the columns 'account, sku, stars, when'" in result.err
    assert "-s user=COLUMN" in result.err
    mapped = recaug("data", "info", data, "-s", "user=account", "-s", "item=sku")
    assert mapped.code == 0, mapped.err
    # the dates are not recognised as times: said, with the option that reads them
    assert "column 'when' looks like one" in mapped.err
    assert "-s timestamp=when" in mapped.err
    timed = recaug(
        "data", "info", data, "-s", "user=account", "-s", "item=sku", "-s", "timestamp=when"
    )
    assert timed.code == 0, timed.err
    assert "looks like one" not in timed.err
