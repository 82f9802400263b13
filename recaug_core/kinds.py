"""The four kinds of component, listed once.

A kind's plural is what ``recaug list`` takes and what the registry files components under;
its singular is what messages call one; its registration hook is ``register_<plural>``; its
base class lives in ``recaug_core.api`` under ``base`` (named, not imported: the registry
loads plugins before anything needs pydantic).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    plural: str
    singular: str
    base: str

    @property
    def hook(self) -> str:
        return f"register_{self.plural}"


KINDS: dict[str, Kind] = {
    kind.plural: kind
    for kind in (
        Kind("sources", "source", "DataSource"),
        Kind("strategies", "strategy", "Strategy"),
        Kind("filters", "filter", "QualityFilter"),
        Kind("backends", "backend", "Recommender"),
    )
}
