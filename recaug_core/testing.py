"""Contract tests for plugin authors.

Subclass the mixin for your component in a pytest test class and set ``component_name`` (and
``options`` if needed); every ``test_*`` method then checks a promise recaug relies on::

    from recaug_core.testing import StrategyContract

    class TestMyStrategy(StrategyContract):
        component_name = "my-strategy"
        options = {"per_user": 3}

Data comes from ``tiny_dataset()``: a small deterministic ``demo`` world whose ids are part of
this module's promise, so that a test can name them: users ``u0001`` to ``u0060`` (with ``age``
and ``country``), items ``i0001`` to ``i0080`` (with ``title``, ``genres``, ``description``,
``year`` and ``min_age``), about 740 interactions; ``tiny_split()`` splits it (with the
default seed every user and item is in its training split).

Options that name a file: put the file's text in ``files`` and its name in ``options``; the
contract writes it into a temporary folder before each test and passes its full path::

    class TestBlocklist(FilterContract):
        component_name = "blocklist"
        files = {"blocked.txt": "i0001\ni0002\n"}
        options = {"file": "blocked.txt"}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recaug_core.api import Component, DataSource, GenerationRequest, SyntheticData, Target
from recaug_core.data import Dataset, synthetic_table
from recaug_core.errors import OptionsError
from recaug_core.merge import MergePolicy, merged_training_set
from recaug_core.registry import create, get_registry
from recaug_core.runtime import Context
from recaug_core.schema import INTERACTION_SCHEMA, REAL, normalize_interactions
from recaug_core.split import Split, split_dataset

TINY_USERS = [f"u{n:04d}" for n in range(1, 61)]  # the user ids of tiny_dataset()
TINY_ITEMS = [f"i{n:04d}" for n in range(1, 81)]  # its item ids


def tiny_dataset(seed: int = 0) -> Dataset:
    """A small demo world: users ``TINY_USERS`` (u0001-u0060), items ``TINY_ITEMS``
    (i0001-i0080), about 740 interactions, with item text, ``min_age`` and user ``age``."""
    world = {"users": len(TINY_USERS), "items": len(TINY_ITEMS), "interactions": 900, "seed": seed}
    dataset: Dataset = create("sources", "demo", world).load("demo")
    return dataset


def tiny_split(seed: int = 0) -> Split:
    return split_dataset(tiny_dataset(), seed=seed)


def _context(tmp_path: Path, seed: int = 0) -> Context:
    return Context(seed=seed, work_dir=tmp_path, show_progress=False)


class ComponentContract:
    """Promises every component keeps: registered, described, options that round-trip."""

    kind: ClassVar[str]
    component_name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    # files an option names, by name: written before each test, the option gets the full path
    files: ClassVar[dict[str, str]] = {}
    _written: dict[str, str]

    @pytest.fixture(autouse=True)
    def _write_files(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._written = {}
        if not self.files:
            return
        folder = tmp_path_factory.mktemp("contract-files")
        for name, text in self.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self._written[name] = str(path)

    def component_class(self) -> type[Component]:
        return get_registry().get(self.kind, self.component_name)

    def resolved_options(self) -> dict[str, Any]:
        """``options`` with each value that names one of ``files`` replaced by its path."""
        written = getattr(self, "_written", {})
        return {
            key: written.get(value, value) if isinstance(value, str) else value
            for key, value in self.options.items()
        }

    def make(self, **overrides: Any) -> Any:
        return self.component_class()({**self.resolved_options(), **overrides})

    def test_registered_under_its_name(self) -> None:
        assert self.component_class().name == self.component_name

    def test_has_one_line_description(self) -> None:
        description = self.component_class().description
        assert description.strip(), "describe the component in one line"
        assert "\n" not in description.strip()

    def test_options_round_trip(self) -> None:
        component = self.make()
        again = self.component_class()(component.options_dict())
        assert again.options == component.options
        json.dumps(component.options_dict())

    def test_unknown_option_is_rejected_with_valid_ones_listed(self) -> None:
        with pytest.raises(OptionsError) as info:
            self.make(no_such_option_xyz=1)
        assert "no_such_option_xyz" in str(info.value)
        assert "valid options" in str(info.value)

    def test_options_schema_is_json(self) -> None:
        schema = self.component_class().options_schema()
        assert schema.get("type") == "object"
        json.dumps(schema)


class StrategyContract(ComponentContract):
    """Promises of an augmentation strategy."""

    kind = "strategies"
    budget: ClassVar[int] = 40
    target: ClassVar[Target] = "sparse"
    # Set True for a strategy that invents new catalog items on purpose.
    generates_new_items: ClassVar[bool] = False

    def generate(
        self,
        tmp_path: Path,
        *,
        seed: int = 0,
        budget: int | None = None,
        split: Split | None = None,
    ) -> pa.Table:
        split = split or tiny_split()
        strategy = self.make()
        ctx = _context(tmp_path / f"seed{seed}-{budget}", seed)
        strategy.fit(split.train, ctx)
        request = GenerationRequest(
            budget=self.budget if budget is None else budget, target=self.target
        )
        out = strategy.generate(split.train, request, ctx)
        if isinstance(out, SyntheticData):
            out = out.interactions
        assert isinstance(out, pa.Table), "generate must return a pyarrow Table"
        return out

    def test_output_has_the_interaction_schema(self, tmp_path: Path) -> None:
        table = normalize_interactions(self.generate(tmp_path))
        assert table.schema.names[:7] == INTERACTION_SCHEMA.names
        assert table.num_rows > 0, "the strategy generated nothing on the tiny dataset"

    def test_origin_is_the_strategy_name(self, tmp_path: Path) -> None:
        table = self.generate(tmp_path)
        origins = set(table.column("origin").to_pylist())
        assert origins == {self.component_name}

    def test_budget_is_respected(self, tmp_path: Path) -> None:
        for budget in (0, 7):
            assert self.generate(tmp_path, budget=budget).num_rows <= budget

    def test_same_seed_same_rows(self, tmp_path: Path) -> None:
        first = self.generate(tmp_path / "a", seed=3)
        second = self.generate(tmp_path / "b", seed=3)
        assert first.equals(second), "two runs with the same seed must generate the same rows"

    def test_items_come_from_the_catalog(self, tmp_path: Path) -> None:
        if self.generates_new_items:
            pytest.skip("strategy invents items on purpose")
        split = tiny_split()
        table = self.generate(tmp_path, split=split)
        known = split.train.item_index.lookup(table.column("item_id"))
        assert (known >= 0).all(), "generated items must exist in the catalog"

    def test_parent_users_are_real_training_users(self, tmp_path: Path) -> None:
        split = tiny_split()
        table = self.generate(tmp_path, split=split)
        parents = table.column("parent_user").drop_null()
        if len(parents):
            train_users = pc.unique(split.train.interactions.column("user_id"))
            assert pc.all(pc.is_in(parents, value_set=train_users)).as_py()

    def test_sees_only_the_training_split(self, tmp_path: Path) -> None:
        from recaug_core.pipeline import augment_split

        split = tiny_split()
        seen: list[Dataset] = []
        strategy = self.make()
        original_fit, original_generate = strategy.fit, strategy.generate

        def fit(train: Dataset, ctx: Context) -> None:
            seen.append(train)
            original_fit(train, ctx)

        def generate(train: Dataset, request: GenerationRequest, ctx: Context) -> Any:
            seen.append(train)
            return original_generate(train, request, ctx)

        strategy.fit, strategy.generate = fit, generate
        request = GenerationRequest(budget=self.budget, target=self.target)
        augment_split(split, strategy, [], request, _context(tmp_path))
        held_out = pa.concat_tables([split.valid.interactions, split.test.interactions])
        held_keys = set(
            zip(held_out.column("user_id").to_pylist(), held_out.column("item_id").to_pylist())
        )
        for train in seen:
            assert train.interactions.equals(split.train.interactions)
            pairs = zip(
                train.interactions.column("user_id").to_pylist(),
                train.interactions.column("item_id").to_pylist(),
            )
            assert not held_keys.intersection(pairs)


class FilterContract(ComponentContract):
    """Promises of a quality filter: every row is kept or rejected with a reason, extra
    columns survive, and the same input gives the same answer; and the contract's rows do
    exercise it (some rejected, some kept): add rows it must reject in ``synthetic``."""

    kind = "filters"
    # False only for a filter that cannot reject anything the contract could feed it
    must_reject_some: ClassVar[bool] = True

    def synthetic(self, split: Split) -> pa.Table:
        """Synthetic rows to filter: random catalog pairs for training users (override freely)."""
        rng = np.random.default_rng(0)
        users = split.train.interactions.column("user_id").to_numpy(zero_copy_only=False)
        items = split.train.item_index.ids.to_numpy(zero_copy_only=False)
        n = 120
        table = synthetic_table(
            rng.choice(users, n),
            rng.choice(items, n),
            "contract",
            parent_user=None,
            score=rng.random(n).astype(np.float32),
        )
        return table

    def apply(self, tmp_path: Path, table: pa.Table | None = None) -> tuple[pa.Table, Any]:
        split = tiny_split()
        table = self.synthetic(split) if table is None else table
        table = table.append_column("row_marker", pa.array(np.arange(table.num_rows)))
        result = self.make().apply(split.train, table, _context(tmp_path))
        return table, result

    def test_every_row_is_kept_or_rejected_once(self, tmp_path: Path) -> None:
        table, result = self.apply(tmp_path)
        kept = result.kept.column("row_marker").to_pylist()
        rejected = result.rejected.column("row_marker").to_pylist()
        assert sorted(kept + rejected) == list(range(table.num_rows))

    def test_rejections_carry_a_reason(self, tmp_path: Path) -> None:
        _, result = self.apply(tmp_path)
        if result.rejected.num_rows:
            reasons = result.rejected.column("reason").to_pylist()
            assert all(isinstance(r, str) and r for r in reasons)

    def test_rejects_some_rows_and_keeps_others(self, tmp_path: Path) -> None:
        table, result = self.apply(tmp_path)
        rows = table.num_rows
        if self.must_reject_some:
            assert result.rejected.num_rows > 0, (
                f"filter '{self.component_name}' rejected none of the contract's {rows} rows, "
                "so the contract did not exercise it: override synthetic(split) to add rows it "
                "must reject (tiny_split() ids: users u0001-u0060, items i0001-i0080)"
            )
        assert result.kept.num_rows > 0, (
            f"filter '{self.component_name}' rejected all of the contract's {rows} rows: "
            "override synthetic(split) to add rows it keeps"
        )

    def test_same_input_same_result(self, tmp_path: Path) -> None:
        _, first = self.apply(tmp_path / "a")
        _, second = self.apply(tmp_path / "b")
        assert first.kept.equals(second.kept)

    def test_empty_input(self, tmp_path: Path) -> None:
        split = tiny_split()
        empty = self.synthetic(split).slice(0, 0)
        _, result = self.apply(tmp_path, empty)
        assert result.kept.num_rows == 0 and result.rejected.num_rows == 0


class BackendContract(ComponentContract):
    """Promises of a recommender backend."""

    kind = "backends"

    def fitted(self, tmp_path: Path, seed: int = 0, train: Dataset | None = None) -> Any:
        split = tiny_split()
        model = self.make()
        model.fit(train or split.train, _context(tmp_path, seed), valid=split.valid)
        return model, split

    def test_scores_every_item_for_each_user(self, tmp_path: Path) -> None:
        model, split = self.fitted(tmp_path)
        users = np.arange(min(7, split.train.n_users))
        scores = np.asarray(model.score(users))
        assert scores.shape == (len(users), split.train.n_items)
        assert np.isfinite(scores).all()

    def test_same_seed_same_scores(self, tmp_path: Path) -> None:
        first, _ = self.fitted(tmp_path / "a", seed=5)
        second, _ = self.fitted(tmp_path / "b", seed=5)
        users = np.arange(5)
        np.testing.assert_allclose(first.score(users), second.score(users), rtol=1e-5, atol=1e-6)

    def test_recommend_returns_the_top_scored_items(self, tmp_path: Path) -> None:
        model, _ = self.fitted(tmp_path)
        users = np.arange(4)
        top = model.recommend(users, 5)
        scores = np.asarray(model.score(users))
        assert top.shape == (4, 5)
        for row in range(4):
            best = np.sort(scores[row])[::-1][:5]
            np.testing.assert_allclose(np.sort(scores[row, top[row]])[::-1], best, rtol=1e-6)

    def test_trains_on_data_with_synthetic_users(self, tmp_path: Path) -> None:
        split = tiny_split()
        items = split.train.item_index.ids.to_pylist()[:6]
        extra = synthetic_table(
            ["syn-1"] * 3 + ["syn-2"] * 3, items, "contract", parent_user=["u0001"] * 6
        )
        train = split.train.with_interactions(
            pa.concat_tables([split.train.interactions, extra]), extend_users=True
        )
        model, _ = self.fitted(tmp_path, train=train)
        scores = np.asarray(model.score(np.arange(3)))
        assert scores.shape == (3, split.train.n_items)
        assert int(pc.sum(pc.equal(train.interactions.column("origin"), REAL)).as_py()) == len(
            split.train
        )

    # -- merge policies (only those the backend declares in ``merge_policies``) ----------------

    def merged_fit(self, tmp_path: Path, policy: str | None, synthetic: bool = True) -> Any:
        """The backend fitted as evaluation fits it: on the tiny split's training rows plus
        synthetic rows (for real users and two new ones, with scores) under ``policy``."""
        split = tiny_split()
        train = split.train
        if synthetic:
            train = train.with_interactions(
                pa.concat_tables([train.interactions, contract_synthetic_rows(split)]),
                extend_users=True,
            )
        merge = None if policy is None else MergePolicy.parse(policy)
        if merge is not None:
            train = merged_training_set(split.train, train, merge)
        model = self.make()
        ctx = _context(tmp_path)
        ctx.merge = merge
        model.fit(train, ctx, valid=split.valid)
        return np.asarray(model.score(np.arange(split.train.n_users)))

    def _needs(self, policy: str) -> None:
        if policy not in self.component_class().merge_policies:  # type: ignore[attr-defined]
            pytest.skip(f"the backend does not declare merge policy '{policy}'")

    def test_weight_zero_trains_exactly_on_the_real_rows(self, tmp_path: Path) -> None:
        self._needs("weighted")
        real = self.merged_fit(tmp_path / "real", None, synthetic=False)
        zero = self.merged_fit(tmp_path / "zero", "weighted:weight=0")
        np.testing.assert_allclose(zero, real, rtol=1e-5, atol=1e-6)

    def test_weight_one_trains_exactly_as_concat(self, tmp_path: Path) -> None:
        self._needs("weighted")
        concat = self.merged_fit(tmp_path / "concat", "concat")
        one = self.merged_fit(tmp_path / "one", "weighted:weight=1")
        np.testing.assert_allclose(one, concat, rtol=1e-5, atol=1e-6)

    def test_a_weight_between_changes_what_is_learnt(self, tmp_path: Path) -> None:
        self._needs("weighted")
        concat = self.merged_fit(tmp_path / "concat", "concat")
        half = self.merged_fit(tmp_path / "half", "weighted:weight=0.3")
        assert not np.allclose(half, concat, rtol=1e-4, atol=1e-5)

    def test_pretrain_differs_from_concat(self, tmp_path: Path) -> None:
        self._needs("pretrain")
        concat = self.merged_fit(tmp_path / "concat", "concat")
        pretrain = self.merged_fit(tmp_path / "pretrain", "pretrain")
        assert pretrain.shape == concat.shape and np.isfinite(pretrain).all()
        assert not np.allclose(pretrain, concat, rtol=1e-4, atol=1e-5)


def contract_synthetic_rows(split: Split) -> pa.Table:
    """Synthetic rows for the merge-policy contract: three unseen items for each of the first
    ten training users, and two new users, with scores that differ row by row."""
    train = split.train
    users = train.user_index.ids.to_pylist()[:10]
    items = train.item_index.ids.to_pylist()
    known = set(zip(*(train.interactions.column(c).to_pylist() for c in ("user_id", "item_id"))))
    rows_u, rows_i = [], []
    for position, user in enumerate(users):
        fresh = [i for i in items[position * 3 :] if (user, i) not in known][:3]
        rows_u += [user] * len(fresh)
        rows_i += fresh
    rows_u += ["syn-1"] * 4 + ["syn-2"] * 4
    rows_i += items[:4] + items[4:8]
    scores = np.linspace(0.1, 0.9, len(rows_u)).tolist()
    parents = [u if not u.startswith("syn-") else users[0] for u in rows_u]
    return synthetic_table(rows_u, rows_i, "contract", parent_user=parents, score=scores)


class SourceContract(ComponentContract):
    """Promises of a data source. Implement ``write_sample(folder) -> ref`` that writes a
    small input and returns the reference to load, and set ``expected_rows``."""

    kind = "sources"
    expected_rows: ClassVar[int]

    def write_sample(self, folder: Path) -> str:
        raise NotImplementedError

    def test_recognises_its_sample(self, tmp_path: Path) -> None:
        ref = self.write_sample(tmp_path)
        source = self.component_class()
        assert issubclass(source, DataSource) and source.can_load(ref)

    def test_loads_the_interaction_schema(self, tmp_path: Path) -> None:
        data = self.make().load(self.write_sample(tmp_path))
        assert isinstance(data, Dataset)
        assert data.interactions.schema.names[:7] == INTERACTION_SCHEMA.names
        assert len(data) == self.expected_rows
        assert set(data.interactions.column("origin").to_pylist()) == {REAL}

    def test_loading_twice_gives_the_same_data(self, tmp_path: Path) -> None:
        ref = self.write_sample(tmp_path)
        assert self.make().load(ref).interactions.equals(self.make().load(ref).interactions)
