"""An output folder of `recaug augment` or `recaug run`: refuses to overwrite, locks against a
second writer, resumes work of the same settings, and keeps its typed ``manifest.json``."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Generic

from pydantic import BaseModel

from recaug_core.errors import RecaugError
from recaug_core.files import (
    RunLock,
    confined,
    remove_stale_temporaries,
    write_json,
    write_parquet,
)
from recaug_core.manifest import MANIFEST, M, raw_manifest, read_manifest

# how messages name the fingerprint's parts
LABELS = {"options": "strategy options", "augment": "augmentation settings"}
_TRACKED_PACKAGES = (
    "recaug",
    "numpy",
    "pyarrow",
    "pydantic",
    "pluggy",
    "click",
    "scipy",
    "torch",
    "accelerate",
    "transformers",
    "peft",
    "safetensors",
    "tokenizers",
    "datasets",
    "sentence-transformers",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results (read from metadata, nothing imported)."""
    versions = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def is_launch_follower() -> bool:
    """Whether this is a non-main process of ``accelerate launch`` / ``torchrun``.

    Those launchers start one process per device, each running the same command; every process
    must compute (training synchronises them), but only the main one owns the run folder.
    """
    return os.environ.get("RANK", "0") != "0"


class OtherSettings(RecaugError):
    """The folder holds work of other settings; ``changed`` names what differs."""

    def __init__(self, message: str, changed: list[str]) -> None:
        super().__init__(message)
        self.changed = changed


class OutputFolder(Generic[M]):
    """Owns ``path`` for one command: ``open`` checks what is there, ``close`` releases the
    lock; ``manifest`` (of type ``kind``) records the settings and how far the work got.

    In a follower process of a multi-process launch (``writer=False``) it only reads: it takes
    no lock and writes nothing, since the main process writes the same results.
    """

    def __init__(self, path: str | Path, kind: type[M], *, writer: bool | None = None) -> None:
        self.path = Path(path)
        self.kind = kind
        self.lock = RunLock(self.path)
        self._manifest: M | None = None
        self.created = False
        self.writer = not is_launch_follower() if writer is None else writer

    @property
    def manifest(self) -> M:
        if self._manifest is None:
            raise RuntimeError(f"{self.path}: the folder is not open")
        return self._manifest

    def open(self, fingerprint: BaseModel, *, resume: bool, command: list[str]) -> bool:
        """Prepare the folder; returns True when resuming earlier work in it."""
        if self.path.exists() and not self.path.is_dir():
            raise RecaugError(f"--out {self.path} is a file, not a folder")
        if not self.writer:
            resuming = self._follow(resume)
        else:
            self.created = not self.path.exists()
            self.lock.acquire()  # before looking, so two starts cannot both see an empty folder
            try:
                resuming = self._check_existing(fingerprint, resume)
            except BaseException:
                self.lock.release()
                raise
            remove_stale_temporaries(self.path)
        if not resuming:
            self._manifest = self.kind.model_validate(
                {
                    "command": command,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "fingerprint": fingerprint,
                    "versions": package_versions(),
                }
            )
            self.save()
        return resuming

    def _follow(self, resume: bool) -> bool:
        """A follower reads the state the main process decides on (it checks the same
        folder at the same moment, before either has written)."""
        if resume and (self.path / MANIFEST).exists():
            with contextlib.suppress(RecaugError):
                self._manifest = read_manifest(self.path, self.kind)
        return resume and self._manifest is not None

    def _check_existing(self, fingerprint: BaseModel, resume: bool) -> bool:
        entries = (
            [p for p in self.path.iterdir() if p.name != ".lock"] if self.path.exists() else []
        )
        if not entries:
            return False
        if not (self.path / MANIFEST).exists():
            raise RecaugError(
                f"--out {self.path} is not empty and holds no recaug run; "
                "choose an empty or new folder"
            )
        raw = raw_manifest(self.path)
        leftovers = {p.name for p in entries if not p.name.startswith(".")}
        if raw.get("status") == "running" and leftovers == {MANIFEST} and not raw.get("stages"):
            # A run killed before it produced anything (we hold the lock, so its writer is
            # gone): nothing to resume, start afresh.
            return False
        manifest = self._manifest = read_manifest(self.path, self.kind)
        if not resume:
            if manifest.status == "done":
                raise RecaugError(
                    f"--out {self.path} already holds a finished run; choose another folder "
                    "(recaug never overwrites a run)"
                )
            raise RecaugError(
                f"--out {self.path} holds an unfinished run; pass --resume to continue it "
                "or choose another folder"
            )
        changed = differences(
            with_current_defaults(manifest.fingerprint).model_dump(mode="json"),
            fingerprint.model_dump(mode="json"),
        )
        if changed:
            raise OtherSettings(
                f"--resume: the run in {self.path} was started with other settings "
                f"({', '.join(changed)} differ); rerun with the same settings or another --out",
                changed,
            )
        return True

    @property
    def done(self) -> bool:
        return self._manifest is not None and self._manifest.status == "done"

    def stage_done(self, name: str) -> bool:
        return bool(self.manifest.stages.get(name))

    def mark_stage(self, name: str, **facts: Any) -> None:
        self.manifest.stages[name] = {"done": True, **facts}
        self.save()

    def write_table(self, name: str, table: Any) -> None:
        if self.writer:
            write_parquet(confined(self.path, name), table)

    def save(self) -> None:
        if self.writer:
            write_json(confined(self.path, MANIFEST), self.manifest.model_dump(mode="json"))

    def finish(self, **fields: Any) -> None:
        """Record what the finished work found (fields of the manifest) and mark it done."""
        for name, value in fields.items():
            setattr(self.manifest, name, value)
        self.manifest.status = "done"
        self.manifest.finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.save()

    def fail(self, reason: str) -> None:
        """Record a failure; a run that produced nothing worth resuming leaves no trace."""
        if not self.writer:
            return
        checkpoints = self.path / "checkpoints"
        started = self._manifest is not None and bool(self._manifest.stages)
        has_work = started or (checkpoints.exists() and any(checkpoints.rglob("*")))
        if has_work and self._manifest is not None:
            self._manifest.status = "failed"
            self._manifest.error = reason
            self.save()
            return
        (self.path / MANIFEST).unlink(missing_ok=True)
        if checkpoints.exists():
            shutil.rmtree(checkpoints, ignore_errors=True)
        remove_stale_temporaries(self.path)
        if self.created:
            self.lock.release()
            with contextlib.suppress(OSError):
                self.path.rmdir()

    def close(self) -> None:
        if self.writer:
            self.lock.release()


def with_current_defaults(fingerprint: BaseModel) -> BaseModel:
    """A stored augmentation fingerprint with its settings resolved again, so that an option a
    component gained since (whose default keeps what it did before) is not a difference. Left
    as stored when its settings no longer validate (they then differ anyway)."""
    from recaug_core.settings import AugmentPlan

    if not isinstance(fingerprint, AugmentPlan):
        return fingerprint
    try:
        return fingerprint.model_copy(update={"augment": fingerprint.augment.resolved()})
    except RecaugError:
        return fingerprint


def differences(earlier: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The keys whose values differ, looking one level into the augmentation settings."""
    changed = []
    for key in sorted(set(earlier) | set(now)):
        before, after = earlier.get(key), now.get(key)
        if before == after:
            continue
        if key == "augment" and isinstance(before, dict) and isinstance(after, dict):
            changed += differences(before, after)
        else:
            changed.append(LABELS.get(key, key))
    return changed
