"""Experiment files: TOML describing data, split, seeds, backends and the arms to compare.

Loading validates everything a run will need before any data is read: unknown keys, types,
and every strategy, filter, backend and source name and option against the plugin registry
(third-party plugins included). Every error is one sentence naming the file and the key path,
e.g. ``demo.toml: arms[2].budget: Input should be greater than or equal to 0 (got -5)``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePath
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from recaug_app.results import BASELINE
from recaug_app.selection import DEFAULT_GRID, Candidate, Grid, Select, candidates
from recaug_core.errors import RecaugError
from recaug_core.files import is_write_dir_option, refuse_special_file, safe_name
from recaug_core.manifest import ExperimentFingerprint
from recaug_core.merge import CONCAT, MergePolicy
from recaug_core.settings import AugmentSettings, DataSpec, SettingsError, Strict
from recaug_core.split import SplitSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
Cutoff = Annotated[int, Field(ge=1, le=10_000)]


class BackendConfig(Strict):
    name: str
    label: str | None = Field(default=None, description="name in results (default: name)")
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        return None if value is None else safe_name(value)


class ArmConfig(AugmentSettings):
    """An ``[[arms]]`` table: a name, the augment settings (``recaug_core.settings``), how
    the synthetic rows enter training (``merge``), whether validation chooses the settings
    (``select``, ``grid``), and options that change a backend for this arm only
    (``backend_options``, keyed by backend label). An arm without a strategy trains on the
    real training rows, as the baseline does, with its backend options: a contrastive view is
    then an arm like any strategy."""

    name: str
    strategy: str | None = Field(  # type: ignore[assignment]
        default=None,
        description="augmentation strategy (see `recaug list strategies`); none: no rows added",
    )
    backend_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="options for this arm only, keyed by backend label, over the backend's own",
    )
    merge: str = Field(
        default="concat",
        description="merge policy: concat, pretrain, view or weighted:weight=W[,by=score]",
    )
    select: Select | None = Field(
        default=None,
        description='"validation": try the grid and no augmentation, keep the best on validation',
    )
    grid: Grid | None = Field(default=None, description="what `select` tries (default grid)")

    @field_validator("merge")
    @classmethod
    def _merge(cls, value: str) -> str:
        MergePolicy.from_spec(value)
        return value

    @model_validator(mode="after")
    def _grid_needs_select(self) -> ArmConfig:
        if self.grid is not None and self.select is None:
            raise ValueError('grid: a grid is tried only with select = "validation"')
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        safe_name(value)
        if value == BASELINE:
            raise ValueError("'baseline' is reserved: the baseline arm is always run")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> ArmConfig:
        if self.strategy is None:
            given = self.model_fields_set & {
                "options",
                "filters",
                "budget",
                "target",
                "merge",
                "select",
                "grid",
            }
            if given:
                raise ValueError(f"{sorted(given)[0]} needs a strategy")
            if not self.backend_options:
                raise ValueError("an arm needs a strategy or backend_options")
        return self

    def settings(self) -> AugmentSettings | None:
        """The arm's augment settings; None for an arm that adds no rows."""
        if self.strategy is None:
            return None
        own = {"name", "backend_options", "merge", "select", "grid"}
        return AugmentSettings.model_validate(self.model_dump(exclude=own))


class ExperimentConfig(Strict):
    description: str = ""
    seeds: list[Seed] = Field(default=[0, 1, 2], min_length=1, max_length=100)
    ks: list[Cutoff] = Field(default=[10, 20], min_length=1, max_length=10)
    dataset: DataSpec = Field(default_factory=DataSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    backends: list[BackendConfig] = Field(min_length=1)
    arms: list[ArmConfig] = Field(default_factory=list)

    @field_validator("seeds", "ks")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("values must be distinct")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ExperimentConfig:
        for what, names in (
            ("arms", [arm.name for arm in self.arms]),
            ("backends", [b.key for b in self.backends]),
        ):
            seen: set[str] = set()
            for position, name in enumerate(names):
                # case-blind: on macOS and Windows 'A' and 'a' would share one folder
                if name.lower() in seen:
                    where = "name" if what == "arms" else "label"
                    raise ValueError(f"{what}[{position}].{where}: '{name}' is used twice")
                seen.add(name.lower())
        return self


@dataclass(frozen=True)
class Arm:
    name: str
    settings: AugmentSettings | None  # resolved (options validated, dedupe placed); None: no rows
    backend_options: dict[str, dict[str, Any]]  # per backend label, the arm's own (validated)
    merge: MergePolicy = CONCAT
    candidates: tuple[Candidate, ...] | None = None  # a validation-selected arm's grid


@dataclass(frozen=True)
class Backend:
    key: str  # its label in results and folders
    name: str
    options: dict[str, Any]  # validated

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.options}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file, with the data reference resolved."""

    path: Path
    text: str
    config: ExperimentConfig
    data: DataSpec  # the reference resolved, the source options validated
    arms: tuple[Arm, ...]
    backends: tuple[Backend, ...]

    def backend_for(self, arm: Arm | None, backend: Backend) -> Backend:
        """``backend`` as ``arm`` trains it (None: the baseline)."""
        if arm is None or backend.key not in arm.backend_options:
            return backend
        return Backend(backend.key, backend.name, arm.backend_options[backend.key])

    def fingerprint(self) -> ExperimentFingerprint:
        """What every arm and seed shares: changing it makes earlier results incomparable."""
        return ExperimentFingerprint(data=self.data, split=self.config.split)


def load_experiment(path: str | Path, data_ref: str | None = None) -> Experiment:
    """Read and validate an experiment file; RecaugError naming the file and key otherwise.
    ``data_ref`` replaces the file's ``[dataset]`` ref, source and options (a path relative
    to the current folder, as typed on the command line); its cleaning stays."""
    path = Path(path)
    label = path.name or str(path)
    refuse_special_file(path)  # a FIFO would block the read for ever, /dev/zero never ends
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecaugError(f"{path}: experiment file not found") from None
    except OSError as exc:
        raise RecaugError(f"{path}: cannot read the experiment file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RecaugError(f"{label}: line {line}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecaugError(f"{label}: {_toml_error(str(exc), text)}") from None
    except RecursionError:
        raise RecaugError(f"{label}: invalid TOML: arrays or tables nested too deeply") from None
    try:
        # Strictly typed, as the file's author wrote the values: "1" is not a seed. (JSON
        # mode, because there an array may fill a tuple; TOML dates become text and fail.)
        ExperimentConfig.model_validate_json(json.dumps(data, default=str), strict=True)
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise RecaugError(f"{label}: {_describe(exc)}") from None
    if data_ref is not None:
        given = Path(data_ref)
        ref = str(given.resolve()) if given.exists() else data_ref
        # the file's source and its options were meant for the file's own data
        dataset = config.dataset.model_copy(update={"ref": ref, "source": None, "options": {}})
        config = config.model_copy(update={"dataset": dataset})
    return _resolve(path, label, text, config)


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _toml_error(message: str, text: str) -> str:
    """tomllib's "Msg (at line 3, column 5)" as "line 3, column 5: invalid TOML: Msg"."""
    found = _TOML_AT.search(message)
    if found:
        where = f"line {found.group(1)}, column {found.group(2)}"
        message = message[: found.start()]
    else:
        where = f"line {text.count(chr(10)) + 1} (end of file)"
        message = message.replace(" (at end of document)", "")
    return f"{where}: invalid TOML: {_one_line(message)}"


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = _key_path(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if first["type"] == "missing":
        return f"{key}: required key missing"
    if not key:  # a check over the whole file names its own key
        return _one_line(message)
    shown = first.get("input")
    got = "" if isinstance(shown, (dict, list)) else f" (got {_short(shown)})"
    return f"{key}: {_one_line(message)}{got}"


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _resolve(path: Path, label: str, text: str, config: ExperimentConfig) -> Experiment:
    from recaug_core.loading import pick_source
    from recaug_core.registry import get_registry

    registry = get_registry()

    def checked(key: str, build: Callable[[], Any]) -> Any:
        try:
            return build()
        except SettingsError:
            raise
        except RecaugError as exc:
            raise RecaugError(f"{label}: {key}: {_one_line(str(exc))}") from None
        except (OSError, ValueError) as exc:  # a path the system cannot even look at
            raise RecaugError(f"{label}: {key}: unusable value ({_one_line(str(exc))})") from None

    dataset = config.dataset
    ref = checked("dataset.ref", lambda: resolve_data_ref(dataset.ref, path.parent))
    if config.split.file is not None:
        split_file = checked("split.file", partial(resolve_file, config.split.file, path.parent))
        split = config.split.model_copy(update={"file": split_file})
        config = config.model_copy(update={"split": split})
    source_cls = checked("dataset.ref", lambda: pick_source(ref, dataset.source))
    config = _with_option_paths_resolved(config, path.parent, source_cls)
    dataset = config.dataset
    check_write_dirs("dataset.options", dataset.options, label)
    source = checked("dataset.options", lambda: source_cls(dataset.options))
    arms = []
    for i, arm in enumerate(config.arms):
        check_write_dirs(f"arms[{i}].options", arm.options, label)
        for j, f in enumerate(arm.filters):
            check_write_dirs(f"arms[{i}].filters[{j}].options", f.options, label)
        try:
            settings = checked(f"arms[{i}]", partial(_resolved, arm))
            merge = MergePolicy.parse(arm.merge, where="merge")
            tried = None
            if arm.select is not None and settings is not None:
                grid = arm.grid or DEFAULT_GRID
                tried = tuple(
                    Candidate(c.label, c.settings.resolved(), c.merge)
                    for c in checked(f"arms[{i}].grid", partial(candidates, settings, merge, grid))
                )
        except SettingsError as exc:
            raise RecaugError(f"{label}: arms[{i}].{exc.key}: {_one_line(str(exc))}") from None
        arms.append((arm, settings, merge, tried))
    backends = []
    for i, b in enumerate(config.backends):
        cls = checked(f"backends[{i}]", partial(registry.get, "backends", b.name))
        check_write_dirs(f"backends[{i}].options", b.options, label)
        instance = checked(f"backends[{i}].options", partial(cls, b.options))
        backends.append(Backend(b.key, b.name, instance.options_dict()))
    by_label = {b.key: (b, config.backends[i]) for i, b in enumerate(backends)}
    resolved_arms = []
    for i, (arm, settings, merge, tried) in enumerate(arms):
        own: dict[str, dict[str, Any]] = {}
        for key, options in arm.backend_options.items():
            where = f"arms[{i}].backend_options.{key}"
            if key not in by_label:
                known = ", ".join(sorted(by_label))
                raise RecaugError(f"{label}: {where}: no backend has this label (they are {known})")
            check_write_dirs(where, options, label)
            backend, written = by_label[key]
            cls = registry.get("backends", backend.name)
            merged = {**written.options, **options}
            own[key] = checked(where, partial(cls, merged)).options_dict()
        resolved_arms.append(Arm(arm.name, settings, own, merge, tried))
    data = dataset.model_copy(update={"ref": ref, "options": source.options_dict()})
    return Experiment(path, text, config, data, tuple(resolved_arms), tuple(backends))


def _resolved(arm: ArmConfig) -> AugmentSettings | None:
    settings = arm.settings()
    return None if settings is None else settings.resolved()


def resolve_data_ref(ref: str, base: Path) -> str:
    """A relative path is relative to the experiment file; `demo`, `hf:...` stay as they are."""
    if ref == "demo" or ref.startswith("hf:") or Path(ref).is_absolute():
        return ref
    candidate = base / ref
    if candidate.exists():
        return str(candidate.resolve())
    if ":" not in ref:  # not a path, nor a reference such as `hf:NAME` that a source reads
        raise RecaugError(f"no such file or folder: {candidate} (relative to the experiment file)")
    return ref


PATH_FORMATS = {"path", "file-path", "directory-path"}  # pydantic's schema of Path types


def _with_option_paths_resolved(
    config: ExperimentConfig, base: Path, source: Any
) -> ExperimentConfig:
    """Every component's options with relative paths made relative to the experiment file
    (``resolve_option_paths``), as ``dataset.ref`` is."""
    from recaug_core.registry import get_registry

    registry = get_registry()

    def component(kind: str, name: str | None) -> Any:
        try:
            return None if name is None else registry.get(kind, name)
        except RecaugError:
            return None  # an unknown name is reported where it is checked

    def resolved(cls: Any, options: dict[str, Any]) -> dict[str, Any]:
        return resolve_option_paths(cls, options, base)

    dataset = config.dataset
    arms = []
    for arm in config.arms:
        filters = [
            f.model_copy(update={"options": resolved(component("filters", f.name), f.options)})
            for f in arm.filters
        ]
        own = {
            label: resolved(component("backends", _backend_name(config, label)), options)
            for label, options in arm.backend_options.items()
        }
        update = {
            "options": resolved(component("strategies", arm.strategy), arm.options),
            "filters": filters,
            "backend_options": own,
        }
        arms.append(arm.model_copy(update=update))
    backends = [
        b.model_copy(update={"options": resolved(component("backends", b.name), b.options)})
        for b in config.backends
    ]
    data = dataset.model_copy(update={"options": resolved(source, dataset.options)})
    return config.model_copy(update={"dataset": data, "arms": arms, "backends": backends})


def _backend_name(config: ExperimentConfig, label: str) -> str | None:
    return next((b.name for b in config.backends if b.key == label), None)


def resolve_option_paths(cls: Any, options: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``options`` with each relative path made relative to ``base`` (the experiment file's
    folder): a value of an option declared as a path (``pathlib.Path``, ``FilePath``,
    ``DirectoryPath``), or a value written as a path (with a ``/`` or a file extension) that
    names an existing file or folder under ``base``. Folders a component writes into
    (``*_dir``) are placed inside --out instead (``check_write_dirs``)."""
    if cls is None:
        return dict(options)
    try:
        properties = cls.Options.model_json_schema().get("properties", {})
    except Exception:  # a schema pydantic cannot write: no declared paths then
        properties = {}
    out = dict(options)
    for key, value in options.items():
        if not isinstance(value, str) or not value.strip() or is_write_dir_option(str(key)):
            continue
        given = Path(value)
        if given.is_absolute() or value.startswith("~"):
            continue
        candidate = base / given
        declared = _declares_path(properties.get(key, {}))
        written = "/" in value or "\\" in value or given.suffix != ""
        if declared or (written and candidate.exists()):
            out[key] = str(candidate.resolve())
    return out


def _declares_path(schema: Mapping[str, Any]) -> bool:
    if schema.get("format") in PATH_FORMATS:
        return True
    return any(_declares_path(member) for member in schema.get("anyOf", []))


def resolve_file(name: str, base: Path) -> str:
    """A file named in the experiment file: relative to that file, and existing."""
    candidate = base / name
    if not candidate.is_file():
        raise RecaugError(f"no such file: {candidate} (relative to the experiment file)")
    return str(candidate.resolve())


def check_write_dirs(key: str, options: Mapping[str, Any], label: str) -> None:
    """A folder an experiment writes into must stay inside the run's output folder."""
    for name, value in options.items():
        if not is_write_dir_option(str(name)) or value is None:
            continue
        if not isinstance(value, str) or not confined_relative(value):
            raise RecaugError(
                f"{label}: {key}.{name}: {value!r} must be a relative folder without '..' "
                "(an experiment writes only inside --out)"
            )


def confined_relative(value: str) -> bool:
    pure = PurePath(value)
    return bool(value.strip()) and not pure.is_absolute() and ".." not in pure.parts
