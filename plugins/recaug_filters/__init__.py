"""Bundled quality filters."""

from recaug_core import hookimpl


@hookimpl
def register_filters(register):  # type: ignore[no-untyped-def]
    from recaug_filters.dedupe import DedupeFilter

    register(DedupeFilter)
