"""recaug-example-plugin: the `age-appropriate` filter and the `cooccurrence` strategy.

recaug imports this module through the `recaug` entry point; the component classes are
imported inside the hooks so that loading the plugin costs nothing until they are used.
"""

from collections.abc import Callable

from recaug_core import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_filters(register: Callable[[type], None]) -> None:
    from recaug_example.age_filter import AgeAppropriateFilter

    register(AgeAppropriateFilter)


@hookimpl
def register_strategies(register: Callable[[type], None]) -> None:
    from recaug_example.cooccurrence import CooccurrenceStrategy

    register(CooccurrenceStrategy)
