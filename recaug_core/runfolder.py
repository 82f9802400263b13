"""A run's output folder: refuses to overwrite, locks against a second writer, resumes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from recaug_core.errors import RecaugError
from recaug_core.files import (
    RunLock,
    refuse_special_file,
    remove_stale_temporaries,
    write_json,
    write_parquet,
)

MANIFEST = "manifest.json"
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


class RunFolder:
    """Owns ``path`` for one run: ``open`` checks what is there, ``close`` releases the lock.

    In a follower process of a multi-process launch (``writer=False``) it only reads: it takes
    no lock and writes nothing, since the main process writes the same results.
    """

    def __init__(self, path: str | Path, *, writer: bool | None = None) -> None:
        self.path = Path(path)
        self.lock = RunLock(self.path)
        self.manifest: dict[str, Any] = {}
        self.created = False
        self.writer = not is_launch_follower() if writer is None else writer

    def open(
        self, fingerprint: dict[str, Any], *, resume: bool, command: list[str] | None = None
    ) -> bool:
        """Prepare the folder; returns True when resuming earlier work in it."""
        fingerprint = json.loads(json.dumps(fingerprint, default=str))  # as stored: tuples -> lists
        if self.path.exists() and not self.path.is_dir():
            raise RecaugError(f"--out {self.path} is a file, not a folder")
        if not self.writer:
            return self._follow(resume)
        self.created = not self.path.exists()
        self.lock.acquire()  # before looking, so two starts cannot both see an empty folder
        try:
            resuming = self._check_existing(fingerprint, resume)
        except BaseException:
            self.lock.release()
            raise
        remove_stale_temporaries(self.path)
        if not resuming:
            self.manifest = {
                "recaug_run": 1,
                "status": "running",
                "command": command if command is not None else sys.argv,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "fingerprint": fingerprint,
                "versions": package_versions(),
                "stages": {},
            }
            self.save()
        return resuming

    def _follow(self, resume: bool) -> bool:
        """A follower reads the state the main process decides on (it checks the same
        folder at the same moment, before either has written)."""
        manifest_path = self.path / MANIFEST
        if resume and manifest_path.exists():
            with contextlib.suppress(OSError, ValueError):
                self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return resume and bool(self.manifest)

    def _check_existing(self, fingerprint: dict[str, Any], resume: bool) -> bool:
        entries = (
            [p for p in self.path.iterdir() if p.name != ".lock"] if self.path.exists() else []
        )
        if not entries:
            return False
        manifest_path = self.path / MANIFEST
        if not manifest_path.exists():
            raise RecaugError(
                f"--out {self.path} is not empty and holds no recaug run; "
                "choose an empty or new folder"
            )
        try:
            self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecaugError(f"{manifest_path}: unreadable manifest ({exc})") from None
        status = self.manifest.get("status")
        leftovers = {p.name for p in entries if not p.name.startswith(".")}
        if status == "running" and leftovers == {MANIFEST} and not self.manifest.get("stages"):
            # A run killed before it produced anything (we hold the lock, so its writer is
            # gone): nothing to resume, start afresh.
            self.manifest = {}
            return False
        if not resume:
            if status == "done":
                raise RecaugError(
                    f"--out {self.path} already holds a finished run; choose another folder "
                    "(recaug never overwrites a run)"
                )
            raise RecaugError(
                f"--out {self.path} holds an unfinished run; pass --resume to continue it "
                "or choose another folder"
            )
        earlier = self.manifest.get("fingerprint", {})
        changed = sorted(
            k for k in set(earlier) | set(fingerprint) if earlier.get(k) != fingerprint.get(k)
        )
        if changed:
            raise RecaugError(
                f"--resume: the run in {self.path} was started with other settings "
                f"({', '.join(changed)} differ); rerun with the same settings or another --out"
            )
        return True

    @property
    def done(self) -> bool:
        return self.manifest.get("status") == "done"

    def stage_done(self, name: str) -> bool:
        return bool(self.manifest.get("stages", {}).get(name))

    def mark_stage(self, name: str, **facts: Any) -> None:
        self.manifest.setdefault("stages", {})[name] = {"done": True, **facts}
        self.save()

    def write_table(self, name: str, table: Any) -> None:
        if self.writer:
            write_parquet(self.path / name, table)

    def save(self) -> None:
        if self.writer:
            write_json(self.path / MANIFEST, self.manifest)

    def finish(self, **fields: Any) -> None:
        self.manifest.update(fields)
        self.manifest["status"] = "done"
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.save()

    def fail(self, reason: str) -> None:
        """Record a failure; a run that produced nothing worth resuming leaves no trace."""
        if not self.writer:
            return
        checkpoints = self.path / "checkpoints"
        has_work = bool(self.manifest.get("stages")) or (
            checkpoints.exists() and any(checkpoints.rglob("*"))
        )
        if has_work:
            self.manifest["status"] = "failed"
            self.manifest["error"] = reason
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


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise RecaugError(f"{folder}: not a recaug run folder (no {MANIFEST})")
    refuse_special_file(path)
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RecaugError(f"{path}: unreadable manifest ({exc})") from None
    return manifest
