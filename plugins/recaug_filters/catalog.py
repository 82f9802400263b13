"""`catalog`: drop rows naming an item outside the catalog or a user nobody declared.

A user id is accepted when it is a real user of the dataset (any split, or the users table)
or a *declared synthetic user*: an id that starts with ``new_user_prefix`` (``syn-`` by
default). A set ``parent_user`` must name a real user. Anything else is usually a strategy
bug (ids mangled to ``"12.0"``, invented items) that would silently grow the catalog.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from recaug_core import Context, Dataset, FilterResult, Options, QualityFilter
from recaug_filters.rows import is_null, split_rows

UNKNOWN_ITEM = "catalog: item not in the catalog"
UNTRAINED_ITEM = "catalog: item has no real training interactions"
UNKNOWN_USER = "catalog: user is neither real nor a declared synthetic user"
UNKNOWN_PARENT = "catalog: parent_user is not a real user"
UNKNOWN_ENTITY = "catalog: text for an entity other than item or user"


class CatalogOptions(Options):
    new_user_prefix: str = Field(
        default="syn-",
        description="ids of new synthetic users must start with this prefix; an empty prefix "
        "accepts any new user id",
    )
    check_parent: bool = Field(
        default=True, description="reject rows whose parent_user is set but is not a real user"
    )
    items: Literal["catalog", "trained"] = Field(
        default="catalog",
        description="'catalog': any item the dataset knows (items table or any split); "
        "'trained': only items with real training interactions",
    )


class CatalogFilter(QualityFilter):
    name = "catalog"
    description = (
        "Drops rows with items outside the catalog or users neither real nor declared synthetic."
    )
    Options = CatalogOptions
    options: CatalogOptions

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        users = synthetic.column("user_id")
        real_user = train.user_index.lookup(users) >= 0
        unknown_item, untrained_item = self._bad_items(train, synthetic.column("item_id"))
        bad_item = unknown_item | untrained_item
        bad_user = self._undeclared(users, real_user)
        parents = synthetic.column("parent_user")
        bad_parent = np.zeros(synthetic.num_rows, dtype=bool)
        if self.options.check_parent:
            bad_parent = ~is_null(parents) & (train.user_index.lookup(parents) < 0)
        # One reason per row: the first check it fails, in the order the docs list them.
        which = np.select([unknown_item, untrained_item, bad_user], [0, 1, 2], default=3)
        drop = bad_item | bad_user | bad_parent
        new_users = users.filter(pa.array(~drop & ~real_user))
        return split_rows(
            synthetic,
            drop,
            [UNKNOWN_ITEM, UNTRAINED_ITEM, UNKNOWN_USER, UNKNOWN_PARENT],
            which,
            stats={
                "unknown_items": int(bad_item.sum()),
                "unknown_users": int((bad_user & ~bad_item).sum()),
                "unknown_parents": int((bad_parent & ~bad_user & ~bad_item).sum()),
                "kept_new_users": int(pc.count_distinct(new_users).as_py()),
            },
        )

    def apply_text(self, train: Dataset, text: pa.Table, ctx: Context) -> FilterResult:
        """Generated text must describe a catalog item or an accepted user."""
        entity = text.column("entity")
        is_item = np.asarray(pc.equal(entity, "item").to_numpy(zero_copy_only=False), dtype=bool)
        is_user = np.asarray(pc.equal(entity, "user").to_numpy(zero_copy_only=False), dtype=bool)
        ids = text.column("id")
        unknown_item, untrained_item = self._bad_items(train, ids)
        bad_user = self._undeclared(ids, train.user_index.lookup(ids) >= 0)
        which = np.select(
            [is_item & unknown_item, is_item & untrained_item, is_user], [0, 1, 2], default=3
        )
        drop = (is_item & (unknown_item | untrained_item)) | (is_user & bad_user)
        drop |= ~(is_item | is_user)
        return split_rows(
            text, drop, [UNKNOWN_ITEM, UNTRAINED_ITEM, UNKNOWN_USER, UNKNOWN_ENTITY], which
        )

    def _bad_items(self, train: Dataset, items: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """(not in the catalog, in it but without real training rows when items=trained)."""
        codes = train.item_index.lookup(items)
        unknown = codes < 0
        if self.options.items == "catalog":
            return unknown, np.zeros(len(codes), dtype=bool)
        trained = train.real().item_popularity() > 0
        return unknown, ~unknown & ~trained[np.maximum(codes, 0)]

    def _undeclared(self, users: pa.ChunkedArray, real: np.ndarray) -> np.ndarray:
        """Ids that are not real users and lack the declared-synthetic prefix."""
        prefix = self.options.new_user_prefix
        if not prefix:
            return np.zeros(len(real), dtype=bool)
        declared = np.asarray(
            pc.starts_with(users, prefix).to_numpy(zero_copy_only=False), dtype=bool
        )
        return ~real & ~declared
