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
from pathlib import Path, PurePath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recaug_core.api import Target, parse_spec
from recaug_core.clean import CleanOptions
from recaug_core.errors import RecaugError
from recaug_core.files import refuse_special_file
from recaug_core.split import SplitSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BASELINE = "baseline"
DEFAULT_FILTER = "dedupe"
# Arm and backend labels become folder names: letters, digits, '.', '_' and '-', starting
# with a letter or digit, so that no label can be '..', absolute, or hold a separator.
SAFE_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
Cutoff = Annotated[int, Field(ge=1, le=10_000)]


def _safe_label(value: str) -> str:
    if not SAFE_LABEL.fullmatch(value):
        raise ValueError(
            "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(it names a folder inside --out)"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatasetConfig(_Strict):
    ref: str = Field(
        default="demo",
        description="`demo`, `hf:NAME`, or a file/folder path (relative: to the experiment file)",
    )
    source: str | None = Field(default=None, description="data source name (default: detect)")
    options: dict[str, Any] = Field(default_factory=dict, description="data source options")
    clean: CleanOptions = Field(default_factory=CleanOptions)


class BackendConfig(_Strict):
    name: str
    label: str | None = Field(default=None, description="name in results (default: name)")
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        return None if value is None else _safe_label(value)


class FilterConfig(_Strict):
    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_spec(cls, data: Any) -> Any:
        # "popularity:max_share=0.1" as in `recaug augment --filter`
        if isinstance(data, str):
            try:
                name, options = parse_spec(data)
            except ValueError as exc:
                raise ValueError(f"{exc} (got {data!r})") from None
            return {"name": name, "options": options}
        return data


class ArmConfig(_Strict):
    name: str
    strategy: str
    options: dict[str, Any] = Field(default_factory=dict)
    filters: list[FilterConfig] = Field(default_factory=list)
    dedupe: bool = Field(default=True, description="run the `dedupe` filter first")
    budget: int | None = Field(default=None, ge=0)
    target: Target = "sparse"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _safe_label(value)
        if value == BASELINE:
            raise ValueError("'baseline' is reserved: the baseline arm is always run")
        return value


class ExperimentConfig(_Strict):
    description: str = ""
    seeds: list[Seed] = Field(default=[0, 1, 2], min_length=1, max_length=100)
    ks: list[Cutoff] = Field(default=[10, 20], min_length=1, max_length=10)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
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
class Component:
    """A strategy, filter or backend as the run will build it (options validated)."""

    name: str
    options: dict[str, Any]
    plugin: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.options}


@dataclass(frozen=True)
class Arm:
    name: str
    strategy: Component
    filters: tuple[Component, ...]
    budget: int | None
    target: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "strategy": self.strategy.as_dict(),
            "filters": [f.as_dict() for f in self.filters],
            "budget": self.budget,
            "target": self.target,
        }


@dataclass(frozen=True)
class Backend:
    key: str
    component: Component


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file, with the data reference resolved."""

    path: Path
    text: str
    config: ExperimentConfig
    data_ref: str
    source_options: dict[str, Any]
    arms: tuple[Arm, ...]
    backends: tuple[Backend, ...]

    def data_fingerprint(self) -> dict[str, Any]:
        """What every arm and seed shares: changing it makes earlier results incomparable."""
        dataset = self.config.dataset
        return {
            "experiment": 1,
            "data": {
                "ref": self.data_ref,
                "source": dataset.source,
                "options": self.source_options,
                "clean": dataset.clean.model_dump(mode="json"),
            },
            "split": self.config.split.model_dump(mode="json"),
        }


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; RecaugError naming the file and key otherwise."""
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
        except RecaugError as exc:
            raise RecaugError(f"{label}: {key}: {_one_line(str(exc))}") from None
        except (OSError, ValueError) as exc:  # a path the system cannot even look at
            raise RecaugError(f"{label}: {key}: unusable value ({_one_line(str(exc))})") from None

    def component(
        kind: str, key: str, name: str, options: Mapping[str, Any], options_key: str
    ) -> Component:
        cls = checked(key, lambda: registry.get(kind, name))
        check_write_dirs(options_key, options, label)
        instance = checked(options_key, lambda: cls(options))
        plugin = registry.components(kind)[name].plugin
        return Component(name, instance.options_dict(), plugin)

    dataset = config.dataset
    ref = checked("dataset.ref", lambda: resolve_data_ref(dataset.ref, path.parent))
    source_cls = checked("dataset.ref", lambda: pick_source(ref, dataset.source))
    check_write_dirs("dataset.options", dataset.options, label)
    source = checked("dataset.options", lambda: source_cls(dataset.options))
    arms = []
    for i, arm in enumerate(config.arms):
        strategy = component(
            "strategies", f"arms[{i}].strategy", arm.strategy, arm.options, f"arms[{i}].options"
        )
        names = [f.name for f in arm.filters]
        specs = list(arm.filters)
        wanted = arm.dedupe and DEFAULT_FILTER not in names
        if wanted and DEFAULT_FILTER in registry.components("filters"):
            specs.insert(0, FilterConfig(name=DEFAULT_FILTER))
        offset = len(specs) - len(arm.filters)
        filters = tuple(
            component(
                "filters",
                f"arms[{i}].filters[{j - offset}]",
                f.name,
                f.options,
                f"arms[{i}].filters[{j - offset}].options",
            )
            for j, f in enumerate(specs)
        )
        arms.append(Arm(arm.name, strategy, filters, arm.budget, arm.target))
    backends = tuple(
        Backend(
            b.key,
            component("backends", f"backends[{i}]", b.name, b.options, f"backends[{i}].options"),
        )
        for i, b in enumerate(config.backends)
    )
    return Experiment(
        path=path,
        text=text,
        config=config,
        data_ref=ref,
        source_options=source.options_dict(),
        arms=tuple(arms),
        backends=backends,
    )


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


def is_write_dir_option(key: str) -> bool:
    """Options that name a folder a component writes into (by convention: ``*_dir``)."""
    return key.endswith("_dir")


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


def place_write_dirs(options: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Options with every ``*_dir`` folder placed under ``base`` (inside --out)."""
    placed = dict(options)
    for name, value in options.items():
        if is_write_dir_option(name) and isinstance(value, str):
            placed[name] = str(confined(base, value))
    return placed


def confined(root: Path, *parts: str) -> Path:
    """``root / parts`` if it stays inside ``root`` (symlinks resolved), else RecaugError."""
    target = root.joinpath(*parts)
    resolved_root = root.resolve()
    if not target.resolve().is_relative_to(resolved_root):
        raise RecaugError(f"{'/'.join(parts)}: refusing to write outside {root}")
    return target
