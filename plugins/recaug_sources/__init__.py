"""Bundled data sources: delimited/Parquet/JSONL tables and the `demo` world."""

from recaug_core import hookimpl


@hookimpl
def register_sources(register):  # type: ignore[no-untyped-def]
    from recaug_sources.demo import DemoSource
    from recaug_sources.tables import TableSource

    register(DemoSource)
    register(TableSource)
