"""From a data reference on the command line to a cleaned Dataset."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core.api import DataSource
from recaug_core.clean import CleanOptions, clean
from recaug_core.data import Dataset
from recaug_core.errors import DataError, RecaugError, shown
from recaug_core.registry import announce, call_plugin, get_registry, plugin_failure
from recaug_core.runtime import activity
from recaug_core.schema import REAL, STANDARD_COLUMNS
from recaug_core.settings import DataSpec


@dataclass
class LoadedData:
    dataset: Dataset
    info: dict[str, Any] = field(default_factory=dict)


def pick_source(ref: str, name: str | None = None) -> type[DataSource]:
    """The source named ``name``, or the one that recognises ``ref``."""
    registry = get_registry()
    if name is not None:
        cls = registry.get("sources", name)
        assert issubclass(cls, DataSource)
        return cls
    found: list[tuple[type[DataSource], str]] = []  # (source, its plugin)
    for reg in registry.components("sources").values():
        source = reg.cls
        if issubclass(source, DataSource) and _can_load(source, ref):
            found.append((source, reg.plugin))
    candidates = [source for source, _ in found]
    if not candidates:
        if not ref.startswith("hf:") and not Path(ref).exists():
            raise RecaugError(
                f"{ref}: no such file or folder (and not a built-in source such as demo)"
            )
        known = ", ".join(sorted(registry.components("sources")))
        raise RecaugError(
            f"{ref}: no data source recognises this file or folder; "
            f"pass --source NAME (known sources: {known})"
        )
    best = max(c.priority for c in candidates)
    top = [c for c in candidates if c.priority == best]
    if len(top) > 1:
        names = ", ".join(sorted(c.name for c in top))
        raise RecaugError(
            f"{ref}: several data sources can read this ({names}); pass --source NAME"
        )
    plugin = next(p for source, p in found if source is top[0])
    builtin = [source.name for source, p in found if registry.is_bundled(p)]
    if builtin and not registry.is_bundled(plugin):
        # a plugin's source outranks the one recaug would use: allowed, never silent
        announce(
            f"{ref} is read by source '{top[0].name}' of plugin '{plugin}', "
            f"not by the built-in source '{builtin[0]}' (pass --source to choose)"
        )
    return top[0]


def _can_load(cls: type[DataSource], ref: str) -> bool:
    try:
        return bool(cls.can_load(ref))
    except Exception:  # a source's guess must never break another's
        return False


def load_data(
    ref: str = "demo",
    *,
    source: str | None = None,
    source_options: Mapping[str, Any] | None = None,
    clean_options: CleanOptions | None = None,
) -> LoadedData:
    """Load ``ref`` with the right source, then clean it (duplicates, ratings, k-core)."""
    started = time.perf_counter()
    cls = pick_source(ref, source)
    reader = cls(source_options)
    with activity(f"reading {ref}{_size(ref)} with source '{cls.name}'"):
        dataset = call_plugin(reader, "load", lambda: reader.load(ref))
    if not isinstance(dataset, Dataset):
        raise plugin_failure(reader, "load", f"returned {type(dataset).__name__}, not a Dataset")
    check_provenance(dataset, ref)
    note_unread_times(dataset, ref, cls)
    loaded = time.perf_counter()
    with activity(f"cleaning {len(dataset):,} interactions"):
        dataset, report = clean(dataset, clean_options)
    if len(dataset) == 0:
        raise RecaugError(f"{ref}: no interactions left to work with after loading and cleaning")
    info = {
        "ref": ref,
        "source": cls.name,
        "source_options": reader.options_dict(),
        "clean": (clean_options or CleanOptions()).model_dump(mode="json"),
        "cleaning": report,
        "load_s": round(loaded - started, 4),
        "clean_s": round(time.perf_counter() - loaded, 4),
    }
    return LoadedData(dataset, info)


def _size(ref: str) -> str:
    """`` (2.9 GB)`` for a file, or nothing."""
    try:
        size = float(Path(ref).stat().st_size) if Path(ref).is_file() else None
    except (OSError, ValueError):
        size = None
    if size is None:
        return ""
    if size < 1000:
        return f" ({size:,.0f} bytes)"
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f" ({size:.1f} {unit})"


TIME_WORDS = {"time", "timestamp", "date", "datetime", "when", "ts", "day", "created", "updated"}


def note_unread_times(dataset: Dataset, ref: str, source: type[DataSource]) -> None:
    """Data without times whose extra columns look like times (by name, or text that reads
    as ISO dates) is announced: silently, temporal splits would be unavailable and nobody
    would know why."""
    table = dataset.interactions
    if table.column("timestamp").null_count < table.num_rows:
        return
    extra = [c for c in table.column_names if c not in STANDARD_COLUMNS]
    looks = [c for c in extra if _time_like(c, table.column(c))]
    if not looks:
        return
    how = ""
    if "timestamp" in source.Options.model_fields:
        how = f"; to use it pass the source option timestamp={looks[0]} (-s timestamp={looks[0]})"
    announce(
        f"{ref}: no time column was recognised, so the data has no times (temporal splits "
        f"need them); column '{looks[0]}' looks like one{how}"
    )


def _time_like(name: str, column: pa.ChunkedArray) -> bool:
    words = set(name.lower().replace("-", "_").replace(" ", "_").split("_"))
    if words & TIME_WORDS:
        return True
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        return True
    if not pa.types.is_string(column.type):
        return False
    sample = column.drop_null().slice(0, 100)
    if len(sample) == 0:
        return False
    try:
        sample.cast(pa.timestamp("s"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def check_provenance(dataset: Dataset, ref: str) -> None:
    """A file's ``origin`` column must be provenance: "real", or the name of the strategy that
    made the row (a file recaug exported). Any other value (a country, a shop) means the column
    is the data's own and would be misread: the error says so."""
    origin = dataset.interactions.column("origin")
    known = pa.array([REAL, *get_registry().components("strategies")], pa.string())
    foreign = pc.invert(pc.is_in(origin, value_set=known))
    if not pc.any(foreign).as_py():
        return
    row = int(np.flatnonzero(np.asarray(foreign.to_numpy(), dtype=bool))[0])
    raise DataError(
        f"{shown(origin[row].as_py())} is not provenance: recaug reads a column named 'origin' "
        "as where each row comes from ('real' or a strategy's name); rename the column",
        file=ref,
        row=row + 1,
        column="origin",
    )


def load(spec: DataSpec) -> LoadedData:
    """``load_data`` for data described by a ``DataSpec`` (an experiment file, the CLI)."""
    return load_data(
        spec.ref, source=spec.source, source_options=spec.options, clean_options=spec.clean
    )
