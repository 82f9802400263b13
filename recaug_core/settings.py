"""What decides an augmentation, declared once.

``AugmentSettings`` are the choices a user makes for one augmentation: the flags of
``recaug augment`` and the keys of an experiment's ``[[arms]]`` are its fields. To add an
augment option, add a field here; the experiment file accepts it at once, the run folder's
fingerprint and manifest record it, and ``recaug augment`` needs only its click option (whose
value it passes on by the field's name). The augmentation itself (``augmentation.py``) reads
it from the settings.

``AugmentPlan`` is everything that decides an augmentation's output: data, split, seed and the
(resolved) settings. Its JSON is the fingerprint in ``manifest.json``: ``--resume`` and a
re-run experiment continue a folder only when it is equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recaug_core.api import GenerationRequest, QualityFilter, Strategy, Target, parse_spec
from recaug_core.clean import CleanOptions
from recaug_core.errors import RecaugError
from recaug_core.files import place_write_dirs
from recaug_core.split import SplitSpec

DEFAULT_FILTER = "dedupe"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SettingsError(RecaugError):
    """A setting that does not validate. ``key`` names it inside the settings (``options``,
    ``filters[1].options``) for callers that report where it was written."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class FilterSpec(Strict):
    """A filter and its options; written ``NAME[:key=value,...]`` on the command line."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_spec(cls, data: Any) -> Any:
        if isinstance(data, str):
            try:
                name, options = parse_spec(data)
            except ValueError as exc:
                raise ValueError(f"{exc} (got {data!r})") from None
            return {"name": name, "options": options}
        return data


class AugmentSettings(Strict):
    strategy: str = Field(description="augmentation strategy (see `recaug list strategies`)")
    options: dict[str, Any] = Field(default_factory=dict, description="strategy options")
    filters: list[FilterSpec] = Field(
        default_factory=list, description="quality filters, applied in this order"
    )
    dedupe: bool = Field(default=True, description="run the `dedupe` filter first")
    budget: int | None = Field(default=None, ge=0, description="at most this many rows")
    target: Target = Field(default="sparse", description="whom to augment")

    def resolved(self) -> AugmentSettings:
        """These settings as they run: every option validated (defaults filled in) and
        ``dedupe`` placed first when asked for. SettingsError naming the bad key otherwise."""
        from recaug_core.registry import get_registry

        registry = get_registry()
        options = _validated("strategies", self.strategy, self.options, "strategy", "options")
        filters = [
            FilterSpec(
                name=f.name,
                options=_validated(
                    "filters", f.name, f.options, f"filters[{i}]", f"filters[{i}].options"
                ),
            )
            for i, f in enumerate(self.filters)
        ]
        wanted = self.dedupe and DEFAULT_FILTER not in [f.name for f in filters]
        if wanted and DEFAULT_FILTER in registry.components("filters"):
            filters.insert(0, FilterSpec(name=DEFAULT_FILTER))
        return self.model_copy(update={"options": options, "filters": filters})

    def request(self) -> GenerationRequest:
        return GenerationRequest(budget=self.budget, target=self.target)

    def build(self, inside: Path | None = None) -> tuple[Strategy, list[QualityFilter]]:
        """The strategy and filters of resolved settings; with ``inside``, every ``*_dir``
        option is placed in that folder (an experiment writes only inside --out)."""
        from recaug_core.registry import create

        def options(given: dict[str, Any]) -> dict[str, Any]:
            return given if inside is None else place_write_dirs(given, inside)

        strategy = create("strategies", self.strategy, options(self.options))
        return strategy, [create("filters", f.name, options(f.options)) for f in self.filters]

    def components(self) -> list[tuple[str, str]]:
        """(kind, name) of the strategy and every filter."""
        return [("strategies", self.strategy), *(("filters", f.name) for f in self.filters)]


def _validated(
    kind: str, name: str, options: dict[str, Any], name_key: str, options_key: str
) -> dict[str, Any]:
    from recaug_core.registry import get_registry

    try:
        cls = get_registry().get(kind, name)
    except RecaugError as exc:
        raise SettingsError(str(exc), name_key) from None
    try:
        return dict(cls(options).options_dict())  # built: some components check in __init__
    except RecaugError as exc:
        raise SettingsError(str(exc), options_key) from None


class DataSpec(Strict):
    ref: str = Field(
        default="demo",
        description="`demo`, `hf:NAME`, or a file/folder path (relative: to the experiment file)",
    )
    source: str | None = Field(default=None, description="data source name (default: detect)")
    options: dict[str, Any] = Field(default_factory=dict, description="data source options")
    clean: CleanOptions = Field(default_factory=CleanOptions)


class AugmentPlan(Strict):
    """Data, split, seed and resolved settings: the fingerprint of an augmentation."""

    data: DataSpec
    split: SplitSpec
    seed: int
    augment: AugmentSettings
