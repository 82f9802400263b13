"""recaug core: hook specs, base classes, data layer, splits, pipeline, evaluation and CLI.

The names in ``__all__`` are recaug's plugin API (docs/api.md), covered by semantic versioning:
a plugin imports them from here (``from recaug_core import Strategy, Dataset, Context``), and
its tests may use the contract tests of ``recaug_core.testing``. Every other module is private
and may change in any release.

Importing this package stays cheap (no pyarrow, pydantic or torch): ``recaug --help`` loads
every plugin module, and plugin modules import ``hookimpl`` from here. Every other name is
imported from its module on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from recaug_core.hookspecs import hookimpl

__version__ = "0.1.0"

# public name -> the private module that defines it
_HOMES = {
    "DataSource": "api",
    "FilterResult": "api",
    "GenerationRequest": "api",
    "Options": "api",
    "QualityFilter": "api",
    "Recommender": "api",
    "Strategy": "api",
    "SyntheticData": "api",
    "Target": "api",
    "parse_pairs": "api",
    "arrays": "arrays",
    "Dataset": "data",
    "IdIndex": "data",
    "empty_interactions": "data",
    "synthetic_table": "data",
    "text_table": "data",
    "demo_world": "demo",
    "DataError": "errors",
    "OptionsError": "errors",
    "RecaugError": "errors",
    "shown": "errors",
    "special_file_kind": "files",
    "write_atomic": "files",
    "write_json": "files",
    "gini": "metrics",
    "nearest_jaccard": "metrics",
    "RankingTask": "ranking",
    "ranking_means": "ranking",
    "component_class": "registry",
    "create": "registry",
    "Context": "runtime",
    "derived_seed": "runtime",
    "seed_everything": "runtime",
    "stable_hash": "runtime",
    "torch_generator": "runtime",
    "GENERATED_MARK": "schema",
    "INTERACTION_SCHEMA": "schema",
    "REAL": "schema",
    "normalize_entity_table": "schema",
    "normalize_interactions": "schema",
    "Split": "split",
    "SplitSpec": "split",
    "split_dataset": "split",
    "tail_items": "targets",
    "target_users": "targets",
}

__all__ = [
    "GENERATED_MARK",
    "INTERACTION_SCHEMA",
    "REAL",
    "Context",
    "DataError",
    "DataSource",
    "Dataset",
    "FilterResult",
    "GenerationRequest",
    "IdIndex",
    "Options",
    "OptionsError",
    "QualityFilter",
    "RankingTask",
    "RecaugError",
    "Recommender",
    "Split",
    "SplitSpec",
    "Strategy",
    "SyntheticData",
    "Target",
    "__version__",
    "arrays",
    "component_class",
    "create",
    "demo_world",
    "derived_seed",
    "empty_interactions",
    "gini",
    "hookimpl",
    "nearest_jaccard",
    "normalize_entity_table",
    "normalize_interactions",
    "parse_pairs",
    "ranking_means",
    "seed_everything",
    "shown",
    "special_file_kind",
    "split_dataset",
    "stable_hash",
    "synthetic_table",
    "tail_items",
    "target_users",
    "text_table",
    "torch_generator",
    "write_atomic",
    "write_json",
]

if TYPE_CHECKING:
    from recaug_core import arrays
    from recaug_core.api import (
        DataSource,
        FilterResult,
        GenerationRequest,
        Options,
        QualityFilter,
        Recommender,
        Strategy,
        SyntheticData,
        Target,
        parse_pairs,
    )
    from recaug_core.data import Dataset, IdIndex, empty_interactions, synthetic_table, text_table
    from recaug_core.demo import demo_world
    from recaug_core.errors import DataError, OptionsError, RecaugError, shown
    from recaug_core.files import special_file_kind, write_atomic, write_json
    from recaug_core.metrics import gini, nearest_jaccard
    from recaug_core.ranking import RankingTask, ranking_means
    from recaug_core.registry import component_class, create
    from recaug_core.runtime import (
        Context,
        derived_seed,
        seed_everything,
        stable_hash,
        torch_generator,
    )
    from recaug_core.schema import (
        GENERATED_MARK,
        INTERACTION_SCHEMA,
        REAL,
        normalize_entity_table,
        normalize_interactions,
    )
    from recaug_core.split import Split, SplitSpec, split_dataset
    from recaug_core.targets import tail_items, target_users


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'recaug_core' has no attribute {name!r}")
    module = importlib.import_module(f"recaug_core.{home}")
    value = module if home == name else getattr(module, name)
    globals()[name] = value  # found once, then an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
