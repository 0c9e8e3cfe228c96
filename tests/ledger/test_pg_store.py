"""The PostgreSQL store against a real server: the ledger suites' checks, on PostgreSQL.

What only PostgreSQL has: the same chain as the file, row for row; a foreign database;
the CLI and a simulated day on a URL. Tampering, proofs and killed writers run on both
stores in ``test_tamper``, ``test_proofs`` and ``test_durability`` (``stored_chain``,
``empty_ledger``). Skipped, with the reason, only when no server can be started here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voisin.cli.main import main
from voisin.errors import LedgerError
from voisin.ledger import verify_ledger
from voisin.ledger.store import open_store
from voisin.protocol import KeyPair, Participant

from .conftest import write_chain
from .stores import StoredLedger

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")


@pytest.fixture
def pg_chain(pg_url: str, operator: KeyPair, participants: list[Participant]) -> str:
    write_chain(pg_url, operator, participants)  # type: ignore[arg-type]
    return pg_url


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


def test_the_wrong_operator_and_a_foreign_database_are_refused(
    pg_chain: str, pg_server: str
) -> None:
    from voisin.ledger import Ledger

    with pytest.raises(LedgerError, match="operated by key"):
        Ledger.open(pg_chain, KeyPair.derive("someone", "else"))
    StoredLedger(pg_server).sql("CREATE TABLE IF NOT EXISTS unrelated (x int)")
    with pytest.raises(LedgerError, match="not a voisin ledger"):
        open_store(pg_server, read_only=True)
    with pytest.raises(LedgerError, match="cannot open ledger"):
        open_store(pg_server.rsplit(":", 1)[0] + ":1/none")


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
