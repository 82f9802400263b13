"""The hooks a recaug plugin can implement.

Each registration hook receives a ``register`` callback; a plugin calls it once per class it
provides. Keeping the hooks this small means a plugin module costs almost nothing to import,
so heavy libraries (torch, transformers) are imported only when a component actually runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("recaug")
hookimpl = pluggy.HookimplMarker("recaug")

Register = Callable[[type[Any]], None]


@hookspec
def register_sources(register: Register) -> None:
    """Register DataSource subclasses: ``register(MySource)`` for each one."""


@hookspec
def register_strategies(register: Register) -> None:
    """Register Strategy subclasses (augmentation strategies)."""


@hookspec
def register_filters(register: Register) -> None:
    """Register QualityFilter subclasses."""


@hookspec
def register_backends(register: Register) -> None:
    """Register Recommender subclasses (recommender backends used by ``recaug evaluate``)."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``recaug`` command line."""
