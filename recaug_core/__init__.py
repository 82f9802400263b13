"""recaug core: hook specs, base classes, data layer, splits, pipeline and the augmentation run.

The `recaug` command, experiments, evaluation and reports are an application built on this
core (``recaug_app``); nothing here imports it.

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

# the private module that defines each public name (docs/api.md describes them)
_HOMES = {
    name: module
    for module, names in {
        "api": "DataSource FilterResult GenerationRequest Options QualityFilter Recommender "
        "Strategy SyntheticData Target parse_pairs",
        "arrays": "arrays",
        "data": "Dataset IdIndex empty_interactions synthetic_table text_table",
        "errors": "DataError OptionsError RecaugError shown",
        "files": "special_file_kind write_atomic write_json",
        "merge": "MergePolicy TrainingPhase pair_weights training_phases",
        "metrics": "gini nearest_jaccard",
        "ranking": "RankingTask ranking_means",
        "registry": "component_class create",
        "runtime": "Context derived_seed seed_everything stable_hash torch_generator",
        "schema": "GENERATED_MARK INTERACTION_SCHEMA REAL normalize_entity_table "
        "normalize_interactions",
        "split": "Split SplitSpec split_dataset",
        "targets": "tail_items target_users",
    }.items()
    for name in names.split()
}

__all__ = ["__version__", "hookimpl"]
__all__ += ["DataSource", "FilterResult", "GenerationRequest", "Options", "QualityFilter"]
__all__ += ["Recommender", "Strategy", "SyntheticData", "Target", "arrays", "parse_pairs"]
__all__ += ["Dataset", "IdIndex", "empty_interactions", "synthetic_table", "text_table"]
__all__ += ["DataError", "OptionsError", "RecaugError", "write_atomic", "write_json"]
__all__ += ["RankingTask", "component_class", "gini", "nearest_jaccard", "ranking_means"]
__all__ += ["Context", "create", "derived_seed", "seed_everything", "stable_hash"]
__all__ += ["GENERATED_MARK", "INTERACTION_SCHEMA", "REAL", "torch_generator"]
__all__ += ["Split", "SplitSpec", "normalize_entity_table", "normalize_interactions"]
__all__ += ["shown", "special_file_kind", "split_dataset", "tail_items", "target_users"]
__all__ += ["MergePolicy", "TrainingPhase", "pair_weights", "training_phases"]

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
    from recaug_core.errors import DataError, OptionsError, RecaugError, shown
    from recaug_core.files import special_file_kind, write_atomic, write_json
    from recaug_core.merge import MergePolicy, TrainingPhase, pair_weights, training_phases
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
