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
from recaug_core.manifest import MANIFEST, M, Manifest, raw_manifest, read_manifest
from recaug_core.registry import announce

# how messages name the fingerprint's parts
LABELS = {"options": "strategy options", "augment": "augmentation settings"}
# settings that act only after generation: a run that generated keeps its rows when they change
REFILTERED = {"filters", "dedupe"}
STAGE_WORDS = {"generate": "generating", "load": "loading the data"}
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

    def open(
        self,
        fingerprint: BaseModel,
        *,
        resume: bool,
        command: list[str],
        force: bool = False,
        replace_unusable: bool = False,
    ) -> bool:
        """Prepare the folder; returns True when resuming earlier work in it.

        ``force`` deletes an unfinished or failed run of any settings and starts afresh (a
        finished run is never deleted). ``replace_unusable``: with ``resume``, an earlier run
        of other settings that failed or never finished generating holds nothing these
        settings can use, so it is replaced (announced) instead of refused."""
        if self.path.exists() and not self.path.is_dir():
            raise RecaugError(f"--out {self.path} is a file, not a folder")
        if not self.writer:
            resuming = self._follow(resume)
        else:
            self.created = not self.path.exists()
            self.lock.acquire()  # before looking, so two starts cannot both see an empty folder
            try:
                resuming = self._check_existing(fingerprint, resume, force, replace_unusable)
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

    def _check_existing(
        self, fingerprint: BaseModel, resume: bool, force: bool, replace_unusable: bool
    ) -> bool:
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
        state = self._state(manifest)
        if force:
            if manifest.status == "done":
                raise RecaugError(
                    f"--out {self.path} holds a finished run, which --force never deletes; "
                    "choose another folder, or delete this one yourself if you no longer need it"
                )
            self._clear(f"--force: deleted the {state} in {self.path}; starting afresh")
            return False
        if not resume:
            if manifest.status == "done":
                raise RecaugError(
                    f"--out {self.path} already holds a finished run; choose another folder "
                    "(recaug never overwrites a run), or delete it first if you no longer need it"
                )
            raise RecaugError(
                f"--out {self.path} holds an {state}; pass --resume to continue it, --force to "
                "delete it and start afresh, or choose another folder"
            )
        changed = differences(
            with_current_defaults(manifest.fingerprint).model_dump(mode="json"),
            fingerprint.model_dump(mode="json"),
        )
        if not changed:
            return True
        generated = bool(manifest.stages.get("generate"))
        if manifest.status != "done" and generated and set(changed) <= REFILTERED:
            # only what happens after generation changed: the generated rows still hold
            manifest.fingerprint = fingerprint
            manifest.status, manifest.error = "running", None
            self.save()
            announce(
                f"{self.path}: continuing the {state} with other {' and '.join(changed)}; "
                "its generated rows are filtered again"
            )
            return True
        if (
            replace_unusable
            and manifest.status != "done"
            and (manifest.status == "failed" or not generated)
        ):
            self._clear(
                f"{self.path} held an {state} of other settings ({', '.join(changed)} differ), "
                "which nothing here can use; starting afresh with these settings"
            )
            return False
        hint = "rerun with the same settings or choose another --out"
        if manifest.status != "done":
            hint += ", or pass --force instead of --resume to delete it and start afresh"
        raise OtherSettings(
            f"--resume: the run in {self.path} was started with other settings "
            f"({', '.join(changed)} differ); {hint}",
            changed,
        )

    @staticmethod
    def _state(manifest: Manifest) -> str:
        """``unfinished run (failed in generate: ...)``: how far a run got, for messages."""
        if manifest.status == "done":
            return "finished run"
        if manifest.status == "failed":
            reason = (manifest.error or "").split(": ", 1)[-1]
            cut = reason if len(reason) <= 120 else reason[:117] + "..."
            return f"unfinished run (it failed: {cut})" if cut else "unfinished run (it failed)"
        done = [STAGE_WORDS.get(name, name) for name, f in manifest.stages.items() if f.get("done")]
        return (
            f"unfinished run (interrupted after {', '.join(done)})"
            if done
            else ("unfinished run (interrupted)")
        )

    def _clear(self, notice: str) -> None:
        """Delete everything an earlier run left in the folder (not our lock)."""
        for entry in self.path.iterdir():
            if entry.name == ".lock":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        self._manifest = None
        announce(notice)

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
