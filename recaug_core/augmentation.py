"""One augmentation into its output folder, resumable: what `recaug augment` and every arm and
seed of `recaug run` do.

Open the folder (refusing one that holds other settings) -> if it holds this augmentation
finished, nothing to do -> the caller's ``prepare`` reads the data and splits it -> generate,
or reuse the rows an interrupted run generated -> filter -> write every table -> record
counts, timings and the end in ``manifest.json``.

A RecaugError leaving a stage names it in ``exc.stage`` ("setup", "generate", "filter") unless
the error named its own (a plugin's failure names its method), for callers that report where
an augmentation stopped.

``read_augmentation`` reads a finished folder back: its split and augmented training set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from recaug_core.data import Dataset
from recaug_core.errors import RecaugError
from recaug_core.files import read_parquet
from recaug_core.guards import check_kept
from recaug_core.manifest import AugmentManifest, read_manifest
from recaug_core.outputs import OutputFolder
from recaug_core.pipeline import AugmentResult, Generated, apply_filters, generate_synthetic
from recaug_core.runtime import Context, activity
from recaug_core.schema import REAL, normalize_interactions
from recaug_core.settings import AugmentPlan, DataSpec
from recaug_core.split import SPLIT_COLUMN, Split, SplitSpec

T = TypeVar("T")


@dataclass
class Prepared:
    """The data an augmentation works on, and how it was read."""

    split: Split
    data: dict[str, Any]  # the manifest's "data": reference, source, cleaning
    timings: dict[str, float]  # load_s, clean_s, split_s where the caller measured them


@dataclass
class Augmentation:
    manifest: AugmentManifest
    result: AugmentResult | None  # None when the folder held this augmentation finished
    main_process: bool  # False in a follower process of a multi-process launch


def augment(
    folder: Path,
    plan: AugmentPlan,
    prepare: Callable[[], Prepared],
    *,
    command: list[str],
    resume: bool,
    force: bool = False,
    mixed_precision: str = "no",
    contained: bool = False,
    fidelity: bool = False,
    log: Callable[[str], None] | None = None,
) -> Augmentation:
    """Augment into ``folder`` as ``plan`` says (its settings resolved). ``contained`` puts
    every ``*_dir`` option inside the folder; ``fidelity`` records the fidelity figures.
    ``force`` deletes an unfinished run of any settings first; with ``resume``, a failed run
    of other settings (or one that never finished generating) is replaced, and one whose
    filters alone differ is filtered again (``OutputFolder.open``)."""
    from recaug_core.fidelity import fidelity_summary

    output = OutputFolder(folder, AugmentManifest)
    resuming = output.open(plan, resume=resume, command=command, force=force, replace_unusable=True)
    try:
        if resuming and output.done:
            return Augmentation(output.manifest, None, output.writer)
        settings = plan.augment
        strategy, filters = _stage("setup", lambda: settings.build(folder if contained else None))
        prepared = prepare()
        train = prepared.split.train
        ctx = Context(
            seed=plan.seed, work_dir=folder, resume=resuming, mixed_precision=mixed_precision
        )
        generated = read_generated(folder) if resuming and output.stage_done("generate") else None
        if generated is None:
            (log or ctx.log)(
                f"augmenting {len(train)} training rows with strategy '{settings.strategy}'"
            )
            request = settings.request()
            generated = _stage(
                "generate", lambda: generate_synthetic(strategy, train, request, ctx)
            )
            output.write_table("synthetic.parquet", generated.interactions)
            if generated.text is not None:
                output.write_table("generated_text.parquet", generated.text)
            output.mark_stage(
                "generate", rows=generated.interactions.num_rows, **_rounded(generated.timings)
            )
        result = _stage("filter", lambda: apply_filters(filters, train, generated, ctx))
        _stage("filter", lambda: check_kept(result.kept, train, strategy))
        started = time.perf_counter()
        with activity(f"writing {len(result.augmented):,} augmented rows to {folder}"):
            write_tables(output, prepared.split, result)
        timings = {**prepared.timings, **_rounded(result.timings)}
        if "fit_s" not in timings:  # generated before an interruption
            earlier = output.manifest.stages["generate"]
            timings.update({k: v for k, v in earlier.items() if k.endswith("_s")})
        timings["write_s"] = round(time.perf_counter() - started, 4)
        output.finish(
            data=prepared.data,
            split=prepared.split.info(),
            counts=result.counts,
            filter_stats=result.filter_stats,
            timings=timings,
            plugins=_plugin_versions(),
            fidelity=fidelity_summary(train, result.kept) if fidelity else None,
        )
        return Augmentation(output.manifest, result, output.writer)
    except BaseException as exc:
        output.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        output.close()


def load_and_split(data: DataSpec, spec: SplitSpec, seed: int) -> Prepared:
    """Read, clean and split ``data`` (what `recaug augment` works on), timing each step."""
    from recaug_core.loading import load
    from recaug_core.split import split_dataset

    loaded = load(data)
    started = time.perf_counter()
    with activity(f"splitting {len(loaded.dataset):,} interactions ({spec.protocol})"):
        split = split_dataset(loaded.dataset, spec, seed=seed)
    timings = {
        "load_s": loaded.info["load_s"],
        "clean_s": loaded.info["clean_s"],
        "split_s": round(time.perf_counter() - started, 4),
    }
    return Prepared(split, loaded.info, timings)


def _stage(name: str, work: Callable[[], T]) -> T:
    try:
        return work()
    except RecaugError as exc:
        exc.stage = exc.stage or name
        raise


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in timings.items()}


def _plugin_versions() -> dict[str, str | None]:
    from recaug_core.registry import get_registry

    return {info.name: info.version for info in get_registry().plugin_infos()}


def read_generated(folder: Path) -> Generated:
    """The strategy's output an interrupted run saved, so ``--resume`` need not generate."""
    text_path = folder / "generated_text.parquet"
    return Generated(
        normalize_interactions(read_parquet(folder / "synthetic.parquet")),
        read_parquet(text_path) if text_path.exists() else None,
    )


def write_tables(output: OutputFolder[Any], split: Split, result: AugmentResult) -> None:
    """Every output table of an augmentation (each file atomically)."""
    augmented = result.augmented
    output.write_table("synthetic.parquet", result.synthetic)
    output.write_table("rejected.parquet", result.rejected)
    output.write_table("augmented.parquet", augmented.interactions)
    output.write_table("split.parquet", split.table)
    output.write_table("items.parquet", _items(augmented))
    if augmented.users is not None:
        output.write_table("users.parquet", augmented.users)
    if result.generated_text is not None:
        output.write_table("generated_text.parquet", result.generated_text)
    if result.text_rejected is not None:
        output.write_table("rejected_text.parquet", result.text_rejected)


def _items(data: Dataset) -> pa.Table:
    return data.items if data.items is not None else pa.table({"item_id": data.item_index.ids})


# -- reading a finished augmentation back ---------------------------------------------------


@dataclass
class Finished:
    folder: Path
    manifest: AugmentManifest
    split: Split
    augmented: Dataset  # real training rows + kept synthetic rows, same indexes as the split


def read_augmentation(folder: str | Path) -> Finished:
    """A finished augmentation folder: its split (as written) and augmented training set."""
    folder = Path(folder)
    manifest = read_manifest(folder, AugmentManifest)
    if manifest.status != "done":
        raise RecaugError(f"{folder}: the run is not finished (status {manifest.status!r})")
    table = read_parquet(folder / "split.parquet")
    users_path = folder / "users.parquet"
    full = Dataset(
        table.drop_columns([SPLIT_COLUMN]),
        items=read_parquet(folder / "items.parquet"),
        users=read_parquet(users_path) if users_path.exists() else None,
        name=manifest.fingerprint.data.ref,
    )
    plan = manifest.fingerprint
    split = Split.from_table(table, full, plan.split, plan.seed)
    rows = normalize_interactions(read_parquet(folder / "augmented.parquet"))
    real = rows.filter(pc.equal(rows.column("origin"), REAL)).num_rows
    if real != len(split.train):
        raise RecaugError(
            f"{folder}: augmented.parquet holds {real} real rows but the split's "
            f"training part has {len(split.train)}; the run folder is inconsistent"
        )
    _check_catalog(rows, split.train, folder)
    return Finished(folder, manifest, split, split.train.with_interactions(rows, extend_users=True))


def _check_catalog(rows: pa.Table, train: Dataset, folder: Path) -> None:
    """Rows of a folder written before the core checked plugin output may name items outside
    the catalog; training on them would fail deep inside a backend."""
    unknown = train.item_index.lookup(rows.column("item_id")) < 0
    if unknown.any():
        raise RecaugError(
            f"{folder}: augmented.parquet holds {int(unknown.sum())} rows with items that are "
            "not in the catalog (a run of an earlier recaug, which did not check them); "
            "augment again"
        )


def reload_augmented(split: Split, folder: Path) -> Dataset:
    """The augmented training set of a finished folder, on an equal split's indexes."""
    rows = normalize_interactions(read_parquet(folder / "augmented.parquet"))
    _check_catalog(rows, split.train, folder)
    augmented = split.train.with_interactions(rows, extend_users=True)
    users_path = folder / "users.parquet"
    return replace(
        augmented,
        items=read_parquet(folder / "items.parquet"),
        users=read_parquet(users_path) if users_path.exists() else augmented.users,
    )
