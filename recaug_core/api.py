"""The four kinds of component a plugin can provide, and their options.

Every component class has a ``name`` (what users type), a one-line ``description`` and a nested
pydantic ``Options`` model; unknown option keys are rejected with the list of valid ones.
Instances are configured once (``Strategy({"epochs": 3})``) and then run on data.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from recaug_core.errors import OptionsError, shown, unknown_name_message
from recaug_core.kinds import KINDS

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from recaug_core.data import Dataset
    from recaug_core.runtime import Context

Target = Literal["sparse", "all", "new", "long-tail"]


class Options(BaseModel):
    """Base of every component's options: unknown keys are errors, lists accept "a,b,c",
    numbers must be finite (``inf`` and ``nan`` are refused: a temperature of ``inf`` would
    only fail after training), and a ``*_dir`` folder must not be an existing file."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _folder_not_a_file(cls, value: Any, info: ValidationInfo) -> Any:
        # By convention an option named *_dir is a folder the component writes into; a file
        # (or a FIFO, a device) there would fail only after the work is done.
        if info.field_name and info.field_name.endswith("_dir") and isinstance(value, str):
            path = Path(value).expanduser()
            if path.exists() and not path.is_dir():
                raise ValueError(f"{value} exists and is not a folder")
        return value

    @model_validator(mode="before")
    @classmethod
    def _split_comma_lists(cls, data: Any) -> Any:
        # Options arrive as strings from `-o ops=crop,mask`; list-typed fields take them split.
        if not isinstance(data, Mapping):
            return data
        fixed = dict(data)
        for key, value in data.items():
            info = cls.model_fields.get(key)
            if info is not None and isinstance(value, str) and _is_sequence_type(info.annotation):
                fixed[key] = [part.strip() for part in value.split(",") if part.strip()]
        return fixed


def _is_sequence_type(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset, Sequence):
        return True
    if origin is not None:  # Optional[list[str]] and friends
        return any(_is_sequence_type(arg) for arg in typing.get_args(annotation))
    return False


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """The one KEY=VALUE parser: ``["a=1", " b = x "]`` -> ``{"a": "1", "b": "x"}``.

    ``-o``, ``-s``, filter specs and plugins' own option strings all go through it; a pair
    without '=' or without a key raises ValueError (callers name the option in their message).
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``NAME[:key=value,...]`` (a component and its options, on the command line or in an
    experiment file) -> (name, options); ValueError saying what is wrong otherwise.

    A comma separates options, except inside quotes (``file="a,b.csv"``) and before a part
    without ``=``, which continues the value: ``ops=crop,mask`` is one list option, and a path
    such as ``file=a,b.csv`` needs no quotes.
    """
    name, _, rest = spec.partition(":")
    if not name.strip():
        raise ValueError("missing the name before ':'")
    pairs: list[str] = []
    for part in _split_options(rest):
        if "=" in part or not pairs:
            pairs.append(part)
        else:
            pairs[-1] += "," + part
    try:
        options = parse_pairs(p for p in pairs if p.strip())
    except ValueError:
        raise ValueError("expected NAME or NAME:key=value,key=value") from None
    return name.strip(), options


def _split_options(text: str) -> list[str]:
    """``a=1,file="x,y.csv"`` -> ``["a=1", "file=x,y.csv"]``: commas outside quotes split;
    a value that starts with a quote runs to the same quote, which is dropped."""
    parts, current, i = [], "", 0
    while i < len(text):
        char = text[i]
        if char in "\"'" and current.rstrip().endswith("=") and not current.strip().startswith("="):
            end = text.find(char, i + 1)
            if end < 0:
                raise ValueError(f"unclosed {char} in {text!r}")
            current = current.rstrip() + text[i + 1 : end]
            i = end + 1
            continue
        if char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
        i += 1
    parts.append(current)
    return [part for part in parts if part.strip()]


OptionsModel = Options  # the base, named so that Component's `Options` attribute cannot shadow it


class Component:
    """Shared behaviour of sources, strategies, filters and backends."""

    kind: ClassVar[str] = "component"
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options

    def __init__(self, options: Mapping[str, Any] | OptionsModel | None = None) -> None:
        self.options = self.parse_options(options)

    @classmethod
    def parse_options(cls, raw: Mapping[str, Any] | OptionsModel | None) -> Any:
        """Validate ``raw`` into this component's Options, raising OptionsError on bad input."""
        if isinstance(raw, cls.Options):
            return raw
        raw = dict(raw or {})
        try:
            return cls.Options.model_validate(raw)
        except ValidationError as exc:
            raise OptionsError(_describe_validation_error(cls, exc)) from None

    @classmethod
    def options_schema(cls) -> dict[str, Any]:
        return cls.Options.model_json_schema()

    def options_dict(self) -> dict[str, Any]:
        """Options as JSON-ready values (for manifests and round trips)."""
        return self.options.model_dump(mode="json")


def _describe_validation_error(cls: type[Component], exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    key = str(first["loc"][0]) if first["loc"] else "(options)"
    who = f"{cls.kind} '{getattr(cls, 'name', cls.__name__)}'"
    fields = sorted(cls.Options.model_fields)
    if first["type"] == "extra_forbidden":
        return unknown_name_message(f"option {shown(key)} for {who}", key, fields, "valid options")
    # pydantic reports one error per member of a union (``max_head_share.float``, then
    # ``max_head_share.literal['real']``): together they say what the option accepts
    same = [e for e in errors if e["loc"][:1] == first["loc"][:1]]
    item = first["loc"][1] if len(first["loc"]) > 1 and isinstance(first["loc"][1], int) else None
    if item is not None:
        same = [first]
    wanted = _join_alternatives([_expectation(e) for e in same])
    where = f"option '{key}' of {who}" + ("" if item is None else f", value {item + 1},")
    return f"{where} {wanted} (got {typed(first.get('input'))})"


def _expectation(error: Mapping[str, Any]) -> str:
    """What a pydantic error says the value should be, as the end of a sentence."""
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "value_error":  # a validator's own words ("must be between 0 and 1")
        said = str(ctx.get("error", error["msg"])).removeprefix("Value error, ").rstrip(".")
        return said if said.startswith(("must ", "should ", "needs ")) else f"is not valid: {said}"
    words = {
        "float_parsing": "a number",
        "float_type": "a number",
        "int_parsing": "a whole number",
        "int_type": "a whole number",
        "int_from_float": "a whole number",
        "bool_parsing": "true or false",
        "bool_type": "true or false",
        "string_type": "text",
        "literal_error": f"one of {ctx.get('expected')}",
        "enum": f"one of {ctx.get('expected')}",
        "greater_than_equal": f"at least {_bound(ctx.get('ge'))}",
        "greater_than": f"greater than {_bound(ctx.get('gt'))}",
        "less_than_equal": f"at most {_bound(ctx.get('le'))}",
        "less_than": f"less than {_bound(ctx.get('lt'))}",
        "finite_number": "a finite number",
        "list_type": "a list (a,b,c)",
    }
    if kind in words:
        return f"must be {words[kind]}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[0].lower() + message[1:] if message.startswith("Input should") else message


def _bound(value: Any) -> str:
    """A limit as written in the options (``1``, not ``1.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _join_alternatives(parts: list[str]) -> str:
    """``must be a number`` + ``must be one of 'real'`` -> ``must be a number or 'real'``."""
    distinct = list(dict.fromkeys(parts))
    if len(distinct) == 1:
        return distinct[0]
    plain = [p.removeprefix("must be ").removeprefix("one of ") for p in distinct]
    return "must be " + " or ".join(plain)


def typed(value: Any) -> str:
    """A value as the user typed it: ``-1`` (not ``'-1'``) for a number given as text."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return shown(value)
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    return shown(value)


class DataSource(Component):
    """Reads interactions (and item/user tables) from a reference: a path, `demo`, `hf:NAME`."""

    kind = KINDS["sources"].singular
    # When several sources can read a path, the highest priority wins; generic readers use < 0.
    priority: ClassVar[int] = 0

    @classmethod
    def can_load(cls, ref: str) -> bool:
        """Whether this source recognises ``ref`` without being asked for by name."""
        return False

    def load(self, ref: str) -> Dataset:
        raise NotImplementedError


@dataclass(frozen=True)
class GenerationRequest:
    """What the pipeline asks a strategy for.

    ``budget``: the most synthetic rows wanted (None: the strategy's own default amount).
    ``target``: for whom: ``sparse`` users (shortest histories), ``all`` users, ``new``
    synthetic users, or ``long-tail`` items.
    """

    budget: int | None = None
    target: Target = "sparse"


@dataclass
class SyntheticData:
    """What a strategy may return instead of a bare interactions table.

    ``text`` holds generated attribute text in long form, one row per value: ``entity``
    ("item" or "user"), ``id``, ``column`` (the new column's name, e.g. ``gen_description``)
    and ``text``. The pipeline filters it and writes it into ``items.parquet`` /
    ``users.parquet`` as marked columns.
    """

    interactions: pa.Table
    text: pa.Table | None = None


class Strategy(Component):
    """An augmentation strategy: learns from the training split, then writes synthetic rows."""

    kind = KINDS["strategies"].singular

    def fit(self, train: Dataset, ctx: Context) -> None:
        """Learn from the training split. Never given validation or test rows."""

    def generate(
        self, train: Dataset, request: GenerationRequest, ctx: Context
    ) -> pa.Table | SyntheticData:
        """Return synthetic interactions (``recaug_core.data.synthetic_table``)."""
        raise NotImplementedError


@dataclass
class FilterResult:
    """What a filter keeps, what it drops (with a ``reason`` column) and any figures it reports."""

    kept: pa.Table
    rejected: pa.Table
    stats: dict[str, Any] = field(default_factory=dict)


class QualityFilter(Component):
    """Decides which synthetic rows are worth keeping."""

    kind = KINDS["filters"].singular

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        raise NotImplementedError

    def apply_text(self, train: Dataset, text: pa.Table, ctx: Context) -> FilterResult:
        """Filter generated attribute text (see ``SyntheticData.text``); keeps all by default."""
        return FilterResult(kept=text, rejected=text.slice(0, 0))


class Recommender(Component):
    """A recommender backend that evaluation trains and ranks with.

    ``fit`` receives the training Dataset; its ``item_index`` fixes the column order of
    ``score``. ``valid`` (real held-out rows) is for early stopping only. ``merge_policies``
    names the merge policies ``fit`` honours (``recaug_core.merge``: it reads ``ctx.merge``);
    evaluation refuses any other before training.
    """

    kind = KINDS["backends"].singular
    merge_policies: ClassVar[frozenset[str]] = frozenset({"concat"})

    def fit(self, train: Dataset, ctx: Context, valid: Dataset | None = None) -> None:
        raise NotImplementedError

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores ``[len(users), n_items]`` (float32) for user indices of ``train.user_index``."""
        raise NotImplementedError

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        """Top-``k`` item indices per user, best first (nothing masked)."""
        import numpy as np

        scores = self.score(users)
        k = min(k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1)
