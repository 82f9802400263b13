"""Each filter drops its planted kind of bad row and keeps the good rows; chained on the
command line they drop every bad kind, and the run folder says which filter dropped what."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from filters_planted import (
    DEMO_SIZE,
    HEAD_CAP,
    HEAD_KEPT,
    PLANTED,
    PLAUSIBLE_THRESHOLD,
    kind_counts,
    of_kinds,
)

from recaug_app.cli import invoke
from recaug_core import create

# `pop` ranks by the popularity the planted rows were chosen by: no held-out share for it.
PLAUSIBILITY = {
    "backend": "pop",
    "valid_share": 0.0,
    "keep": "threshold",
    "threshold": PLAUSIBLE_THRESHOLD,
}
FILTER_OPTIONS: dict[str, dict[str, Any]] = {
    "catalog": {},
    "dedupe": {},
    "privacy": {},
    "diversity": {},
    "plausibility": PLAUSIBILITY,
}


def test_planted_counts(planted):
    assert kind_counts(planted) == PLANTED


@pytest.mark.parametrize("kind", sorted(FILTER_OPTIONS))
def test_filter_drops_its_kind_and_keeps_the_good_rows(kind, split, planted, ctx):
    rows = of_kinds(planted, "good", kind)
    result = create("filters", kind, FILTER_OPTIONS[kind]).apply(split.train, rows, ctx)
    assert kind_counts(result.kept) == {"good": PLANTED["good"]}
    assert kind_counts(result.rejected) == {kind: PLANTED[kind]}
    assert all(r.startswith(f"{kind}: ") for r in result.rejected.column("reason").to_pylist())


# Not plausibility: a few rows of other bad kinds (copies of real users' items) rank low too.
@pytest.mark.parametrize("kind", ["catalog", "dedupe", "diversity", "privacy"])
def test_filter_rejects_only_its_kind_among_all_kinds(kind, split, planted, ctx):
    result = create("filters", kind, FILTER_OPTIONS[kind]).apply(split.train, planted, ctx)
    assert kind_counts(result.rejected) == {kind: PLANTED[kind]}


def test_popularity_caps_the_head_and_keeps_the_good_tail_rows(split, planted, ctx):
    rows = of_kinds(planted, "good", "popularity")
    flt = create("filters", "popularity", {"max_head_share": HEAD_CAP})
    result = flt.apply(split.train, rows, ctx)
    dropped = PLANTED["popularity"] - HEAD_KEPT
    assert kind_counts(result.kept) == {"good": PLANTED["good"], "popularity": HEAD_KEPT}
    assert kind_counts(result.rejected) == {"popularity": dropped}
    assert result.stats["synthetic_head_share_kept"] <= HEAD_CAP
    assert result.stats["gini_real_plus_kept"] < result.stats["gini_real_plus_input"]


def test_chained_on_the_command_line(planted_plugin, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RECAUG_PROGRESS", "0")
    out = tmp_path / "run"
    source = [f"-s{key}={value}" for key, value in DEMO_SIZE.items()]
    code = invoke(
        [
            "augment",
            "demo",
            *source,
            "--strategy",
            "planted",
            "--filter",
            "catalog",
            "--filter",
            "privacy",
            "--filter",
            "diversity",
            "--filter",
            f"plausibility:backend=pop,valid_share=0,keep=threshold,threshold={PLAUSIBLE_THRESHOLD}",
            "--filter",
            f"popularity:max_head_share={HEAD_CAP}",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rejected = pq.read_table(out / "rejected.parquet")
    augmented = pq.read_table(out / "augmented.parquet")
    kept = augmented.filter(pc.equal(augmented.column("origin"), "planted"))
    expected_rejected = {k: n for k, n in PLANTED.items() if k != "good"}
    expected_rejected["popularity"] -= HEAD_KEPT
    assert kind_counts(rejected) == expected_rejected
    assert kind_counts(kept) == {"good": PLANTED["good"], "popularity": HEAD_KEPT}
    # dedupe ran first (the default), and each filter is named on the rows it dropped
    assert kind_counts(rejected, "filter") == expected_rejected
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["name"] for f in manifest["fingerprint"]["augment"]["filters"]] == [
        "dedupe",
        "catalog",
        "privacy",
        "diversity",
        "plausibility",
        "popularity",
    ]
    counts = manifest["counts"]
    assert counts["generated"] == sum(PLANTED.values())
    assert counts["kept"] == PLANTED["good"] + HEAD_KEPT
    assert sum(counts["rejected_by_reason"].values()) == sum(expected_rejected.values())
    stats = manifest["filter_stats"]
    assert stats["catalog"]["unknown_items"] == 5
    assert (
        stats["privacy"]["exact_copy_rate_in"] > 0 and stats["privacy"]["exact_copy_rate_kept"] == 0
    )
    assert stats["privacy"]["dcr_real_baseline"]["p50"] > 0
    assert stats["diversity"]["identical_users"] == 2
    assert stats["diversity"]["near_duplicate_users"] == 2
    assert stats["plausibility"]["ranked"] == stats["plausibility"]["in"]
    assert stats["popularity"]["synthetic_head_share_kept"] <= HEAD_CAP
