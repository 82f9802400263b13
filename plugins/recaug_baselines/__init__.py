"""Bundled sanity baseline: the `pop` backend ranks items by training popularity."""

from recaug_core import hookimpl


@hookimpl
def register_backends(register):
    from recaug_baselines.pop import PopularityBackend

    register(PopularityBackend)
