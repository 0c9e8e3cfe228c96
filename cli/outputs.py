"""Where a command writes its ledger and its files: a folder made on demand, an old file
or ledger replaced only when asked (``--overwrite``) and only once the new one is whole
(written beside it, then renamed over it), every failure one line with a code."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from voisin import faults
from voisin.errors import InvalidInput
from voisin.ledger.sealed import SEALED_FILE
from voisin.ledger.store import sqlite_files
from voisin.protocol.files import OLD_ENTRIES, fsync_folder, staged, write_whole

LEDGER_FILE = "ledger.sqlite"
"""A run folder's ledger (``voisin simulate --out``)."""
REPORT_FILE = "report.html"
"""A run's HTML report (``voisin report``), beside its ledger by default."""
RUN_FILES = (LEDGER_FILE, SEALED_FILE, REPORT_FILE)
"""What a run writes in its folder; a new run replaces them all (``--overwrite``)."""


def refuse_existing_ledger(path: Path, *, overwrite: bool) -> None:
    """Refuse (``ledger-exists``) a ledger already at ``path`` unless ``overwrite``; it
    deletes nothing, so a run can say so before it computes its profiles (a refused
    6-household `voisin simulate`: 3.15 s of CPU instead of 3.63), then claim the ledger
    once nothing else can fail."""
    if not overwrite and (path.exists() or path.is_symlink()):
        raise InvalidInput(
            f"{path} already holds a ledger; pass --overwrite to replace it "
            "or --out to write elsewhere",
            code="ledger-exists",
        )


def claim_ledger(path: Path, *, overwrite: bool) -> Path:
    """``path``, ready for a new ledger: its folder exists and no ledger is there.

    An existing ledger is refused (``ledger-exists``) unless ``overwrite``; then it is
    deleted with its -wal/-shm companions (``cannot-overwrite`` if that fails).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(
            f"cannot create output folder {path.parent}: {exc.strerror}", code="bad-output"
        ) from None
    refuse_existing_ledger(path, overwrite=overwrite)
    if path.exists() or path.is_symlink():
        for old in [*sqlite_files(path), path.parent / SEALED_FILE]:  # its sealed boxes too
            try:
                old.unlink(missing_ok=True)
            except OSError as exc:
                raise InvalidInput(
                    f"cannot replace {old}: {exc.strerror}", code="cannot-overwrite"
                ) from None
    return path


def refuse_existing_file(path: Path, *, overwrite: bool | None) -> None:
    """Refuse (``file-exists``) anything already at ``path`` unless ``overwrite``: no
    command writes over a file it was not told to replace (a report given
    ``--out run/ledger.sqlite`` once turned the ledger into HTML). ``None``: the
    command has no ``--overwrite``, so the message does not offer one."""
    if not overwrite and (path.exists() or path.is_symlink()):
        offer = "" if overwrite is None else " or pass --overwrite to replace it"
        raise InvalidInput(f"{path} exists; pick another name{offer}", code="file-exists")


def write_output(
    path: Path,
    text: str,
    *,
    overwrite: bool | None = None,
    make_folder: bool = True,
) -> Path:
    """Write ``text`` to ``path`` (a report, a sealed statement, a template), making its
    folder unless ``make_folder`` is False. An existing file is refused
    (``file-exists``) unless ``overwrite`` (``None``: the command offers no
    ``--overwrite``), also when it appears while the text is written. The file is
    written whole or not at all (``protocol.files``: a staging file beside it, fsynced,
    then moved). A path that cannot be written is one line (``bad-output``)."""
    refuse_existing_file(path, overwrite=overwrite)
    try:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_whole(path, text, replace=bool(overwrite))
        except FileExistsError:
            refuse_existing_file(path, overwrite=overwrite)  # made meanwhile: still refused
            raise
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}", code="bad-output") from None
    return path


class StagedOutput:
    """A run's output built beside its folder and moved in only when the run succeeded.

    ``folder`` is a fresh hidden sibling of ``out``, ``.OUT.XXXXXXXX.part`` (same file
    system, so every move is a rename; ``protocol.files``: a killed run's folder is
    swept by the next run of the same ``out``); the run writes its files there.
    ``commit`` moves the old entries of ``out`` named ``entries`` aside, then the new
    ones in, then deletes the old; a run
    that fails before it (bad input found late, an interrupt) leaves ``out`` as it was
    and ``discard`` removes the staging folder. Entries the run did not make but the old
    run had (a ledger's -wal, an old report) go too: they described the old run. Other
    files in ``out`` are left alone."""

    def __init__(self, out: Path, entries: Sequence[str]) -> None:
        self.out = out
        self.entries = tuple(entries)
        if out.exists() and not out.is_dir():
            raise InvalidInput(f"cannot write into {out}: it is not a folder", code="bad-output")
        self._stage = contextlib.ExitStack()
        self.folder = Path()

    def __enter__(self) -> StagedOutput:
        """Make the staging folder (here, not in ``__init__``: an interrupt between the
        two would leave it behind)."""
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.folder, _ = self._stage.enter_context(staged(self.out, folder=True))
        except OSError as exc:
            raise InvalidInput(
                f"cannot create output folder {self.out}: {exc.strerror}", code="bad-output"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def discard(self) -> None:
        self._stage.close()

    def commit(self) -> None:
        """Replace ``out``'s entries by the staged ones (``cannot-overwrite`` if a move
        fails; the old entries are then put back)."""
        faults.point("staged-output")
        old = self.folder / OLD_ENTRIES
        moved: list[str] = []
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            old.mkdir()
            for name in self.entries:
                if (self.out / name).exists() or (self.out / name).is_symlink():
                    os.replace(self.out / name, old / name)
                    moved.append(name)
            for name in self.entries:
                if (self.folder / name).exists():
                    os.replace(self.folder / name, self.out / name)
            fsync_folder(self.out)
        except OSError as exc:
            for name in moved:  # best effort: the old run back where it was
                with contextlib.suppress(OSError):
                    os.replace(old / name, self.out / name)
            raise InvalidInput(
                f"cannot replace the output in {self.out}: {exc.strerror}",
                code="cannot-overwrite",
            ) from None
        finally:
            self.discard()
