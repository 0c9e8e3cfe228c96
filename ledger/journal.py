"""The operator's journal: what it acknowledged but has not yet committed in a block.

An accepted bid lives in an open book until its interval clears; an accepted reading
waits for its interval to settle. Both are acknowledged long before any block holds
them, so the operator writes each one here first, in the ledger's own SQLite file (a
table of its own, outside the signed chain), and sends the ack only once the database
transaction holding it has committed. Many requests share one transaction (group
commit): the service journals a batch, commits once, then answers the whole batch.

A restarted operator rebuilds its open books and pending readings from these rows; a
row leaves the journal once the block that holds its message is committed. Failures
(a clearing the ledger refused, a settlement that could not be written) are journaled
too, with their reason, so an interval that was not committed says why.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from voisin import faults
from voisin.errors import LedgerError

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY, "
    "interval TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL)"
)
STORAGE_FAILED = "storage-failed"
"""The code of every refusal caused by storage that cannot take a write."""


class EntryKind(StrEnum):
    BID = "bid"
    READING = "reading"
    FAILURE = "failure"


@dataclass(frozen=True)
class Entry:
    """One journal row: its kind, the interval it belongs to and its JSON body."""

    kind: EntryKind
    interval: str
    body: str


class Journal:
    """The journal table of one ledger file, through a connection of its own.

    ``stage`` queues rows, each with what undoes its message in the caller's memory;
    ``commit`` writes the queue in one transaction (group commit: one ``executemany``
    and one fsync for a whole batch of requests) and makes it durable (WAL,
    ``synchronous=FULL``: on disk when it returns), or raises ``LedgerError`` with code
    ``storage-failed``, keeps nothing and runs every undo, newest first, so memory holds
    only what the file does. Callers must commit before the ledger appends a block,
    since SQLite allows one writer at a time.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise LedgerError(
                f"cannot open the journal of {self.path}: {exc}", code=STORAGE_FAILED
            ) from None
        self._undo: list[Callable[[], None]] = []
        self._rows: list[tuple[str, str, str]] = []

    @property
    def pending(self) -> int:
        """Rows staged since the last commit."""
        return len(self._undo)

    def _fail(self, doing: str, exc: sqlite3.Error) -> LedgerError:
        self.rollback()
        return LedgerError(f"could not {doing} in {self.path}: {exc}", code=STORAGE_FAILED)

    def stage(
        self, kind: EntryKind, interval: str, body: str, undo: Callable[[], None] = lambda: None
    ) -> None:
        """Queue one row for the next ``commit`` (nothing is written yet)."""
        self._rows.append((interval, kind.value, body))
        self._undo.append(undo)

    def commit(self) -> None:
        """Write every staged row and make it durable, or undo all of them and raise."""
        rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO journal (interval, kind, body) VALUES (?, ?, ?)", rows
                )
            except sqlite3.Error as exc:
                raise self._fail("journal a message", exc) from None
            faults.point("journal-commit")
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._fail("commit the journal", exc) from None
        except LedgerError:
            self.rollback()
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()
            raise
        self._undo.clear()

    def rollback(self) -> None:
        """Drop the open transaction (its undos are the caller's, see ``commit``)."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the failed statement may have rolled back already

    def entries(self) -> list[Entry]:
        """Every row, oldest first."""
        try:
            rows = self._db.execute("SELECT kind, interval, body FROM journal ORDER BY id")
            return [Entry(EntryKind(k), i, b) for k, i, b in rows]
        except sqlite3.Error as exc:
            raise LedgerError(
                f"could not read the journal of {self.path}: {exc}", code=STORAGE_FAILED
            ) from None

    def forget(self, interval: str, kind: EntryKind) -> None:
        """Drop an interval's rows of one kind once a block holds them. Best effort: a
        row left behind is recognised as stale by the next restart and dropped then."""
        try:
            self._db.execute(
                "DELETE FROM journal WHERE interval = ? AND kind = ?", (interval, kind.value)
            )
        except sqlite3.Error:
            pass

    def record(self, interval: str, body: str) -> None:
        """Journal a failure at once, in its own transaction (best effort: storage that
        is failing may not take the record either, and the caller logs it anyway)."""
        try:
            self.commit()
            self.stage(EntryKind.FAILURE, interval, body)
            self.commit()
        except LedgerError:
            pass

    def close(self) -> None:
        self.rollback()
        self._db.close()
