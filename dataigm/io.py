"""Crash-safe file writing and the RUN folder lock.

Everything dataigm writes goes to a temporary name in the same folder and is renamed into
place, so a crash, a full disk or a kill -9 never leaves a half-written file under its final
name. A shard is only "finished" once its marker exists, and markers are written last.

Durability is paid once per shard, not once per file: image files are renamed into place
without an fsync (`durable=False`), and the shard writer calls `fsync_files` on all of them
before it writes the shard's parquet and marker. On Linux that is one `syncfs` per file system
holding them (every file's data and every rename, in one journal commit); elsewhere an fsync
of each file and folder. A kill -9 loses nothing either way (the page cache survives the
process); after a power cut a shard without its marker is redone, and a shard with its marker
has every byte on disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from dataigm.errors import InputError, RunLockedError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise _os_error(exc, final) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; published files must get the usual umask-derived mode.
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _os_error(exc, final) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _os_error(exc: OSError, path: Path) -> InputError:
    reason = {errno.ENOSPC: "no space left on device", errno.EACCES: "permission denied",
              errno.EROFS: "read-only file system", errno.EDQUOT: "disk quota exceeded"}
    return InputError(f"{path}: cannot write: {reason.get(exc.errno or 0, exc.strerror or str(exc))}")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, durable: bool = True) -> None:
    """Write `data` under a temp name and rename it onto `path`. With durable=False the fsync
    is left to the caller (`fsync_files` once for a whole shard)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())


# Up to this many files, fsync them one by one; beyond, one syncfs is cheaper.
FSYNC_EACH_MAX = 4


def fsync_files(paths: "Iterable[str | os.PathLike[str]]") -> None:
    """Make the files (and their renames) durable: for many files, one syncfs per file system
    (Linux); else an fsync of each file, then of each folder holding them."""
    folders: dict[str, None] = {}
    files = [Path(p) for p in paths]
    for path in files:
        folders[os.path.dirname(os.path.abspath(path))] = None
    syncfs = _syncfs() if len(files) > FSYNC_EACH_MAX else None
    if syncfs is not None:
        devices: dict[int, str] = {}
        for folder in folders:
            try:
                devices.setdefault(os.stat(folder).st_dev, folder)
            except OSError as exc:
                raise _os_error(exc, Path(folder)) from exc
        for folder in devices.values():
            _sync_filesystem(syncfs, Path(folder))
        return
    for path in files:
        _fsync_path(path, os.O_RDONLY)
    for folder in folders:
        _fsync_path(Path(folder), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


@functools.lru_cache(maxsize=1)
def _syncfs() -> Any:
    """libc's syncfs(fd) (Linux), or None where there is none."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def _sync_filesystem(syncfs: Any, folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            if syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        finally:
            os.close(fd)
    except OSError as exc:
        raise _os_error(exc, folder) from exc


def _fsync_path(path: Path, flags: int) -> None:
    try:
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _os_error(exc, path) from exc


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(table: "Any", path: str | os.PathLike[str], durable: bool = False) -> None:
    """Write a pyarrow Table to parquet atomically."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
        if durable:
            fsync_files([tmp])


class RunLock:
    """An exclusive, non-blocking lock on a RUN folder (fcntl.flock on RUN/.lock).

    A second dataigm process on the same folder is refused with a clear error instead of
    interleaving writes. The kernel drops the lock when the process dies, even on kill -9,
    so a crashed run never leaves a stale lock behind.
    """

    # Re-entrant within one process: `build` holds the lock while its steps take it again.
    _held: dict[Path, list[Any]] = {}

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)

    def __enter__(self) -> "RunLock":
        key = self.run_dir.resolve()
        if key in RunLock._held:
            RunLock._held[key][1] += 1
            return self
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fh = open(self.run_dir / ".lock", "a+")
        except OSError as exc:
            raise _os_error(exc, self.run_dir) from exc
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RunLockedError(
                f"{self.run_dir}: in use by {holder}; wait for it to finish or use another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        RunLock._held[key] = [fh, 1]
        return self

    def __exit__(self, *exc: object) -> None:
        key = self.run_dir.resolve()
        entry = RunLock._held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del RunLock._held[key]
            fcntl.flock(entry[0].fileno(), fcntl.LOCK_UN)
            entry[0].close()
