"""A block's leaves made in bulk are the leaves made one at a time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voisin.protocol.blocks import EncodedTransaction, TxKind, tx_leaf_hash, tx_leaf_hashes

bodies = st.lists(st.binary(max_size=64), max_size=20)


@given(bodies, st.sampled_from([*TxKind, "not-a-kind"]))
def test_leaf_hashes_in_bulk_are_each_leaf_hash(items: list[bytes], kind: str) -> None:
    assert tx_leaf_hashes(kind, items) == [tx_leaf_hash(kind, body) for body in items]


@given(bodies)
def test_many_is_of_each(items: list[bytes]) -> None:
    decoded = [{"n": k} for k in range(len(items))]
    assert EncodedTransaction.many(TxKind.TRADE, items) == [
        EncodedTransaction.of(TxKind.TRADE, body) for body in items
    ]
    assert EncodedTransaction.many(TxKind.TRANSFER, items, decoded) == [
        EncodedTransaction.of(TxKind.TRANSFER, body, data)
        for body, data in zip(items, decoded, strict=True)
    ]
