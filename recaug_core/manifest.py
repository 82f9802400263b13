"""``manifest.json``: the typed record of an output folder.

An output folder of ``recaug augment`` (or one arm and seed of ``recaug run``) holds an
``AugmentManifest``; the ``--out`` folder of ``recaug run`` an ``ExperimentManifest``. Both
carry ``schema_version`` 2. Version 1 (recaug 0.1.0) had a ``"recaug_run": 1`` marker instead
and recorded an augmentation's settings as separate keys; reading upgrades it, so folders
written by 0.1.0 are still evaluated, exported and continued.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recaug_core.api import parse_pairs
from recaug_core.errors import RecaugError
from recaug_core.files import refuse_special_file
from recaug_core.pipeline import Counts
from recaug_core.settings import AugmentPlan, DataSpec, SplitSpec

MANIFEST = "manifest.json"
SCHEMA_VERSION: Final = 2


class Manifest(BaseModel):
    """What ran in a folder, with which settings (``fingerprint``), and how far it got."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: Literal[2] = SCHEMA_VERSION
    kind: str
    status: Literal["running", "done", "failed"] = "running"
    command: list[str]
    started: str
    finished: str | None = None
    error: str | None = None
    fingerprint: BaseModel
    versions: dict[str, str]
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)


class AugmentManifest(Manifest):
    kind: Literal["augment"] = "augment"
    fingerprint: AugmentPlan
    # what the finished run found and did
    data: dict[str, Any] = Field(default_factory=dict)  # how the data was read and cleaned
    split: dict[str, Any] = Field(default_factory=dict)  # rows and users per part
    counts: Counts | None = None
    filter_stats: dict[str, dict[str, Any]] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    plugins: dict[str, str | None] = Field(default_factory=dict)  # plugin -> version
    fidelity: dict[str, Any] | None = None


class ExperimentFingerprint(BaseModel):
    """What every arm and seed of an experiment shares: changing it makes results
    incomparable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    experiment: Literal[1] = 1
    data: DataSpec
    split: SplitSpec


class Invocation(BaseModel):
    """One `recaug run` command that worked on an experiment folder, and for how long."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    started: str
    seconds: float


class ExperimentManifest(Manifest):
    kind: Literal["experiment"] = "experiment"
    fingerprint: ExperimentFingerprint
    failed_arms: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)  # of the latest invocation
    invocations: list[Invocation] = Field(default_factory=list)  # every one, the latest last


M = TypeVar("M", bound=Manifest)


def read_manifest(folder: str | Path, model: type[M]) -> M:
    """The manifest of ``folder`` as ``model``; RecaugError naming the file otherwise."""
    path = Path(folder) / MANIFEST
    raw = raw_manifest(folder)
    version = raw.get("schema_version", 1 if raw.get("recaug_run") == 1 else None)
    if version == 1:
        try:
            raw = _upgrade_v1(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecaugError(
                f"{path}: a manifest of schema version 1 (recaug 0.1.0) that cannot be read "
                f"({type(exc).__name__}: {exc})"
            ) from None
    elif version is None:
        raise RecaugError(f"{path}: not a recaug manifest (it has no schema_version)")
    elif version != SCHEMA_VERSION:
        raise RecaugError(
            f"{path}: manifest schema version {version!r}; this recaug reads versions 1 and "
            f"{SCHEMA_VERSION} (a newer recaug wrote it?)"
        )
    expected = model.model_fields["kind"].default
    if raw.get("kind") != expected:
        what = {"augment": "an augmentation", "experiment": "an experiment"}[expected]
        raise RecaugError(f"{folder} holds a recaug run that is not {what}; choose another folder")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise RecaugError(f"{path}: invalid manifest ({key}: {first['msg']})") from None


def raw_manifest(folder: str | Path) -> dict[str, Any]:
    """The JSON object in ``folder``'s manifest, unchecked; RecaugError naming the file."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise RecaugError(f"{folder}: not a recaug run folder (no {MANIFEST})")
    refuse_special_file(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecaugError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(raw, dict):
        raise RecaugError(f"{path}: not a recaug manifest")
    return raw


def _upgrade_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """A recaug 0.1.0 manifest in the layout of version 2."""
    old = {k: v for k, v in raw.items() if k not in ("recaug_run", "seed", "strategy", "filters")}
    fingerprint = old["fingerprint"]
    if fingerprint.get("experiment") == 1 and "arm" not in fingerprint:
        return {**old, "schema_version": SCHEMA_VERSION, "kind": "experiment"}
    if "arm" in fingerprint:  # one arm and seed of `recaug run`
        arm = fingerprint["arm"]
        data = fingerprint["data"]
        chosen = (arm["strategy"], arm["filters"], arm["budget"], arm["target"])
    else:  # `recaug augment`: its fingerprint held the command line's data arguments
        given = fingerprint["data"]
        data = {
            "ref": given.get("data") or "demo",
            "source": given.get("source"),
            "options": parse_pairs(given.get("source_options") or []),
            "clean": {
                "keep_repeats": given.get("keep_repeats", False),
                "min_rating": given.get("min_rating"),
                "kcore": given.get("kcore", 0),
            },
        }
        request = fingerprint["request"]
        chosen = (
            fingerprint["strategy"],
            fingerprint["filters"],
            request["budget"],
            request["target"],
        )
    strategy, filters, budget, target = chosen
    old.pop("request", None)
    augment = {
        "strategy": strategy["name"],
        "options": strategy["options"],
        "filters": filters,
        "dedupe": any(f["name"] == "dedupe" for f in filters),
        "budget": budget,
        "target": target,
    }
    plan = {"data": data, "split": fingerprint["split"], "seed": fingerprint["seed"]}
    return {
        **old,
        "schema_version": SCHEMA_VERSION,
        "kind": "augment",
        "fingerprint": {**plan, "augment": augment},
    }
