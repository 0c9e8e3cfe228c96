"""Files written whole or not at all, and what a killed writer leaves behind.

Every file voisin writes for keeps (reports, templates, sealed statements, agent reports,
key files) and every run folder (``voisin simulate``, ``voisin city run``) is built
under a staging name beside its target, ``.NAME.XXXXXXXX.part`` (same folder, so the
final move is a rename), then moved to NAME:

- a staging file is created with ``O_CREAT | O_EXCL`` and the mode the file keeps
  (0600 for a key file: readable by its owner only from its first byte, never chmod-ed
  afterwards), written, fsynced, then moved: ``os.replace`` when the caller may replace
  what is at NAME, else a hard link, which fails if anything is there (no race between
  a check and the write); the folder is fsynced after the move;
- the staging entry is removed whatever fails (an exception, Ctrl-C, SIGTERM through
  ``voisin``'s handler); only a process killed outright (SIGKILL, power loss) leaves it;
- its writer holds an exclusive ``flock`` on it while it lives, so the next writer of
  NAME removes every staging entry of NAME that no process holds (``sweep``): a
  leftover of a killed run is gone after the next run, and a live writer's entry is
  never touched. Leftovers are hidden, never read, and never mistaken for NAME. One
  is kept: a run folder killed halfway through its final moves holds the files it was
  replacing in ``.old`` (the previous run's), which are left for the user to put back.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from voisin import faults

STAGING_SUFFIX = ".part"
OLD_ENTRIES = ".old"
"""Inside a staging folder: the files it is replacing, moved aside while it commits."""
_TOKEN_HEX = 8
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS)
"""What ``link`` says on a file system without hard links (then: check, then replace)."""


def staging_name(path: Path) -> Path:
    """A fresh staging name for ``path``: ``.NAME.XXXXXXXX.part`` beside it."""
    return path.with_name(f".{path.name}.{secrets.token_hex(_TOKEN_HEX // 2)}{STAGING_SUFFIX}")


def _is_staging_of(entry: str, name: str) -> bool:
    prefix = f".{name}."
    if not (entry.startswith(prefix) and entry.endswith(STAGING_SUFFIX)):
        return False
    token = entry[len(prefix) : -len(STAGING_SUFFIX)]
    return len(token) == _TOKEN_HEX and all(c in "0123456789abcdef" for c in token)


def _lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd``; False if a live process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def sweep(path: Path) -> list[Path]:
    """Remove the staging entries of ``path`` left by writers that died; the removed."""
    removed: list[Path] = []
    try:
        entries = [e for e in os.listdir(path.parent) if _is_staging_of(e, path.name)]
    except OSError:
        return removed
    for name in entries:
        entry = path.parent / name
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, a symlink, or not ours to read: left alone
        try:
            if _lock(fd) and not (entry / OLD_ENTRIES).exists():
                _remove(entry)
                removed.append(entry)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def staged(path: Path, *, folder: bool = False, mode: int = 0o666) -> Iterator[tuple[Path, int]]:
    """A locked staging entry for ``path`` (a file opened for writing, or a folder) and
    its descriptor; removed on the way out unless moved away meanwhile. Stale entries
    of ``path`` are swept first. Raises ``OSError``."""
    sweep(path)
    entry, fd, made = staging_name(path), -1, False
    try:  # from before the entry exists: an interrupt while it is made removes it too
        while True:
            if folder:
                entry.mkdir(mode=0o700)
                made = True
                fd = os.open(entry, os.O_RDONLY)
            else:
                fd = os.open(entry, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
                made = True
            # a sweeper may have taken the entry between its creation and our lock: then
            # it is gone (or another's), and we start again under a new name
            if _lock(fd) and _same(fd, entry):
                break
            os.close(fd)
            entry, fd, made = staging_name(path), -1, False
        yield entry, fd
    finally:
        try:
            if made:  # never a name another writer made (a collision refused by O_EXCL)
                _remove(entry)
        finally:
            if fd >= 0:
                os.close(fd)


def _same(fd: int, entry: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(entry, follow_symlinks=False))
    except OSError:
        return False


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: the directory entry is data too)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders; the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def move_into_place(entry: Path, path: Path, *, replace: bool) -> None:
    """Move a finished staging entry to ``path``; without ``replace`` an existing
    ``path`` stays and ``FileExistsError`` is raised."""
    if replace:
        os.replace(entry, path)
        return
    try:
        os.link(entry, path, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if path.exists() or path.is_symlink():
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.replace(entry, path)
    else:
        entry.unlink()


def write_whole(path: Path, text: str, *, mode: int = 0o666, replace: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (module docstring).

    ``mode`` is the file's mode from creation (the umask applies). Without ``replace``
    an existing ``path`` is never replaced: ``FileExistsError``. Raises ``OSError``.
    """
    with staged(path, mode=mode) as (entry, fd):
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        faults.point("staged-file")
        move_into_place(entry, path, replace=replace)
    fsync_folder(path.parent)
