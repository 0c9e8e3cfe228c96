"""Tampering with the stored bytes is caught, and the first bad block is named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from voisin.errors import VerificationError
from voisin.ledger import SqliteStore, verify_ledger
from voisin.ledger import transactions as tx
from voisin.ledger.chain import Ledger
from voisin.ledger.store import EncodedBlock
from voisin.protocol import BlockHeader, KeyPair, Transaction, TxKind, canonical_bytes, sha256_hex

from .conftest import append_unchecked


def _sql(path: Path, statement: str, params: tuple[object, ...] = ()) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute(statement, params)
        db.commit()
    finally:
        db.close()


def _flip(text: str, at: int) -> str:
    """Flip the lowest bit of one byte (ASCII stays ASCII)."""
    data = bytearray(text.encode("utf-8"))
    data[at] ^= 1
    return data.decode("utf-8")


def _bad_height(path: Path, **kwargs: object) -> int:
    with pytest.raises(VerificationError) as caught:
        verify_ledger(path, **kwargs)  # type: ignore[arg-type]
    assert caught.value.height is not None
    return caught.value.height


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
def test_one_flipped_byte_names_its_block(chain: Path, table: str, column: str, where: str) -> None:
    assert verify_ledger(chain).height == 4
    db = sqlite3.connect(chain)
    value = db.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()[0]
    db.close()
    for at in (0, len(value) // 2, len(value) - 1):
        _sql(chain, f"UPDATE {table} SET {column} = ? WHERE {where}", (_flip(value, at),))
        assert _bad_height(chain) == 2, (column, at)
    _sql(chain, f"UPDATE {table} SET {column} = ? WHERE {where}", (value,))
    assert verify_ledger(chain).height == 4


def test_deleted_block_is_detected(chain: Path) -> None:
    _sql(chain, "DELETE FROM blocks WHERE height = 2")
    assert _bad_height(chain) == 2


def test_deleted_last_block_leaves_orphans(chain: Path) -> None:
    _sql(chain, "DELETE FROM blocks WHERE height = 4")
    assert _bad_height(chain) == 4


def test_truncated_tail_needs_the_head_hash(chain: Path) -> None:
    head = verify_ledger(chain).head_hash
    _sql(chain, "DELETE FROM blocks WHERE height = 4")
    _sql(chain, "DELETE FROM transactions WHERE height = 4")
    assert verify_ledger(chain).height == 3  # a shorter chain is still a chain
    assert _bad_height(chain, head_hash=head) == 3


def test_deleted_or_added_transaction_is_detected(chain: Path) -> None:
    _sql(chain, "DELETE FROM transactions WHERE height = 3 AND idx = 1")
    assert _bad_height(chain) == 3


def test_swapped_blocks_are_detected(chain: Path) -> None:
    db = sqlite3.connect(chain)
    rows = {
        h: r
        for h, *r in db.execute(
            "SELECT height, hash, header, signature FROM blocks WHERE height IN (2, 3)"
        )
    }
    for height, other in ((2, 3), (3, 2)):
        db.execute(
            "UPDATE blocks SET hash = ?, header = ?, signature = ? WHERE height = ?",
            (*rows[other], height),
        )
    db.commit()
    db.close()
    assert _bad_height(chain) == 2


def _forge(chain: Path, forger: KeyPair, claimed_operator: str) -> None:
    with SqliteStore(chain) as store:
        head_json = next(r for r in store.raw_blocks() if r[0] == store.height())
        t = tx.transfer("fund", forger.public_hex, 10**9, "theft")
        body = t.canonical_body().decode()
        leaf = t.leaf_hash().hex()
        header = BlockHeader(
            height=5,
            prev_hash=head_json[1],
            merkle_root=leaf,
            interval=None,
            time="t",
            operator=claimed_operator,
            tx_count=1,
        )
        data = canonical_bytes(header)
        store.append_encoded(
            EncodedBlock(
                5, sha256_hex(data), data.decode(), forger.sign(data), (("transfer", body, leaf),)
            )
        )


def test_block_signed_by_another_key_is_detected(chain: Path) -> None:
    forger = KeyPair.derive("forger")
    _forge(chain, forger, forger.public_hex)
    with pytest.raises(VerificationError, match="genesis operator") as caught:
        verify_ledger(chain)
    assert caught.value.height == 5


def test_forged_signature_under_the_operator_name_is_detected(
    chain: Path, operator: KeyPair
) -> None:
    _forge(chain, KeyPair.derive("forger"), operator.public_hex)
    with pytest.raises(VerificationError, match="signature") as caught:
        verify_ledger(chain)
    assert caught.value.height == 5


def test_ledger_refuses_to_write_after_a_foreign_genesis(chain: Path) -> None:
    with pytest.raises(Exception, match="operated by"):
        Ledger.open(chain, KeyPair.derive("forger"))


def test_minting_outside_genesis_is_detected(chain: Path, operator: KeyPair) -> None:
    """Even the real operator cannot mint a second supply or transfer from 'genesis'."""
    db_copy = chain.read_bytes()
    height = append_unchecked(chain, operator, [tx.genesis("fund", 10**9)])
    with pytest.raises(VerificationError, match="genesis transaction outside block 0") as c:
        verify_ledger(chain)
    assert c.value.height == height
    chain.write_bytes(db_copy)
    sneaky = Transaction(
        kind=TxKind.TRANSFER,
        body={"sender": "genesis", "recipient": "fund", "amount_micro": 10**9, "memo": ""},
    )
    height = append_unchecked(chain, operator, [sneaky])
    with pytest.raises(VerificationError, match="only the genesis transaction mints") as c:
        verify_ledger(chain)
    assert c.value.height == height
