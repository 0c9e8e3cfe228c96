"""Tampering with the stored bytes is caught, and the first bad block is named: on a
SQLite file and on a PostgreSQL database alike (``stored_chain`` runs each test on both)."""

from __future__ import annotations

import pytest

from voisin.errors import VerificationError
from voisin.ledger import transactions as tx
from voisin.ledger import verify_ledger
from voisin.ledger.chain import Ledger
from voisin.ledger.store import EncodedBlock, open_store
from voisin.protocol import BlockHeader, KeyPair, Transaction, TxKind, canonical_bytes, sha256_hex

from .conftest import append_unchecked
from .stores import StoredLedger


def _flip(text: str, at: int) -> str:
    """Flip the lowest bit of one byte (ASCII stays ASCII)."""
    data = bytearray(text.encode("utf-8"))
    data[at] ^= 1
    return data.decode("utf-8")


def _bad_height(chain: StoredLedger, **kwargs: object) -> int:
    with pytest.raises(VerificationError) as caught:
        verify_ledger(chain.source, **kwargs)  # type: ignore[arg-type]
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
def test_one_flipped_byte_names_its_block(
    stored_chain: StoredLedger, table: str, column: str, where: str
) -> None:
    chain = stored_chain
    assert verify_ledger(chain.source).height == 4
    value = chain.value(f"SELECT {column} FROM {table} WHERE {where}")
    for at in (0, len(value) // 2, len(value) - 1):
        chain.sql(f"UPDATE {table} SET {column} = ? WHERE {where}", (_flip(value, at),))
        assert _bad_height(chain) == 2, (column, at)
    chain.sql(f"UPDATE {table} SET {column} = ? WHERE {where}", (value,))
    assert verify_ledger(chain.source).height == 4


def test_deleted_block_is_detected(stored_chain: StoredLedger) -> None:
    chain = stored_chain
    chain.sql("DELETE FROM blocks WHERE height = 2")
    assert _bad_height(chain) == 2


def test_deleted_last_block_leaves_orphans(stored_chain: StoredLedger) -> None:
    chain = stored_chain
    chain.sql("DELETE FROM blocks WHERE height = 4")
    assert _bad_height(chain) == 4


def test_truncated_tail_needs_the_head_hash(stored_chain: StoredLedger) -> None:
    chain = stored_chain
    head = verify_ledger(chain.source).head_hash
    chain.sql("DELETE FROM blocks WHERE height = 4")
    chain.sql("DELETE FROM transactions WHERE height = 4")
    assert verify_ledger(chain.source).height == 3  # a shorter chain is still a chain
    assert _bad_height(chain, head_hash=head) == 3


def test_deleted_or_added_transaction_is_detected(stored_chain: StoredLedger) -> None:
    chain = stored_chain
    chain.sql("DELETE FROM transactions WHERE height = 3 AND idx = 1")
    assert _bad_height(chain) == 3


def test_swapped_blocks_are_detected(stored_chain: StoredLedger) -> None:
    chain = stored_chain
    rows = {
        h: r
        for h, *r in chain.rows(
            "SELECT height, hash, header, signature FROM blocks WHERE height IN (2, 3)"
        )
    }
    for height, other in ((2, 3), (3, 2)):
        chain.sql(
            "UPDATE blocks SET hash = ?, header = ?, signature = ? WHERE height = ?",
            (*rows[other], height),
        )
    assert _bad_height(chain) == 2


def _forge(chain: StoredLedger, forger: KeyPair, claimed_operator: str) -> None:
    with open_store(chain.source) as store:
        head_json = next(r for r in store.raw_blocks() if r[0] == store.height())
        t = tx.transfer("fund", forger.public_hex, 10**9, "theft")
        body = t.canonical_body().decode()
        leaf = t.leaf_hash().hex()
        header = BlockHeader(
            height=5,
            prev_hash=head_json[1],
            merkle_root=leaf,
            interval=None,
            time="2026-06-23T00:00:00+00:00",
            operator=claimed_operator,
            tx_count=1,
        )
        data = canonical_bytes(header)
        store.append_encoded(
            EncodedBlock(
                5, sha256_hex(data), data.decode(), forger.sign(data), (("transfer", body, leaf),)
            )
        )


def test_block_signed_by_another_key_is_detected(stored_chain: StoredLedger) -> None:
    chain = stored_chain
    forger = KeyPair.derive("forger")
    _forge(chain, forger, forger.public_hex)
    with pytest.raises(VerificationError, match="genesis operator") as caught:
        verify_ledger(chain.source)
    assert caught.value.height == 5


def test_forged_signature_under_the_operator_name_is_detected(
    stored_chain: StoredLedger, operator: KeyPair
) -> None:
    chain = stored_chain
    _forge(chain, KeyPair.derive("forger"), operator.public_hex)
    with pytest.raises(VerificationError, match="signature") as caught:
        verify_ledger(chain.source)
    assert caught.value.height == 5


def test_ledger_refuses_to_write_after_a_foreign_genesis(stored_chain: StoredLedger) -> None:
    chain = stored_chain
    with pytest.raises(Exception, match="operated by"):
        Ledger.open(chain.source, KeyPair.derive("forger"))


def test_minting_outside_genesis_is_detected(stored_chain: StoredLedger, operator: KeyPair) -> None:
    chain = stored_chain
    """Even the real operator cannot mint a second supply or transfer from 'genesis'."""
    height = append_unchecked(chain.source, operator, [tx.genesis("fund", 10**9)])
    with pytest.raises(VerificationError, match="genesis transaction outside block 0") as c:
        verify_ledger(chain.source)
    assert c.value.height == height
    chain.drop_from(height)
    assert verify_ledger(chain.source).height == height - 1
    sneaky = Transaction(
        kind=TxKind.TRANSFER,
        body={"sender": "genesis", "recipient": "fund", "amount_micro": 10**9, "memo": ""},
    )
    height = append_unchecked(chain.source, operator, [sneaky])
    with pytest.raises(VerificationError, match="only the genesis transaction mints") as c:
        verify_ledger(chain.source)
    assert c.value.height == height
