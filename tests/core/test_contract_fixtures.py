"""What the contract tests give a plugin author to work with: documented ids, files for
options that read one, and a failure when the contract data does not exercise a filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from recaug_core.testing import TINY_ITEMS, TINY_USERS, FilterContract, tiny_dataset, tiny_split


def test_the_tiny_world_has_the_documented_ids():
    dataset = tiny_dataset()
    assert sorted(dataset.user_index.ids.to_pylist()) == TINY_USERS
    assert sorted(dataset.item_index.ids.to_pylist()) == TINY_ITEMS
    assert TINY_USERS[0] == "u0001" and TINY_ITEMS[-1] == "i0080"
    train = tiny_split().train
    assert train.n_users == len(TINY_USERS) and train.n_items == len(TINY_ITEMS)
    assert {"age"} <= set(train.users.column_names)
    assert {"title", "min_age"} <= set(train.items.column_names)


@pytest.mark.usefixtures("toy_plugin")
class TestBlocklistContract(FilterContract):
    """The toy blocklist filter reads its file through the contract's `files`."""

    component_name = "blocklist"
    files = {"lists/blocked.txt": "\n".join(TINY_ITEMS[:20])}
    options = {"file": "lists/blocked.txt"}

    def test_the_option_names_the_written_file(self):
        path = Path(self.make().options.file)
        assert path.is_absolute() and path.read_text().split() == TINY_ITEMS[:20]


def test_a_filter_the_contract_data_does_not_exercise_fails_the_contract(tmp_path, toy_plugin):
    nothing = tmp_path / "nothing.txt"
    nothing.write_text("not-an-item\n")

    class Idle(FilterContract):
        component_name = "blocklist"
        options = {"file": str(nothing)}

    with pytest.raises(AssertionError, match="rejected none of the contract's 120 rows"):
        Idle().test_rejects_some_rows_and_keeps_others(tmp_path)

    everything = tmp_path / "all.txt"
    everything.write_text("\n".join(TINY_ITEMS))

    class Everything(FilterContract):
        component_name = "blocklist"
        options = {"file": str(everything)}

    with pytest.raises(AssertionError, match="rejected all of the contract's 120 rows"):
        Everything().test_rejects_some_rows_and_keeps_others(tmp_path)
