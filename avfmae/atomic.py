"""Atomic file writes, the one file lock, and removal of temp files left by killed writers.

`atomic_write` (and `atomic_path` for writers that need a file name: np.savez, safetensors, PyAV) writes to a
temp file `.<name>.<pid>.<rand>.tmp[<suffix>]` beside the target, fsyncs it, `os.replace`s it over the target and
fsyncs the folder: a reader (or a killed writer's successor) sees the old file or the whole new one, never half.
While writing, the writer holds an flock on its temp file. `temp_for` + `commit` are the two halves for writers
whose success is known only afterwards (ffmpeg with a fallback).

A writer killed with SIGKILL cannot clean up; `remove_stale(folder)` deletes the temp files of that exact pattern
whose writer is gone (its pid is not alive here and nobody holds the temp file's lock). Call it where work resumes.

`file_lock(path)` is the project's one lock: flock on a lock file, exclusive (or shared), optionally with a
timeout. flock locks belong to an open file, so the same process taking the same lock twice (nested) waits forever:
take it once, around the whole read-modify-write.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<rand>[0-9a-f]{8})\.tmp(?P<suffix>\.[A-Za-z0-9]{1,8})?$")


class LockTimeout(TimeoutError):
    """`file_lock(..., timeout=...)` waited too long; the message names the lock file and its holder's pid."""


def _temp_name(path: Path, keep_suffix: bool) -> Path:
    suffix = path.suffix if keep_suffix and re.fullmatch(r"\.[A-Za-z0-9]{1,8}", path.suffix) else ""
    return path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix}"


def _try_flock(fd: int, flags: int) -> bool:
    """flock without waiting; True when taken (or when the file system has no flock, so the caller goes on)."""
    try:
        fcntl.flock(fd, flags | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return True
        raise


def _fsync_dir(folder: Path) -> None:
    try:  # make the rename itself durable
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def temp_for(path: str | os.PathLike, keep_suffix: bool = False) -> Path:
    """A fresh temp name beside `path` in the pattern `remove_stale` knows; finish with `commit(tmp, path)`.

    For writers whose success is known only after they ran (ffmpeg, then a fallback): the caller removes the temp
    file on failure. Prefer `atomic_write` / `atomic_path`, which also hold the temp file's lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _temp_name(path, keep_suffix)


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """fsync the finished temp file `tmp`, rename it over `path`, fsync the folder."""
    tmp, path = Path(tmp), Path(path)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temp path beside `path`; when the block ends without an error it replaces `path` (fsync'ed).

    For writers that take a file name (safetensors, np.savez, PyAV). `keep_suffix=True` ends the temp name with
    the target's suffix (`.wav`, `.mp4`) for writers that pick the format from it. On an error the temp file is
    removed and `path` is left as it was.
    """
    path = Path(path)
    tmp = temp_for(path, keep_suffix)
    guard = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)  # hold the temp file's lock while it is written
    try:
        _try_flock(guard, fcntl.LOCK_EX)
        yield tmp
        commit(tmp, path)
    finally:
        os.close(guard)
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], binary: bool = True) -> Path:
    """Write `path` atomically: `write(f)` fills an open temp file (text mode is UTF-8 with '\\n' line ends).

    For torch.save / np.save pass a callback: `atomic_write(p, lambda f: torch.save(obj, f))`.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text), binary=False)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def remove_stale(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Delete temp files `.<name>.<pid>.<rand>.tmp[<suffix>]` in `folder` whose writer is gone; returns them.

    A file is kept when its pid is alive on this machine or when someone holds its lock (a writer on another node
    of a shared file system). Other files, however they are named, are never touched.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in (folder.rglob(".*.tmp*") if recursive else folder.glob(".*.tmp*")):
        m = TEMP_PATTERN.match(p.name)
        if m is None or not p.is_file() or p.is_symlink() or _pid_alive(int(m["pid"])):
            continue
        try:
            fd = os.open(p, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            if not _try_flock(fd, fcntl.LOCK_EX):
                continue  # a live writer elsewhere
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
        finally:
            os.close(fd)
    return removed


@contextmanager
def file_lock(path: str | os.PathLike, *, shared: bool = False, timeout: float | None = None,
              poll: float = 0.05) -> Iterator[Path]:
    """Hold an flock on the lock file `path` (created if missing, never deleted) for the block.

    Exclusive by default; `shared=True` lets other shared holders in. `timeout` (seconds) raises `LockTimeout`
    naming the file and the last exclusive holder's pid instead of waiting forever.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if timeout is None:
            fcntl.flock(fd, flags)
        else:
            deadline = time.monotonic() + timeout
            while not _try_flock(fd, flags):
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                    raise LockTimeout(f"{path}: still locked after {timeout:g}s (holder pid {holder}); another "
                                      "process is using it. Wait for it, or end that process if it is stuck")
                time.sleep(poll)
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the file releases the lock
