"""popularity: head-share cap, resampling to a target curve, and the Gini it reports."""

from __future__ import annotations

import numpy as np
import pytest

from recaug_core import Context, OptionsError, create, gini, synthetic_table, tail_items


def popular_rows(train, n: int, seed: int = 0):
    """``n`` rows for real users, items drawn by real popularity squared (head-heavy)."""
    rng = np.random.default_rng(seed)
    weight = train.real().item_popularity().astype(float) ** 2 + 1e-3
    items = rng.choice(train.n_items, size=n, p=weight / weight.sum())
    users = rng.choice(train.n_users, size=n)
    return synthetic_table(
        train.user_index.to_ids(users), train.item_index.to_ids(items), "test", parent_user=None
    )


def head_mask(train, table):
    return ~tail_items(train)[train.item_index.indices(table.column("item_id"))]


def test_head_cap_keeps_every_tail_row_and_the_allowed_head_rows(split, ctx):
    rows = popular_rows(split.train, 2000)
    head = head_mask(split.train, rows)
    n_tail = int((~head).sum())
    result = create("filters", "popularity", {"max_head_share": 0.3}).apply(split.train, rows, ctx)
    kept_head = head_mask(split.train, result.kept)
    assert int((~kept_head).sum()) == n_tail
    assert int(kept_head.sum()) == int(np.floor(0.3 / 0.7 * n_tail))
    assert head_mask(split.train, result.rejected).all()
    assert result.stats["synthetic_head_share_kept"] <= 0.3
    assert set(result.rejected.column("reason").to_pylist()) == {
        "popularity: head items over max_head_share"
    }


def test_default_cap_is_the_real_head_share(split, ctx):
    rows = popular_rows(split.train, 2000)
    popularity = split.train.real().item_popularity()
    real_share = popularity[~tail_items(split.train)].sum() / popularity.sum()
    result = create("filters", "popularity").apply(split.train, rows, ctx)
    assert result.stats["real_head_share"] == pytest.approx(real_share, abs=1e-4)
    assert result.stats["synthetic_head_share_in"] > real_share
    assert result.stats["synthetic_head_share_kept"] <= real_share


def test_gini_before_and_after_is_of_real_plus_synthetic_exposure(split, ctx):
    rows = popular_rows(split.train, 2000)
    result = create("filters", "popularity", {"target": "flat"}).apply(split.train, rows, ctx)
    popularity = split.train.real().item_popularity()
    kept = split.train.item_index.indices(result.kept.column("item_id"))
    exposure = popularity + np.bincount(kept, minlength=split.train.n_items)
    assert result.stats["gini_real"] == pytest.approx(gini(popularity), abs=1e-4)
    assert result.stats["gini_real_plus_kept"] == pytest.approx(gini(exposure), abs=1e-4)
    # popularity-heavy synthetic data makes exposure less equal; resampling to flat undoes it
    assert result.stats["gini_real_plus_input"] > result.stats["gini_real"]
    assert result.stats["gini_real_plus_kept"] < result.stats["gini_real"]


@pytest.mark.parametrize("target", ["real", "flat", "long-tail"])
def test_resampling_follows_the_target_curve(split, ctx, target):
    rows = popular_rows(split.train, 20_000)
    options = {"target": target, "max_head_share": "none", "bins": 5}
    result = create("filters", "popularity", options).apply(split.train, rows, ctx)
    wanted = np.array(result.stats["target_bin_shares"])
    got = np.array(result.stats["kept_bin_shares"])
    assert result.kept.num_rows > 0
    # every bin gets its quota rounded down: off by at most one row per bin
    np.testing.assert_allclose(got, wanted, atol=5 / result.kept.num_rows + 1e-4)
    if target == "flat":
        np.testing.assert_allclose(wanted, 0.2)


def test_same_seed_same_rows_other_seed_other_rows(split, tmp_path):
    rows = popular_rows(split.train, 2000)
    flt = create("filters", "popularity", {"max_head_share": 0.2})

    def kept_with(seed):
        return flt.apply(split.train, rows, Context(seed=seed, show_progress=False)).kept

    assert kept_with(1).equals(kept_with(1))
    assert not kept_with(1).equals(kept_with(2))


def test_no_cap_and_no_target_keeps_everything(split, ctx):
    rows = popular_rows(split.train, 500)
    flt = create("filters", "popularity", {"max_head_share": "none"})
    assert flt.apply(split.train, rows, ctx).kept.num_rows == 500


@pytest.mark.parametrize("bad", [{"max_head_share": 1.5}, {"target": "steep"}, {"bins": 1}])
def test_bad_options_are_rejected(bad):
    with pytest.raises(OptionsError, match=next(iter(bad))):
        create("filters", "popularity", bad)
