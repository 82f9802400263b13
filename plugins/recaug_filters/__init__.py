"""Bundled quality filters: dedupe, catalog, plausibility, popularity, diversity, privacy.

Classes are imported inside the hook so that loading the plugin stays cheap.
"""

from collections.abc import Callable

from recaug_core import hookimpl


@hookimpl
def register_filters(register: Callable[[type], None]) -> None:
    from recaug_filters.catalog import CatalogFilter
    from recaug_filters.dedupe import DedupeFilter
    from recaug_filters.diversity import DiversityFilter
    from recaug_filters.plausibility import PlausibilityFilter
    from recaug_filters.popularity import PopularityFilter
    from recaug_filters.privacy import PrivacyFilter

    for cls in (
        DedupeFilter,
        CatalogFilter,
        PlausibilityFilter,
        PopularityFilter,
        DiversityFilter,
        PrivacyFilter,
    ):
        register(cls)
