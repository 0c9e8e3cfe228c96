"""Transaction builders: bodies are plain canonical JSON with the documented fields."""

from __future__ import annotations

import json

import pytest

from voisin.errors import InvalidInput
from voisin.ledger import transactions as tx
from voisin.protocol import (
    Bid,
    KeyPair,
    Participant,
    Segment,
    Side,
    Transaction,
    TxKind,
    canonical_bytes,
    merkle,
)
from voisin.protocol.blocks import tx_leaf_bytes

from .conftest import INTERVAL, sample_readings, sample_trades


def _bid(bid_id: str, side: Side, kwh: float, interval: str = INTERVAL) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant="p",
        bus="b1",
        interval=interval,
        side=side,
        segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=0.2),),
    )


def _round_trips(t: Transaction) -> None:
    """The body survives canonical JSON unchanged, so stored rows rebuild the same leaf."""
    data = canonical_bytes(t.body)
    assert json.loads(data) == t.body
    assert tx_leaf_bytes(t.kind.value, data) == canonical_bytes(t) == t.leaf_bytes()


def test_bid_digest_commits_to_sorted_bids() -> None:
    bids = [_bid("b", Side.SELL, 2.0), _bid("a", Side.BUY, 1.5), _bid("c", Side.BUY, 0.5)]
    digest = tx.bid_digest(bids)
    assert digest.kind is TxKind.BID_DIGEST
    assert digest.body["interval"] == INTERVAL
    assert (digest.body["bid_count"], digest.body["buy_kwh"], digest.body["sell_kwh"]) == (
        3,
        2.0,
        2.0,
    )
    ordered = sorted(bids, key=lambda b: b.bid_id)
    assert digest.body["bids_root"] == merkle.root([canonical_bytes(b) for b in ordered]).hex()
    assert tx.bid_digest(list(reversed(bids))) == digest
    assert tx.bid_digest([], interval=INTERVAL).body["bids_root"] == merkle.EMPTY_ROOT.hex()
    with pytest.raises(InvalidInput, match="mixes intervals"):
        tx.bid_digest([_bid("a", Side.BUY, 1.0), _bid("b", Side.BUY, 1.0, "2026-06-21T12:15Z")])
    _round_trips(digest)


def test_every_builder_round_trips(participants: list[Participant]) -> None:
    trades = sample_trades(participants)
    built = [
        tx.genesis("fund", 10),
        tx.registration(participants[0]),
        tx.trade(trades[0]),
        tx.reading(sample_readings(participants)[0]),
        tx.transfer("a", "b", 7, "memo ünicode"),
        tx.reward("a", 3, 0.3, INTERVAL),
    ]
    assert [t.kind for t in built] == [
        TxKind.GENESIS,
        TxKind.REGISTRATION,
        TxKind.TRADE,
        TxKind.READING,
        TxKind.TRANSFER,
        TxKind.REWARD,
    ]
    assert built[2].body == trades[0].model_dump(mode="json")
    for t in built:
        _round_trips(t)


def test_account_ids_must_be_strings() -> None:
    with pytest.raises(InvalidInput, match="account id"):
        tx.genesis(KeyPair.derive("fund"), 10)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="only the genesis block"):
        tx.transfer(tx.GENESIS_SENDER, "a", 1)
    with pytest.raises(InvalidInput, match="account id"):
        tx.reward("", 1, 0.1, INTERVAL)
