"""The ledger in PostgreSQL (psycopg 3): the same blocks, rows and text as the SQLite file.

For operators that outgrow a file. The two tables are SQLite's (``store._SCHEMA``'s
columns), plus ``voisin_meta`` for what SQLite keeps in its header (application id and
schema version). Each block is one database transaction that first takes an exclusive
lock on ``blocks``, so two writers cannot both append the same height, and a block is
stored whole or not at all. PostgreSQL commits durably by default
(``synchronous_commit = on``, WAL flushed before COMMIT returns); the store refuses a
session where it is off. Headers and bodies are stored as their canonical JSON text
(``text`` columns, never ``jsonb``, which would re-encode them), so verification hashes
exactly what was signed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from voisin import faults
from voisin.errors import LedgerError
from voisin.ledger.store import (
    APPLICATION_ID,
    BLOCK_COLUMNS,
    SCHEMA_VERSION,
    TX_COLUMNS,
    EncodedBlock,
    RawBlock,
    RawTransaction,
    encode_block,
    stored_block,
    stored_position,
    typed_row,
    typed_rows,
    typed_value,
)
from voisin.protocol import Block

_SCHEMA = (
    "CREATE TABLE voisin_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE blocks (height BIGINT PRIMARY KEY, hash TEXT NOT NULL, "
    "header TEXT NOT NULL, signature TEXT NOT NULL)",
    "CREATE TABLE transactions (height BIGINT NOT NULL, idx INTEGER NOT NULL, "
    "kind TEXT NOT NULL, body TEXT NOT NULL, leaf_hash TEXT NOT NULL, "
    "PRIMARY KEY (height, idx))",
)


_SEARCH_PATH = "-csearch_path="


def _first_line(exc: psycopg.Error) -> str:
    """A server or libpq error as one line of a message (they run to several)."""
    return str(exc).strip().splitlines()[0]


def _conninfo(url: str) -> dict[str, Any]:
    """libpq's reading of ``url``; one that does not parse is one line that does not
    repeat it (psycopg's own message quotes the whole URL, password included)."""
    try:
        return psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        raise LedgerError(
            "a postgresql:// URL that libpq cannot parse "
            "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)",
            code="bad-ledger",
        ) from None


def redacted(url: str) -> str:
    """The URL without its password, for messages (with the schema it selects, if any)."""
    info = _conninfo(url)
    info.pop("password", None)
    port = f":{info['port']}" if info.get("port") else ""
    user, host, name = info.get("user", ""), info.get("host", ""), info.get("dbname", "")
    schema = schema_of(url)
    selected = f"?options={quote(_SEARCH_PATH + schema)}" if schema else ""
    return f"postgresql://{user}@{host}{port}/{name}{selected}"


def in_schema(url: str, schema: str) -> str:
    """``url`` with its ledger in ``schema`` of the same database: libpq's own
    ``options=-csearch_path=SCHEMA``, so the URL works with any PostgreSQL client and the
    store (which reads and writes ``current_schema()``) needs nothing else. Schema names
    are kept to lower-case letters, digits and ``_``, which need no quoting."""
    if not schema or not all(c.islower() or c.isdigit() or c == "_" for c in schema):
        raise LedgerError(f"{schema!r} is not a ledger schema name", code="bad-ledger")
    if schema_of(url) is not None or "options=" in url:
        raise LedgerError(f"{redacted(url)} already sets its options", code="bad-ledger")
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(_SEARCH_PATH + schema)}"


def schema_of(url: str) -> str | None:
    """The schema ``url`` selects with ``in_schema``'s option, None if it selects none."""
    options = _conninfo(url).get("options") or ""
    for option in str(options).split():
        if option.startswith(_SEARCH_PATH):
            return option[len(_SEARCH_PATH) :]
    return None


def ledger_schemas(url: str) -> list[str]:
    """The schemas of ``url``'s database that hold a voisin ledger, by name."""
    try:
        with psycopg.connect(url, autocommit=True) as db:
            rows = db.execute(
                "SELECT table_schema FROM information_schema.tables "
                "WHERE table_name = 'voisin_meta' ORDER BY table_schema"
            ).fetchall()
    except psycopg.Error as exc:
        raise LedgerError(
            f"cannot open {redacted(url)}: {_first_line(exc)}", code="no-ledger"
        ) from None
    return [str(row[0]) for row in rows]


def fresh_schemas(url: str, *, drop: Sequence[str], create: Sequence[str] = ()) -> None:
    """Drop the schemas ``drop`` with all they hold, then create ``create`` empty, in
    one transaction of ``url``'s database."""
    try:
        with psycopg.connect(url, autocommit=True) as db, db.transaction():
            for schema in drop:
                dropped = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                db.execute(dropped.format(sql.Identifier(schema)))
            for schema in create:
                db.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    except psycopg.Error as exc:
        raise LedgerError(
            f"cannot prepare {redacted(url)}: {_first_line(exc)}",
            code="write-failed",
        ) from None


class PostgresStore:
    """A ledger in one PostgreSQL database. ``height()`` is -1 before genesis."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.path = redacted(url)
        try:
            self._db = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise LedgerError(
                f"cannot open ledger {self.path}: {_first_line(exc)}",
                code="no-ledger" if read_only else "write-failed",
            ) from None
        try:
            self._prepare(read_only)
        except BaseException:
            self._db.close()
            raise

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self._run(sql, params).fetchone()
        return None if row is None else row[0]

    def _prepare(self, read_only: bool) -> None:
        tables = self._one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        has_meta = self._one(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = 'voisin_meta'"
        )
        if tables and not has_meta:
            raise LedgerError(
                f"{self.path} holds tables but not a voisin ledger", code="not-a-ledger"
            )
        if not tables:
            if read_only:
                raise LedgerError(f"{self.path} holds no ledger yet", code="no-ledger")
            with self._db.transaction():
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO voisin_meta VALUES ('application_id', %s), ('schema_version', %s)",
                    (str(APPLICATION_ID), str(SCHEMA_VERSION)),
                )
        meta = dict(self._run("SELECT key, value FROM voisin_meta").fetchall())
        if meta.get("application_id") != str(APPLICATION_ID):
            raise LedgerError(f"{self.path} is not a voisin ledger", code="not-a-ledger")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise LedgerError(
                f"{self.path} is a schema {meta.get('schema_version')} ledger; this voisin "
                f"reads schema {SCHEMA_VERSION} only",
                code="schema-version",
            )
        if read_only:
            self._db.execute("SET default_transaction_read_only = on")
        elif self._one("SHOW synchronous_commit") not in ("on", "remote_apply", "remote_write"):
            raise LedgerError(
                f"{self.path}: synchronous_commit is off; not safe to use", code="unsafe-storage"
            )

    # -- writing -------------------------------------------------------------------

    def append_block(self, block: Block) -> None:
        self.append_encoded(encode_block(block))

    def append_encoded(self, block: EncodedBlock) -> None:
        """Store one block in one database transaction; the next height only."""
        try:
            with self._db.transaction():
                self._db.execute("LOCK TABLE blocks IN EXCLUSIVE MODE")
                top = self._db.execute("SELECT max(height) FROM blocks").fetchone()
                expected = 0 if top is None or top[0] is None else int(top[0]) + 1
                if block.height != expected:
                    raise LedgerError(
                        f"block at height {block.height} but the next height is {expected}",
                        code="height-gap",
                    )
                self._db.execute(
                    "INSERT INTO blocks VALUES (%s, %s, %s, %s)",
                    (block.height, block.hash, block.header_json, block.signature),
                )
                with self._db.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO transactions VALUES (%s, %s, %s, %s, %s)",
                        block.numbered(),
                    )
                faults.point("block-write")
        except psycopg.Error as exc:
            raise LedgerError(
                f"could not store block {block.height} in {self.path}: {exc}", code="write-failed"
            ) from None

    # -- reading -------------------------------------------------------------------

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> psycopg.Cursor[Any]:
        for value in params:
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise LedgerError(
                    f"{value} is beyond any height or index in {self.path}", code="no-block"
                )
        try:
            return self._db.execute(sql, params)
        except psycopg.Error as exc:
            raise LedgerError(f"could not read {self.path}: {exc}", code="read-failed") from None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One REPEATABLE READ transaction. Without it each read sees the database as of
        its own statement, and a block whose commit lands between the read of the
        transactions and the read of the headers (a killed writer's last COMMIT still
        completes on the server) looks like a header with no transactions."""
        self._db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with self._db.transaction():
                yield
        except psycopg.Error as exc:
            raise LedgerError(f"could not read {self.path}: {exc}", code="read-failed") from None
        finally:
            self._db.isolation_level = None

    def height(self) -> int:
        top = self._one("SELECT max(height) FROM blocks")
        return -1 if top is None else int(top)

    def raw_blocks(self) -> Iterator[RawBlock]:
        return typed_rows(
            self._run(
                "SELECT height, hash, header, signature FROM blocks ORDER BY height"
            ).fetchall(),
            BLOCK_COLUMNS,
        )

    def raw_transactions(self) -> Iterator[RawTransaction]:
        cursor = self._db.cursor(name="voisin_transactions", withhold=True)  # streamed
        try:
            cursor.execute(
                "SELECT height, idx, kind, body, leaf_hash FROM transactions ORDER BY height, idx"
            )
        except psycopg.Error as exc:
            raise LedgerError(f"could not read {self.path}: {exc}", code="read-failed") from None
        return _streamed(self._db, cursor)

    def leaf_hashes(self, height: int) -> list[str]:
        rows = self._run(
            "SELECT leaf_hash FROM transactions WHERE height = %s ORDER BY idx", (height,)
        )
        return [typed_value(r[0], str, "leaf_hash", height) for r in rows]

    def raw_block(self, height: int) -> RawBlock:
        row = self._run(
            "SELECT height, hash, header, signature FROM blocks WHERE height = %s", (height,)
        ).fetchone()
        if row is None:
            raise LedgerError(f"no block at height {height} in {self.path}", code="no-block")
        return typed_row(row, BLOCK_COLUMNS)

    def raw_transaction(self, height: int, index: int) -> RawTransaction:
        row = self._run(
            "SELECT height, idx, kind, body, leaf_hash FROM transactions "
            "WHERE height = %s AND idx = %s",
            (height, index),
        ).fetchone()
        if row is None:
            raise LedgerError(f"block {height} has no transaction {index}", code="no-tx")
        return typed_row(row, TX_COLUMNS)

    def find_leaf(self, leaf_hash: str) -> tuple[int, int] | None:
        row = self._run(
            "SELECT height, idx FROM transactions WHERE leaf_hash = %s "
            "ORDER BY height, idx LIMIT 1",
            (leaf_hash.lower(),),
        ).fetchone()
        return None if row is None else stored_position(row)

    def block(self, height: int) -> Block:
        row = self._run(
            "SELECT header, signature FROM blocks WHERE height = %s", (height,)
        ).fetchone()
        if row is None:
            raise LedgerError(f"no block at height {height} in {self.path}", code="no-block")
        txs = self._run(
            "SELECT kind, body FROM transactions WHERE height = %s ORDER BY idx", (height,)
        ).fetchall()
        return stored_block(height, row[0], row[1], txs)

    def blocks(self) -> Iterator[Block]:
        for h in range(self.height() + 1):
            yield self.block(h)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _streamed(db: psycopg.Connection[Any], cursor: psycopg.Cursor[Any]) -> Iterator[RawTransaction]:
    """Rows of a named cursor in batches (a named cursor lives in a transaction)."""
    try:
        while batch := cursor.fetchmany(10_000):
            yield from typed_rows(batch, TX_COLUMNS)
    finally:
        cursor.close()


def claim_database(url: str, *, overwrite: bool) -> str:
    """``url``, ready for a new ledger: a database holding no voisin ledger, or one whose
    ledger ``overwrite`` allows dropping (``ledger-exists`` otherwise), as
    ``cli.outputs.claim_ledger`` does for a file."""
    where = redacted(url)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            found = db.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = 'voisin_meta'"
            ).fetchone()
            if found is not None and found[0]:
                if not overwrite:
                    raise LedgerError(
                        f"{where} already holds a ledger; pass --overwrite to replace it",
                        code="ledger-exists",
                    )
                with db.transaction():
                    for table in ("transactions", "blocks", "voisin_meta"):
                        db.execute(f"DROP TABLE IF EXISTS {table}")
    except psycopg.Error as exc:
        raise LedgerError(
            f"cannot open ledger {where}: {_first_line(exc)}", code="write-failed"
        ) from None
    return url
