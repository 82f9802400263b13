"""Bundled data sources: tables, RecBole atomic files, MovieLens, Amazon reviews, MIND,
Hugging Face datasets and the `demo` world.

Modules are imported when sources are first needed, not when the plugin is found, so that
`recaug --help` stays fast (and `datasets` is imported only when an `hf` dataset is loaded).
"""

from recaug_core import hookimpl


@hookimpl
def register_sources(register):
    from recaug_sources.amazon import AmazonSource
    from recaug_sources.demo import DemoSource
    from recaug_sources.hf import HFSource
    from recaug_sources.mind import MindSource
    from recaug_sources.movielens import MovieLensSource
    from recaug_sources.recbole import RecBoleSource
    from recaug_sources.tables import TableSource

    for source in (
        DemoSource,
        TableSource,
        RecBoleSource,
        MovieLensSource,
        AmazonSource,
        MindSource,
        HFSource,
    ):
        register(source)
