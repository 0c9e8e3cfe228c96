"""The PostgreSQL store against a real server: the ledger suites' checks, on PostgreSQL.

The same chain as the SQLite tests (``conftest.write_chain``) is written to a fresh
database per test; tampering, proofs and a killed writer are checked as
``test_tamper``, ``test_proofs`` and ``test_durability`` check the file. Skipped, with
the reason, only when no server can be started here (``pg_server``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voisin.cli.main import main
from voisin.errors import LedgerError, VerificationError
from voisin.ledger import verify_ledger
from voisin.ledger.proofs import check_proof, export_headers, prove
from voisin.ledger.store import open_store
from voisin.protocol import KeyPair, Participant

from .conftest import write_chain
from .pg_server import postgres_server
from .test_durability import _WRITER

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL server could be started: {exc}")


@pytest.fixture
def pg_url(server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test server."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def pg_chain(pg_url: str, operator: KeyPair, participants: list[Participant]) -> str:
    write_chain(pg_url, operator, participants)  # type: ignore[arg-type]
    return pg_url


def _sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(statement, params)


def _bad_height(url: str, **kwargs: object) -> int:
    with pytest.raises(VerificationError) as caught:
        verify_ledger(url, **kwargs)  # type: ignore[arg-type]
    assert caught.value.height is not None
    return caught.value.height


def test_the_same_chain_as_the_file(
    pg_chain: str, tmp_path: Path, operator: KeyPair, participants: list[Participant]
) -> None:
    """Same blocks, same stored text, same verification report as SQLite."""
    file = tmp_path / "ledger.sqlite"
    write_chain(file, operator, participants)
    on_pg, on_file = verify_ledger(pg_chain), verify_ledger(file)
    assert on_pg.height == on_file.height == 4
    assert on_pg.head_hash == on_file.head_hash
    assert on_pg.transactions == on_file.transactions
    with open_store(pg_chain, read_only=True) as a, open_store(file, read_only=True) as b:
        assert list(a.raw_blocks()) == [tuple(r) for r in b.raw_blocks()]
        assert list(a.raw_transactions()) == [tuple(r) for r in b.raw_transactions()]


@pytest.mark.parametrize(
    ("table", "column", "where"),
    [
        ("blocks", "header", "height = 2"),
        ("blocks", "signature", "height = 2"),
        ("blocks", "hash", "height = 2"),
        ("transactions", "body", "height = 2 AND idx = 2"),
        ("transactions", "kind", "height = 2 AND idx = 3"),
        ("transactions", "leaf_hash", "height = 2 AND idx = 0"),
    ],
)
def test_one_flipped_byte_names_its_block(
    pg_chain: str, table: str, column: str, where: str
) -> None:
    with psycopg.connect(pg_chain) as db:
        value = db.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()[0]
    for at in (0, len(value) // 2, len(value) - 1):
        data = bytearray(value.encode())
        data[at] ^= 1
        _sql(pg_chain, f"UPDATE {table} SET {column} = %s WHERE {where}", (data.decode(),))
        assert _bad_height(pg_chain) == 2, (column, at)
    _sql(pg_chain, f"UPDATE {table} SET {column} = %s WHERE {where}", (value,))
    assert verify_ledger(pg_chain).height == 4


def test_deleted_blocks_and_transactions_are_detected(pg_chain: str) -> None:
    head = verify_ledger(pg_chain).head_hash
    _sql(pg_chain, "DELETE FROM transactions WHERE height = 4")
    _sql(pg_chain, "DELETE FROM blocks WHERE height = 4")
    assert verify_ledger(pg_chain).height == 3
    assert _bad_height(pg_chain, head_hash=head) == 3
    _sql(pg_chain, "DELETE FROM transactions WHERE height = 3 AND idx = 1")
    assert _bad_height(pg_chain) == 3
    _sql(pg_chain, "DELETE FROM blocks WHERE height = 2")
    assert _bad_height(pg_chain) == 2


def test_every_transaction_proves_against_the_headers(pg_chain: str) -> None:
    headers = export_headers(pg_chain)
    with open_store(pg_chain, read_only=True) as store:
        rows = [(h, i) for h, i, *_ in store.raw_transactions()]
    assert len(rows) > 10
    for height, index in rows:
        report = check_proof(prove(pg_chain, height=height, index=index), headers)
        assert (report.height, report.index, report.chain_height) == (height, index, 4)
    by_hash = prove(pg_chain, leaf_hash=prove(pg_chain, height=2, index=5).leaf_hash)
    assert (by_hash.height, by_hash.index) == (2, 5)
    with pytest.raises(LedgerError, match="no transaction 99"):
        prove(pg_chain, height=2, index=99)


def test_the_wrong_operator_and_a_foreign_database_are_refused(pg_chain: str, server: str) -> None:
    from voisin.ledger import Ledger

    with pytest.raises(LedgerError, match="operated by key"):
        Ledger.open(pg_chain, KeyPair.derive("someone", "else"))
    _sql(server, "CREATE TABLE IF NOT EXISTS unrelated (x int)")
    with pytest.raises(LedgerError, match="not a voisin ledger"):
        open_store(server, read_only=True)
    with pytest.raises(LedgerError, match="cannot open ledger"):
        open_store(server.rsplit(":", 1)[0] + ":1/none")


def test_cli_verify_takes_a_database_url(pg_chain: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "verify", pg_chain]) == 0
    assert "4" in capsys.readouterr().out


def test_cli_show_and_statement_take_a_database_url(
    pg_chain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ledger show URL` lists the database's blocks and prints a member's statement;
    before it opened the URL as a file name (no-ledger at "postgresql:/...")."""
    assert main(["ledger", "show", pg_chain]) == 0
    out = capsys.readouterr().out
    with open_store(pg_chain, read_only=True) as store:
        hashes = [store.block(h).header.block_hash()[:12] for h in range(store.height() + 1)]
    assert all(h in out for h in hashes), out
    house = KeyPair.derive("test", "house")
    assert main(["ledger", "show", pg_chain, "--key", house.seed_hex]) == 0
    assert "sold to neighbours" in capsys.readouterr().out
    stranger = KeyPair.derive("test", "stranger")
    assert main(["ledger", "show", pg_chain, "--participant", stranger.public_hex]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"voisin: not-a-member: {stranger.public_hex[:16]}... is not a member")
    assert len(err.splitlines()) == 1


def test_killed_writer_loses_no_acknowledged_block(pg_url: str) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, pg_url], stdout=subprocess.PIPE, text=True, env=env
    )
    acknowledged = -1
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged = int(line)
            if acknowledged >= 15:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert acknowledged >= 15
    report = verify_ledger(pg_url)
    assert report.height >= acknowledged
    assert report.transactions == 2 + 200 * (report.height - 1)


@pytest.mark.slow
def test_simulate_verify_and_audit_on_postgresql(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A short simulated day kept in PostgreSQL verifies and re-clears byte for byte; a
    second run into the same database needs --overwrite."""
    run = ["simulate", "--ledger", pg_url, "--households", "3", "--minutes", "60"]
    run += ["--out", str(tmp_path), "--no-grid-check", "--quiet"]
    assert main(run) == 0
    assert not (tmp_path / "ledger.sqlite").exists()
    assert main(["ledger", "verify", pg_url]) == 0
    assert main(["audit", pg_url]) == 0
    capsys.readouterr()
    assert main(run) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*run, "--overwrite"]) == 0
