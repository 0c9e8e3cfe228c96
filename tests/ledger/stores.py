"""One ledger suite, two stores: where a test's ledger lives, and how a test edits the
stored rows behind the store's back (an attacker with write access to the storage).

The SQL is written once, with ``?`` placeholders; on PostgreSQL they become ``%s``.
Both stores have the same tables and columns (``ledger.store``, ``ledger.pg_store``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from voisin.ledger.store import is_database_url

BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class StoredLedger:
    """A ledger's location: a SQLite file's path or a ``postgresql://`` URL."""

    source: str

    @property
    def on_postgresql(self) -> bool:
        return is_database_url(self.source)

    def rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in its own committed transaction; its rows, if any."""
        if self.on_postgresql:
            import psycopg

            with psycopg.connect(self.source, autocommit=True) as db:
                cursor = db.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
                return list(cursor.fetchall()) if cursor.description else []
        db = sqlite3.connect(self.source)
        try:
            found = db.execute(statement, params).fetchall()
            db.commit()
            return found
        finally:
            db.close()

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        self.rows(statement, params)

    def value(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the statement's first row."""
        return self.rows(statement, params)[0][0]

    def drop_from(self, height: int) -> None:
        """Delete every block and transaction from ``height`` on (undo a test's append)."""
        self.sql("DELETE FROM transactions WHERE height >= ?", (height,))
        self.sql("DELETE FROM blocks WHERE height >= ?", (height,))

    def fail_transaction_inserts(self, message: str) -> None:
        """Make the storage refuse every new transaction row (a trigger), as a failing
        disk would halfway through a block."""
        if self.on_postgresql:
            self.sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
            )
            self.sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON transactions "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        else:
            self.sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON transactions "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )

    def heal(self) -> None:
        """Undo ``fail_transaction_inserts``."""
        self.sql("DROP TRIGGER refuse" + (" ON transactions" if self.on_postgresql else ""))
