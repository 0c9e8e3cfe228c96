"""A real chain, append, reopen, prove, refuse, verify: on a SQLite file and on a
PostgreSQL database (``stored_chain``, ``empty_ledger``), except what only a file has."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from voisin.errors import InvalidInput, LedgerError
from voisin.ledger import Ledger, SqliteStore, merkle, verify_ledger
from voisin.ledger import transactions as tx
from voisin.ledger.chain import GENESIS_PREV_HASH
from voisin.ledger.store import SCHEMA_VERSION, open_store
from voisin.protocol import KeyPair, Participant, Transaction, TxKind, canonical_bytes, verify

from .conftest import ALLOWANCE_MICRO, FUND, write_chain
from .stores import StoredLedger


def test_chain_verifies_and_links(
    empty_ledger: StoredLedger, operator: KeyPair, participants: list[Participant]
) -> None:
    path = empty_ledger.source
    blocks = write_chain(path, operator, participants)
    head = blocks[-1].header.block_hash()
    report = verify_ledger(path, operator=operator.public_hex, head_hash=head)
    assert (report.height, report.blocks) == (4, 5)
    assert report.transactions == sum(b.header.tx_count for b in blocks) == 23
    assert report.supply_micro == report.genesis_micro + report.minted_micro
    assert report.minted_micro == 30_000  # 3 kWh proven p2p at 0.01 token/kWh
    assert blocks[0].header.prev_hash == GENESIS_PREV_HASH
    assert blocks[0].transactions[0].body["recipient"] == FUND
    for before, after in zip(blocks, blocks[1:], strict=False):
        assert after.header.prev_hash == before.header.block_hash()
    with open_store(path, read_only=True) as store:
        for block in blocks:
            stored = store.block(block.header.height)
            assert stored == block
            head = bytes.fromhex(stored.header.merkle_root)
            assert head == merkle.root([t.leaf_bytes() for t in stored.transactions])
            assert verify(operator.public_hex, canonical_bytes(stored.header), stored.signature)


def test_leaf_bytes_match_protocol(participants: list[Participant]) -> None:
    t = tx.registration(participants[0])
    assert t.leaf_bytes() == canonical_bytes({"kind": t.kind.value, "body": t.body})
    assert t.leaf_hash() == merkle.leaf_hash(t.leaf_bytes())


def test_sqlite_is_durable(chain: Path) -> None:
    with SqliteStore(chain) as store:
        assert store.pragma("journal_mode") == "wal"
        assert store.pragma("synchronous") == 2
        assert store.pragma("user_version") == SCHEMA_VERSION == 3
    raw = sqlite3.connect(chain)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_reopen_resumes_and_checks_operator(
    stored_chain: StoredLedger, operator: KeyPair, participants: list[Participant]
) -> None:
    chain = stored_chain.source
    house, school, shop = (p.participant_id for p in participants)
    with Ledger.open(chain, operator) as ledger:
        assert ledger.height == 4
        assert ledger.fund == FUND
        book = ledger.tokens
        assert book.balance(shop) == ALLOWANCE_MICRO + 1_000_000
        assert book.balance(house) == ALLOWANCE_MICRO + 150_000 + 30_000
        block = ledger.append(
            [tx.transfer(house, school, 5)], interval=None, time="2026-06-23T00:00:00+00:00"
        )
        assert block.header.height == 5
    assert verify_ledger(chain).height == 5
    with pytest.raises(LedgerError, match="operated by"):
        Ledger.open(chain, KeyPair.derive("someone else"))


def test_inclusion_proof_with_headers_only(stored_chain: StoredLedger, operator: KeyPair) -> None:
    chain = stored_chain.source
    with Ledger.open(chain, operator) as ledger:
        block = ledger.block(2)
        index = next(i for i, t in enumerate(block.transactions) if t.kind is TxKind.TRADE)
        proof = ledger.inclusion_proof(2, index)
    leaf = merkle.leaf_hash(block.transactions[index].leaf_bytes())
    assert merkle.verify_inclusion(
        leaf, index, block.header.tx_count, proof, bytes.fromhex(block.header.merkle_root)
    )


def test_overdraft_writes_nothing(
    stored_chain: StoredLedger, operator: KeyPair, participants: list[Participant]
) -> None:
    chain = stored_chain.source
    shop, school = participants[2].participant_id, participants[1].participant_id
    with Ledger.open(chain, operator) as ledger:
        with pytest.raises(LedgerError, match="overdraft") as caught:
            ledger.append(
                [tx.transfer(shop, school, 10**12)], interval=None, time="2026-06-23T00:00:00+00:00"
            )
        assert caught.value.code == "overdraft"
        assert ledger.height == 4
    assert verify_ledger(chain).height == 4


def test_bad_bodies_and_amounts_refused(stored_chain: StoredLedger, operator: KeyPair) -> None:
    chain = stored_chain.source
    with pytest.raises(InvalidInput):
        tx.transfer("a", "b", 1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        tx.transfer("a", "b", 0)
    with pytest.raises(InvalidInput):
        tx.transfer("a", "a", 1)
    nan = Transaction(kind=TxKind.CONTRACT, body={"x": float("nan")})
    with Ledger.open(chain, operator) as ledger, pytest.raises(InvalidInput, match="JSON"):
        ledger.append([nan], interval=None, time="2026-06-23T00:00:00+00:00")


def test_non_ledger_files_are_refused(tmp_path: Path, operator: KeyPair) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all" * 100)
    with pytest.raises(LedgerError, match="not a voisin ledger"):
        SqliteStore(text)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="not a voisin ledger"):
        Ledger.open(other, operator)
    with pytest.raises(LedgerError, match="no ledger"):
        verify_ledger(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def test_storage_that_cannot_be_durable_is_refused() -> None:
    with pytest.raises(LedgerError, match="WAL") as caught:
        SqliteStore(":memory:")
    assert caught.value.code == "unsafe-storage"


def test_failed_write_rolls_back_the_whole_block(
    stored_chain: StoredLedger, operator: KeyPair
) -> None:
    chain = stored_chain.source
    stored_chain.fail_transaction_inserts("disk on fire")
    with Ledger.open(chain, operator) as ledger:
        with pytest.raises(LedgerError, match="could not store block 5.*disk on fire") as caught:
            ledger.append(
                [tx.transfer(FUND, "x", 1)], interval=None, time="2026-06-23T00:00:00+00:00"
            )
        assert caught.value.code == "write-failed"
        assert ledger.height == 4
    assert stored_chain.value("SELECT max(height) FROM blocks") == 4  # no half block
    stored_chain.heal()
    with Ledger.open(chain, operator) as ledger:
        ledger.append([tx.transfer(FUND, "x", 1)], interval=None, time="2026-06-23T00:00:00+00:00")
    assert verify_ledger(chain).height == 5


def test_store_accepts_only_the_next_height(stored_chain: StoredLedger, operator: KeyPair) -> None:
    chain = stored_chain.source
    with open_store(chain) as store:
        block = store.block(4)
        with pytest.raises(LedgerError, match="next height is 5") as caught:
            store.append_block(block)
        assert caught.value.code == "height-gap"
        assert store.height() == 4


def test_a_full_disk_stops_acknowledgements_at_once(chain: Path, operator: KeyPair) -> None:
    store = SqliteStore(chain)
    pages = int(store.pragma("page_count"))  # type: ignore[call-overload]
    store.pragma(f"max_page_count={pages}")  # SQLite's own "database or disk is full"
    big = [tx.transfer(FUND, f"acct-{i}", 1, "x" * 200) for i in range(2000)]
    with Ledger.open(store, operator) as ledger:
        with pytest.raises(LedgerError, match="full") as caught:
            ledger.append(big, interval=None, time="2026-06-23T00:00:00+00:00")
        assert caught.value.code == "write-failed"
        with pytest.raises(LedgerError, match="stopped after a failed write") as stopped:
            ledger.append(
                [tx.transfer(FUND, "x", 1)], interval=None, time="2026-06-23T00:00:00+00:00"
            )
        assert stopped.value.code == "stopped"
        assert ledger.height == 4
    assert verify_ledger(chain).height == 4
    with Ledger.open(chain, operator) as ledger:
        ledger.append(big, interval=None, time="2026-06-23T00:00:00+00:00")
    assert verify_ledger(chain).height == 5
