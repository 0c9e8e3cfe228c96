"""Block storage: a small interface (``LedgerStore``), its SQLite implementation, and
``open_store``, which picks the implementation from the source (a file path, or a
``postgresql://`` URL for ``ledger/pg_store.py``).

SQLite in WAL mode with ``synchronous=FULL`` and one database transaction per block:
once ``append_block`` returns, the block survives a killed process or a power cut, and a
block is either wholly stored or not at all. Headers and bodies are stored as their
canonical JSON text, so verification can hash exactly what was signed without
re-encoding through pydantic.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

from voisin import faults
from voisin.errors import LedgerError
from voisin.protocol import Block, BlockHeader, Transaction, canonical_bytes, sha256_hex
from voisin.protocol.blocks import tx_leaf_hash

APPLICATION_ID = 0x766F6973  # "vois": marks the file as a voisin ledger
SCHEMA_VERSION = 3
"""2: RFC 8785 canonical JSON, bids and market terms on the chain. 1: Python-float JSON."""
_SCHEMA_CHANGES = {
    1: "its JSON is Python's float form, not RFC 8785, and it records no bids",
    2: "it shows whole meter readings and member kinds and groups in clear",
}
_SYNCHRONOUS_FULL = 2
PAGE_SIZE = 16_384
"""Bytes per page of a new ledger file. A gate's block is a few hundred thousand rows of
300-500 bytes: inserting and committing the 210k rows of 100k bids took 0.58 CPU s at
4 KB pages, 0.48 s at 16 KB and 0.43 s at 64 KB. But each commit writes whole pages to
the write-ahead log, which is checkpointed every 1,000 pages: at 64 KB a ledger's log
grows to 64 MB (a city has one per feeder, open at once), and a day's small blocks
(about 100 rows each) took about 10 % more CPU and 25 % more wall time than at 4 or 16
KB. 16 KB keeps most of the big block's gain with neither cost (docs/performance.md,
round 6). An existing file keeps the page size it was made with."""

_SCHEMA = (
    "CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, "
    "header TEXT NOT NULL, signature TEXT NOT NULL)",
    "CREATE TABLE transactions (height INTEGER NOT NULL, idx INTEGER NOT NULL, "
    "kind TEXT NOT NULL, body TEXT NOT NULL, leaf_hash TEXT NOT NULL, "
    "PRIMARY KEY (height, idx)) WITHOUT ROWID",
)

TxRow = tuple[str, str, str]
"""A stored transaction: kind, canonical body JSON, leaf hash (hex)."""


@dataclass(frozen=True, slots=True)
class EncodedBlock:
    """A block as stored: canonical header text, its hash, signature and tx rows."""

    height: int
    hash: str
    header_json: str
    signature: str
    rows: Iterable[TxRow]
    """In chain order, read once by the store: the ledger hands a generator that turns
    each body into text as it is written, so a gate's block of a million bids is never
    held a second time as rows (docs/performance.md, close_gate)."""

    def numbered(self) -> Iterator[tuple[int, int, str, str, str]]:
        """(height, index, kind, body, leaf hash) per row, one at a time, as stored."""
        return ((self.height, i, *row) for i, row in enumerate(self.rows))


def encode_block(block: Block) -> EncodedBlock:
    header_json = canonical_bytes(block.header).decode("utf-8")
    rows = []
    for t in block.transactions:
        body = t.canonical_body()
        rows.append((t.kind.value, body.decode("utf-8"), tx_leaf_hash(t.kind.value, body).hex()))
    return EncodedBlock(
        block.header.height,
        sha256_hex(header_json.encode("utf-8")),
        header_json,
        block.signature,
        tuple(rows),
    )


RawBlock = tuple[int, str, str, str]
"""A stored block row: height, hash (hex), canonical header JSON, signature (hex)."""
RawTransaction = tuple[int, int, str, str, str]
"""A stored transaction row: height, index, kind, canonical body JSON, leaf hash (hex)."""

BLOCK_COLUMNS = (("height", int), ("hash", str), ("header", str), ("signature", str))
TX_COLUMNS = (("height", int), ("idx", int), ("kind", str), ("body", str), ("leaf_hash", str))
"""Each stored column and the Python type its value must have when read. SQLite keeps
any value in any column (`update transactions set body = cast(body as blob)` stores
bytes), and a PostgreSQL column's type can be altered; a value of another type is an
edit like any other, not a crash further on ('bytes' object has no attribute 'encode')."""


class ColumnTypeError(LedgerError):
    """A stored value is not of its column's type; ``height`` and ``index`` (None for a
    block row) say where, so verification reports it as a finding there."""

    code = "column-type"

    def __init__(
        self, column: str, value: object, kind: type, height: object, index: object = None
    ) -> None:
        self.height = height if type(height) is int else -1
        self.index = index if type(index) is int else None
        self.detail = f"stored {column} is {type(value).__name__}, not {kind.__name__}"
        where = f"block {height}" + ("" if index is None else f", transaction {index}")
        super().__init__(f"{where}: {self.detail}")


def typed_row(row: Sequence[object], columns: tuple[tuple[str, type], ...]) -> tuple[Any, ...]:
    """``row`` as a tuple once every value has its column's exact type (a bool is no
    int), else ``ColumnTypeError`` naming the first column that has not."""
    for (name, kind), value in zip(columns, row, strict=True):
        if type(value) is not kind:
            raise ColumnTypeError(name, value, kind, row[0], row[1] if len(row) == 5 else None)
    return tuple(row)


def typed_rows(
    rows: Iterable[Sequence[object]], columns: tuple[tuple[str, type], ...]
) -> Iterator[tuple[Any, ...]]:
    """``typed_row`` of each row, as they are read."""
    for row in rows:
        yield typed_row(row, columns)


def typed_value(value: object, kind: type, column: str, height: int) -> Any:
    """One stored ``value`` of block ``height`` checked as ``typed_row`` checks a row's."""
    if type(value) is not kind:
        raise ColumnTypeError(column, value, kind, height)
    return value


class LedgerStore(Protocol):
    """What the chain and the verifier need from storage.

    Blocks are appended whole or not at all, at the next height only. The raw readers
    return exactly the stored text, so verification hashes what was signed.
    """

    @property
    def path(self) -> str | Path:
        """Where the ledger is, for messages: a file, or a database URL without password."""
        ...

    def append_block(self, block: Block) -> None: ...
    def append_encoded(self, block: EncodedBlock) -> None: ...
    def block(self, height: int) -> Block: ...
    def blocks(self) -> Iterator[Block]: ...
    def height(self) -> int: ...
    def raw_blocks(self) -> Iterator[RawBlock]: ...
    def raw_transactions(self) -> Iterator[RawTransaction]: ...
    def leaf_hashes(self, height: int) -> list[str]: ...
    def raw_block(self, height: int) -> RawBlock: ...
    def raw_transaction(self, height: int, index: int) -> RawTransaction: ...
    def find_leaf(self, leaf_hash: str) -> tuple[int, int] | None: ...
    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one committed state, whatever a writer commits meanwhile."""
        ...

    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def stored_block(
    height: int, header_json: object, signature: object, txs: Iterable[Sequence[object]]
) -> Block:
    """Block ``height`` from its stored header, signature and (kind, body) rows in
    order: the one decoding every store shares, each value type-checked first."""
    header = typed_value(header_json, str, "header", height)
    rows = [
        (typed_value(k, str, "kind", height), typed_value(b, str, "body", height)) for k, b in txs
    ]
    return Block(
        header=BlockHeader.model_validate_json(header),
        signature=typed_value(signature, str, "signature", height),
        transactions=tuple(Transaction(kind=k, body=json.loads(b)) for k, b in rows),
    )


def stored_position(row: Sequence[object]) -> tuple[int, int]:
    """(height, index) of a found transaction, type-checked."""
    height, index = typed_row(row, TX_COLUMNS[:2])
    return height, index


def sqlite_files(path: Path) -> tuple[Path, Path, Path]:
    """A SQLite ledger's files: the database and its write-ahead log and shared-memory
    companions, which go with it when it is replaced."""
    return path, Path(f"{path}-wal"), Path(f"{path}-shm")


def is_database_url(source: object) -> bool:
    """Whether ``source`` names a PostgreSQL database rather than a file."""
    return isinstance(source, str) and source.startswith(POSTGRES_SCHEMES)


def open_store(source: str | Path, *, read_only: bool = False) -> LedgerStore:
    """The store behind ``source``: a PostgreSQL database for a ``postgresql://`` URL,
    else an SQLite file."""
    if is_database_url(source):
        from voisin.ledger.pg_store import PostgresStore  # psycopg only when asked for

        database: LedgerStore = PostgresStore(str(source), read_only=read_only)
        return database
    return SqliteStore(source, read_only=read_only)


def _on_read_only_file_system(path: Path) -> bool:
    """Whether ``path`` (or the folder it would be created in) is on a read-only mount."""
    where = path if path.exists() else path.parent
    try:
        return bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except OSError:
        return False


class SqliteStore:
    """A ledger file. ``height()`` is -1 for a fresh file with no blocks yet."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise LedgerError(f"no ledger at {self.path}", code="no-ledger")
        frozen = _on_read_only_file_system(self.path)
        self._immutable = read_only and frozen
        if not read_only and (frozen or (self.path.exists() and not os.access(self.path, os.W_OK))):
            raise LedgerError(
                f"{self.path} cannot be written ("
                f"{'read-only file system' if frozen else 'no write permission'})"
                "; the operator must write its ledger",
                code="read-only-ledger",
            )
        wal = sqlite_files(self.path)[1]
        if self._immutable and wal.exists() and wal.stat().st_size:
            raise LedgerError(
                f"{self.path} has blocks still in its write-ahead log, which a "
                "read-only file system cannot fold in; copy the file and its "
                "-wal to a writable place",
                code="read-only-ledger",
            )
        try:
            if read_only and frozen:
                # Nothing can write a read-only file system, so SQLite may read the file
                # as immutable (no -shm to create, no locks to take).
                self._db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro&immutable=1",
                    uri=True,
                    isolation_level=None,
                )
            elif read_only:
                # mode=rw (never create) plus query_only: no writes, yet the last reader
                # to close still removes the -wal/-shm files; mode=ro would leave them.
                self._db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None
                )
                self._db.execute("PRAGMA query_only=ON")
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from None
        try:
            self._prepare(read_only)
        except sqlite3.Error as exc:
            self._db.close()
            raise LedgerError(
                f"{self.path} is not a voisin ledger ({exc})", code="not-a-ledger"
            ) from None
        except LedgerError:
            self._db.close()
            raise

    def _pragma(self, name: str) -> object:
        return self._db.execute(f"PRAGMA {name}").fetchone()[0]

    def _prepare(self, read_only: bool) -> None:
        app_id = self._pragma("application_id")
        tables = self._db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        fresh = app_id == 0 and tables == 0
        if not fresh and app_id != APPLICATION_ID:
            raise LedgerError(
                f"{self.path} is an SQLite file but not a voisin ledger", code="not-a-ledger"
            )
        if fresh and read_only:
            raise LedgerError(f"{self.path} holds no ledger yet", code="no-ledger")
        if fresh:  # before WAL mode: a file's page size is fixed once it has a header
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        if not read_only:
            self._db.execute("PRAGMA journal_mode=WAL")
        if not self._immutable:  # an immutable reader writes nothing, so syncs nothing
            if self._pragma("journal_mode") != "wal":
                raise LedgerError(
                    f"{self.path}: SQLite refused WAL journaling; not safe to use",
                    code="unsafe-storage",
                )
            self._db.execute("PRAGMA synchronous=FULL")
            if self._pragma("synchronous") != _SYNCHRONOUS_FULL:
                raise LedgerError(
                    f"{self.path}: SQLite refused synchronous=FULL; not safe to use",
                    code="unsafe-storage",
                )
        if fresh:
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        version = self._pragma("user_version")
        if version != SCHEMA_VERSION:
            why = _SCHEMA_CHANGES.get(version, "an unknown layout")  # type: ignore[call-overload]
            raise LedgerError(
                f"{self.path} is a schema {version} ledger ({why}); this voisin "
                f"reads schema {SCHEMA_VERSION} only: write a new ledger with "
                "`voisin simulate` or `voisin up`",
                code="schema-version",
            )

    def pragma(self, name: str) -> object:
        """Read one PRAGMA (for tests and diagnostics)."""
        return self._pragma(name)

    # -- writing -------------------------------------------------------------------

    def append_block(self, block: Block) -> None:
        self.append_encoded(encode_block(block))

    def append_encoded(self, block: EncodedBlock) -> None:
        """Store one block in one database transaction; the next height only."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            top = db.execute("SELECT max(height) FROM blocks").fetchone()[0]
            expected = 0 if top is None else top + 1
            if block.height != expected:
                raise LedgerError(
                    f"block at height {block.height} but the next height is {expected}",
                    code="height-gap",
                )
            db.execute(
                "INSERT INTO blocks VALUES (?, ?, ?, ?)",
                (block.height, block.hash, block.header_json, block.signature),
            )
            db.executemany(
                "INSERT INTO transactions VALUES (?, ?, ?, ?, ?)",
                block.numbered(),
            )
            faults.point("block-write")
            db.execute("COMMIT")
        except (sqlite3.Error, LedgerError) as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, LedgerError):
                raise
            raise LedgerError(
                f"could not store block {block.height} in {self.path}: {exc}", code="write-failed"
            ) from None

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (for copying or comparing files)."""
        self._run("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reading -------------------------------------------------------------------

    def _run(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        for value in params:
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise LedgerError(
                    f"{value} is beyond any height or index in {self.path}", code="no-block"
                )
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise LedgerError(f"could not read {self.path}: {exc}", code="read-failed") from None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: in WAL mode it reads the file as it was when it began."""
        self._run("BEGIN")
        try:
            yield
        finally:
            if self._db.in_transaction:
                self._db.rollback()

    def height(self) -> int:
        top = self._run("SELECT max(height) FROM blocks").fetchone()[0]
        return -1 if top is None else int(top)

    def raw_blocks(self) -> Iterator[RawBlock]:
        """(height, hash, header JSON, signature) in height order, as stored."""
        return typed_rows(
            self._run("SELECT height, hash, header, signature FROM blocks ORDER BY height"),
            BLOCK_COLUMNS,
        )

    def raw_transactions(self) -> Iterator[RawTransaction]:
        """(height, idx, kind, body JSON, leaf hash) in (height, idx) order, as stored."""
        return typed_rows(
            self._run(
                "SELECT height, idx, kind, body, leaf_hash FROM transactions ORDER BY height, idx"
            ),
            TX_COLUMNS,
        )

    def leaf_hashes(self, height: int) -> list[str]:
        """Stored leaf hashes of one block, in order (for inclusion proofs)."""
        return [
            typed_value(r[0], str, "leaf_hash", height)
            for r in self._run(
                "SELECT leaf_hash FROM transactions WHERE height = ? ORDER BY idx", (height,)
            )
        ]

    def raw_block(self, height: int) -> RawBlock:
        """One stored block row, as :meth:`raw_blocks` yields it."""
        row = self._run(
            "SELECT height, hash, header, signature FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        if row is None:
            raise LedgerError(f"no block at height {height} in {self.path}", code="no-block")
        block: RawBlock = typed_row(row, BLOCK_COLUMNS)
        return block

    def raw_transaction(self, height: int, index: int) -> RawTransaction:
        """One stored transaction row, as :meth:`raw_transactions` yields it."""
        row = self._run(
            "SELECT height, idx, kind, body, leaf_hash FROM transactions "
            "WHERE height = ? AND idx = ?",
            (height, index),
        ).fetchone()
        if row is None:
            raise LedgerError(f"block {height} has no transaction {index}", code="no-tx")
        tx: RawTransaction = typed_row(row, TX_COLUMNS)
        return tx

    def find_leaf(self, leaf_hash: str) -> tuple[int, int] | None:
        """(height, index) of the first transaction with this leaf hash (hex), if any.

        A full scan (no index, to keep the schema at version 1): about a second per
        few million transactions, fine for a household asking for one proof.
        """
        row = self._run(
            "SELECT height, idx FROM transactions WHERE leaf_hash = ? ORDER BY height, idx LIMIT 1",
            (leaf_hash.lower(),),
        ).fetchone()
        return None if row is None else stored_position(row)

    def block(self, height: int) -> Block:
        row = self._run(
            "SELECT header, signature FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        if row is None:
            raise LedgerError(f"no block at height {height} in {self.path}", code="no-block")
        txs = self._run(
            "SELECT kind, body FROM transactions WHERE height = ? ORDER BY idx", (height,)
        )
        return stored_block(height, row[0], row[1], txs)

    def blocks(self) -> Iterator[Block]:
        for h in range(self.height() + 1):
            yield self.block(h)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
