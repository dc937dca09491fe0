"""Crash-safe file writing, whole-folder replacement and folder locks.

Everything dataigm writes goes to a temporary name in the same folder and is renamed into
place, so a crash, a full disk or a kill -9 never leaves a half-written file under its final
name. A shard is only "finished" once its marker exists, and markers are written last.
Folders written whole (an exported dataset, a judge) are staged under `.<name>.tmp-*` next to
their final place and swapped in with one rename; `sweep_folder_leftovers` removes what a
killed writer left there.

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
import glob
import json
import os
import shutil
import tempfile
import time
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
    share_file(tmp)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _os_error(exc, final) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file written by another library to disk before a marker vouches for it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def share_file(path: str | os.PathLike[str]) -> None:
    """Give a file the usual umask-derived mode (mkstemp, and some writers, create 0600)."""
    os.chmod(path, 0o666 & ~_UMASK)


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


def _lock_holder(fh: Any) -> str:
    """Who holds a lock we were refused: "pid N" once the holder has written its pid.

    The holder writes its pid just after taking the lock, so a process refused in that
    instant would read an empty file, or the pid of a holder that has since exited. It
    waits up to two seconds (only a refused process ever waits) for a live pid rather
    than naming nobody or the wrong process.
    """
    deadline = time.monotonic() + 2.0
    while True:
        fh.seek(0)
        text = fh.read().strip()
        pid = text.removeprefix("pid ")
        if pid.isdigit() and _alive(int(pid)):
            return text
        if time.monotonic() > deadline:
            return "another process"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


class RunLock:
    """An exclusive, non-blocking lock on a RUN folder (fcntl.flock on RUN/.lock).

    A second dataigm process on the same folder is refused with a clear error instead of
    interleaving writes. The kernel drops the lock when the process dies, even on kill -9,
    so a crashed run never leaves a stale lock behind. `lock_file` puts the lock file somewhere
    else (a folder that is swapped whole keeps its lock next to it: see `folder_lock`).
    """

    # Re-entrant within one process: `build` holds the lock while its steps take it again.
    _held: dict[Path, list[Any]] = {}

    def __init__(self, run_dir: str | os.PathLike[str], lock_file: str | os.PathLike[str] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.lock_file = Path(lock_file) if lock_file is not None else self.run_dir / ".lock"

    def __enter__(self) -> "RunLock":
        key = self.lock_file.resolve()
        if key in RunLock._held:
            RunLock._held[key][1] += 1
            return self
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.lock_file, "a+")
        except OSError as exc:
            raise _os_error(exc, self.lock_file.parent) from exc
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fh)
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
        key = self.lock_file.resolve()
        entry = RunLock._held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del RunLock._held[key]
            fcntl.flock(entry[0].fileno(), fcntl.LOCK_UN)
            entry[0].close()


# ----------------------------------------------------------------------------- whole folders
# A folder written whole is staged as `.<name>.tmp-*` next to its final place; a replaced one
# is put aside as `.<name>.old-*` until the new one is in. Both live in the parent folder (a
# rename never crosses file systems), and so does the folder's lock, `.<name>.lock`: a lock
# file inside the folder would be swapped away with it.


def _sibling(final: Path, kind: str) -> str:
    return f".{final.name}.{kind}"


def _named(final: str | os.PathLike[str]) -> Path:
    """`final` with a last component to name its siblings by ('.' becomes the folder's name)."""
    path = Path(final)
    if not path.name:
        path = path.resolve()
    if not path.name:
        raise InputError(f"{final}: name a folder, not the file system root")
    return path


def folder_lock(final: str | os.PathLike[str]) -> RunLock:
    """The exclusive lock on a folder that is replaced whole (its lock file sits next to it)."""
    final = _named(final)
    return RunLock(final, lock_file=final.parent / (_sibling(final, "lock")))


def staging_folder(final: str | os.PathLike[str], tag: str | None = None) -> Path:
    """A fresh, empty folder next to `final` to build its new content in: `.<name>.tmp-<tag>`
    (a random tag unless given; a fixed tag lets several processes of one job find it)."""
    final = _named(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if tag is None:
        staged = Path(tempfile.mkdtemp(prefix=_sibling(final, "tmp-"), dir=final.parent))
    else:
        staged = staging_folder_path(final, tag)
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
    os.chmod(staged, 0o777 & ~_UMASK)  # mkdtemp makes 0700; output folders should be shareable
    return staged


def staging_folder_path(final: str | os.PathLike[str], tag: str) -> Path:
    """The path `staging_folder(final, tag)` creates."""
    final = _named(final)
    return final.parent / _sibling(final, f"tmp-{tag}")


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False when the
    platform or file system cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_folder(staged: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Put the finished folder `staged` at `final` in one atomic step and remove what was there.

    A reader (or a kill -9) sees the old folder or the new one, never a mix: an existing
    `final` is exchanged with `staged` in one rename where the system allows, else renamed
    aside first (then, for an instant, `final` is missing and `sweep_folder_leftovers` puts the
    old folder back if the process dies right there).
    """
    staged, final = Path(staged), _named(final)
    try:
        if not final.exists():
            os.rename(staged, final)
            return
        if _exchange(staged, final):
            shutil.rmtree(staged, ignore_errors=True)  # now the old content
            return
        old = Path(tempfile.mkdtemp(prefix=_sibling(final, "old-"), dir=final.parent))
        old.rmdir()
        os.rename(final, old)
        try:
            os.rename(staged, final)
        except OSError:
            os.rename(old, final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise _os_error(exc, final) from exc


def sweep_folder_leftovers(final: str | os.PathLike[str]) -> int:
    """Remove what killed writers of `final` left next to it (`.<name>.tmp-*` staging folders,
    `.<name>.old-*` replaced ones). If `final` itself is missing because a writer died between
    its two renames, the folder put aside is renamed back first. Call only under the folder's
    lock (or the lock of the RUN that owns it), before writing. Returns how many were removed."""
    final = _named(final)
    if not final.parent.is_dir():
        return 0
    olds = sorted(final.parent.glob(glob.escape(_sibling(final, "old-")) + "*"), key=lambda p: p.stat().st_mtime)
    if olds and not final.exists():
        os.rename(olds.pop(), final)
    removed = 0
    for leftover in olds + sorted(final.parent.glob(glob.escape(_sibling(final, "tmp-")) + "*")):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed += 1
    return removed
