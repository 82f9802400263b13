"""Safe file writing: atomic replacement and a lock that keeps two runs out of one folder."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from recaug_core.errors import RecaugError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    A process killed half-way leaves at most a ``.tmp-*`` file, never a truncated ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should be readable as usual
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomic(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_parquet(path: str | os.PathLike[str], table: Any) -> None:
    import pyarrow.parquet as pq

    write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_parquet(path: str | os.PathLike[str]) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    refuse_special_file(path)
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise RecaugError(f"{path}: file not found") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise RecaugError(f"{path}: not a readable Parquet file ({exc})") from None


def special_file_kind(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it is neither a regular file nor a folder (symlinks followed):
    reading a FIFO blocks for ever and a device such as /dev/zero never ends, so callers
    refuse these before opening them. None for regular files, folders and missing paths."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def refuse_special_file(path: str | os.PathLike[str]) -> None:
    """RecaugError naming ``path`` when it is a FIFO, a device or a socket."""
    kind = special_file_kind(path)
    if kind is not None:
        raise RecaugError(f"{os.fspath(path)}: is {kind}, not a regular file")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete ``.NAME.tmp-*`` files a killed process left behind."""
    for leftover in folder.glob(".*.tmp-*"):
        leftover.unlink(missing_ok=True)


class RunLock:
    """An exclusive lock file in a run folder; a second process gets a clear error.

    The file names its holder: pid, host, and (where /proc tells them) the process's start
    time and the machine's boot id. A lock whose holder is gone is stale and taken over: its
    pid no longer runs, or now belongs to another process (a different start time), or the
    machine has rebooted since. A lock from another host is respected, since its process
    cannot be looked at from here.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"
        self.held = False

    def acquire(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecaugError(f"cannot create the folder {folder} ({_reason(exc)})") from None
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._live_owner()
                if owner is not None:
                    raise RecaugError(
                        f"{self.path.parent} is in use by another recaug run (pid {owner}); "
                        "wait for it to finish or choose another --out"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            except OSError as exc:
                raise RecaugError(
                    f"cannot write into the folder {folder} ({_reason(exc)})"
                ) from None
            pid = os.getpid()
            with os.fdopen(fd, "w") as handle:
                handle.write(
                    f"{pid} {socket.gethostname()} {_started(pid) or '-'} {_boot_id() or '-'}\n"
                )
            self.held = True
            return
        raise RecaugError(f"could not lock {self.path.parent}")

    def _live_owner(self) -> int | None:
        """The pid holding the lock if it may still run (always so for another host's pid)."""
        try:
            fields = self.path.read_text().split()
            pid, host = int(fields[0]), fields[1]
        except (OSError, ValueError, IndexError):
            return None
        if host != socket.gethostname():
            return pid
        started, boot = [*fields[2:4], "-", "-"][:2]
        if boot != "-" and _boot_id() not in (None, boot):
            return None  # the machine restarted: no process of that boot runs
        if not _alive(pid):
            return None
        if started != "-" and _started(pid) not in (None, started):
            return None  # the pid was reused by an unrelated process
        return pid

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False  # kill(0) and kill(-1) would mean process groups, not a process
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _started(pid: int) -> str | None:
    """When ``pid`` started, in clock ticks since boot (Linux /proc), or None where unknown."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # field 2, the command name, may hold spaces and parentheses: count from the last ')'
    fields = stat_line[stat_line.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None  # field 22: starttime


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


# -- writing only inside a folder ------------------------------------------------------------


# Arm names and backend labels become file and folder names: letters, digits, '.', '_' and '-',
# starting with a letter or digit, so that no name can be '..', absolute, or hold a separator.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def safe_name(value: str) -> str:
    """``value`` if it can name a file inside a folder, else ValueError (for validators)."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise ValueError(
            "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(it names a folder or file inside --out)"
        )
    return value


def is_write_dir_option(key: str) -> bool:
    """Options that name a folder a component writes into (by convention: ``*_dir``)."""
    return key.endswith("_dir")


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
