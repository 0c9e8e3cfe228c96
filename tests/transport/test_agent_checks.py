"""What an agent checks in each block it receives: operator signature, Merkle root, chain,
and that its trades match its own bids."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from voisin.agents.checks import check_block, check_trade
from voisin.errors import VoisinError
from voisin.ledger import Ledger
from voisin.ledger import transactions as tx
from voisin.protocol import KeyPair, Trade, TradeKind

OPERATOR = KeyPair.derive("test", "operator")
ME, YOU = "a" * 64, "b" * 64


def _trade(energy: float = 0.5, buyer_price: float = 0.2, seller_price: float = 0.2) -> Trade:
    return Trade(
        interval="2026-06-22T10:00Z",
        seller=ME,
        buyer=YOU,
        energy_kwh=energy,
        buyer_price_eur_per_kwh=buyer_price,
        seller_price_eur_per_kwh=seller_price,
        kind=TradeKind.P2P,
        buyer_bid_id="you/0",
        seller_bid_id="me/0",
    )


@pytest.fixture
def blocks(tmp_path: Path) -> list[dict]:
    with Ledger.open(tmp_path / "l.sqlite", OPERATOR) as ledger:
        ledger.append(
            [tx.trade(_trade())], interval="2026-06-22T10:00Z", time="2026-06-22T10:15:00+00:00"
        )
        ledger.append(
            [tx.trade(_trade(0.1))], interval="2026-06-22T10:15Z", time="2026-06-22T10:30:00+00:00"
        )
        return [ledger.block(h).model_dump(mode="json") for h in (1, 2)]


def test_genuine_blocks_pass_and_chain(blocks: list[dict]) -> None:
    first = check_block(blocks[0], OPERATOR.public_hex, None)
    assert check_block(blocks[1], OPERATOR.public_hex, first)


@pytest.mark.parametrize("tamper", ["energy", "signature", "operator", "chain"])
def test_tampered_blocks_are_named(blocks: list[dict], tamper: str) -> None:
    first = check_block(blocks[0], OPERATOR.public_hex, None)
    block = copy.deepcopy(blocks[1])
    pinned, prev = OPERATOR.public_hex, first
    if tamper == "energy":
        block["transactions"][0]["body"]["energy_kwh"] = 9.0
    elif tamper == "signature":
        block["signature"] = "00" * 64
    elif tamper == "operator":
        pinned = KeyPair.derive("test", "impostor").public_hex
    else:
        prev = "f" * 64
    with pytest.raises(VoisinError) as info:
        check_block(block, pinned, prev)
    assert info.value.code == "bad-block"


def test_trades_are_held_to_my_bids() -> None:
    bids = {
        "me/0": {
            "segments": [
                {"energy_kwh": 0.4, "price_eur_per_kwh": 0.1},
                {"energy_kwh": 0.2, "price_eur_per_kwh": 0.15},
            ]
        }
    }
    body = tx.trade(_trade()).body
    assert check_trade(body, ME, bids) is None
    assert "below my limit" in check_trade({**body, "seller_price_eur_per_kwh": 0.05}, ME, bids)
    assert "exceeds my bid" in check_trade({**body, "energy_kwh": 0.7}, ME, bids)
    assert "unknown bid" in check_trade({**body, "seller_bid_id": "me/9"}, ME, bids)
    buyer_bids = {"you/0": {"segments": [{"energy_kwh": 1.0, "price_eur_per_kwh": 0.25}]}}
    assert check_trade(body, YOU, buyer_bids) is None
    assert "above my limit" in check_trade(
        {**body, "buyer_price_eur_per_kwh": 0.3}, YOU, buyer_bids
    )
