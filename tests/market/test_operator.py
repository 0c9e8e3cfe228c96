"""The operator core: gate rules, replay protection, and the blocks it commits."""

from __future__ import annotations

import pytest

from voisin.errors import InvalidInput
from voisin.ledger import Ledger, verify_ledger
from voisin.market import Operator
from voisin.protocol import (
    KeyPair,
    Segment,
    Side,
    TradeKind,
)

from .members import GRID, T0, T1, Member, code_of


def test_full_interval_commits_trades_and_settlement(market) -> None:
    op, seller, buyer, path = market
    op.submit_bid(seller.bid(Side.SELL, 2.0, 0.10), T0)
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.25), T0)
    result = op.close_gate(T0)
    # 2 kWh clear peer to peer; the buyer's last kWh is below the 0.28 import price.
    p2p = [t for t in result.trades if t.kind is TradeKind.P2P]
    assert [(t.seller, t.buyer, t.energy_kwh) for t in p2p] == [
        (seller.key.public_hex, buyer.key.public_hex, 2.0)
    ]
    op.submit_reading(seller.reading(export_kwh=2.0, import_kwh=0.0))
    settlements = op.settle(T0)
    by_id = {s.participant: s for s in settlements}
    assert by_id[seller.key.public_hex].imbalance_kwh == pytest.approx(0.0)
    assert by_id[buyer.key.public_hex].estimated  # no reading arrived: estimated, flagged
    report = verify_ledger(path)
    assert report.height == op.ledger.height == 3
    # The seller's meter proves its export, but no meter proves the buyer took it in:
    # no reward (docs/ledger.md, "Rewards").
    assert report.minted_micro == 0


def test_replay_is_refused_but_identical_resend_is_idempotent(market) -> None:
    op, seller, _, _ = market
    first = seller.bid(Side.SELL, 1.0, 0.1)
    op.submit_bid(first, T0)
    op.submit_bid(first, T0)  # a resend after a timeout: same bid, same outcome
    stale = seller.bid(Side.SELL, 5.0, 0.1, seq=first.seq)
    assert code_of(op.submit_bid, stale, T0) == "replay"
    assert op.rejections.by_code == {"replay": 1}


def test_gate_refusals_carry_codes(market) -> None:
    op, seller, buyer, _ = market
    stranger = Member("stranger", "TR")
    assert code_of(op.submit_bid, stranger.bid(Side.BUY, 1.0, 0.2), T0) == "unknown-participant"
    forged = seller.bid(Side.SELL, 1.0, 0.1).model_copy(
        update={"segments": (Segment(energy_kwh=9.0, price_eur_per_kwh=0.1),)}
    )
    assert code_of(op.submit_bid, forged, T0) == "bad-signature"
    assert (
        code_of(op.submit_bid, buyer.bid(Side.BUY, 1.0, 0.2, interval=T1), T0) == "wrong-interval"
    )
    assert code_of(op.submit_bid, buyer.bid(Side.BUY, 1.0, 5.0), T0) == "price-out-of-range"
    op.close_gate(T0)
    assert code_of(op.submit_bid, buyer.bid(Side.BUY, 1.0, 0.2), T0) == "gate-closed"
    assert op.rejections.total == 5


def test_readings_must_come_from_the_registered_meter(market) -> None:
    op, seller, _, _ = market
    op.close_gate(T0)
    rogue = seller.reading(1.0, 0.0, meter=KeyPair.derive("test", "rogue"))
    assert code_of(op.submit_reading, rogue) == "unknown-meter"
    tampered = seller.reading(1.0, 0.0).model_copy(update={"export_kwh": 3.0, "pv_kwh": 3.0})
    assert code_of(op.submit_reading, tampered) == "bad-signature"
    assert code_of(op.settle, T1) == "not-cleared"


def test_registration_at_unknown_bus_is_refused(market) -> None:
    op, *_ = market
    lost = Member("lost", "NOWHERE")
    with pytest.raises(InvalidInput, match="unknown bus"):
        op.register([lost.participant], time=T0.start.isoformat())


def test_gift_contract_gives_energy_free_and_reserved_ids_are_refused(market) -> None:
    """A registered 50 % gift share: half the seller's offer reaches the buyer for no
    tokens, the rest sells at the market price; agents cannot forge gift bid ids."""
    from voisin.ledger.contracts import GiftShare, contract_transaction

    op, seller, buyer, path = market
    gift = GiftShare(
        owner=seller.key.public_hex, recipient=buyer.key.public_hex, share=0.5, from_interval=T0.id
    )
    op.submit_contract(contract_transaction(gift, seller.key).body, time=T0.start.isoformat())
    op.submit_bid(seller.bid(Side.SELL, 2.0, 0.10), T0)
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.25), T0)
    result = op.close_gate(T0)
    p2p = sorted(
        (t.seller_bid_id.startswith("!gift"), t.energy_kwh)
        for t in result.trades
        if t.kind is TradeKind.P2P
    )
    assert p2p == [(False, 1.0), (True, 1.0)]
    block = op.ledger.block(op.ledger.height)
    transfers = [t.body for t in block.transactions if t.kind.value == "transfer"]
    price = result.prices_eur_per_kwh["F1"]
    assert [t["amount_micro"] for t in transfers] == [round(1.0 * price * 1e6)]
    verify_ledger(path)
    forged = seller.bid(Side.SELL, 1.0, 0.1, interval=T1, bid_id="!gift0:x")
    assert code_of(op.submit_bid, forged, T1) == "reserved-id"


def test_contract_from_a_stranger_is_refused(market) -> None:
    from voisin.ledger.contracts import GreenOnly, contract_transaction

    op, *_ = market
    stranger = Member("stranger", "TR")
    entry = contract_transaction(
        GreenOnly(owner=stranger.key.public_hex, from_interval=T0.id), stranger.key
    )
    with pytest.raises(InvalidInput) as err:
        op.submit_contract(entry.body, time=T0.start.isoformat())
    assert err.value.code == "unknown-participant"
    assert op.ledger.height == 1  # genesis and registration only: nothing written


def test_green_only_contract_keeps_the_grid_out_of_the_buyers_trades(market) -> None:
    """The buyer would import 2 kWh at 0.28 after the seller's 1 kWh; once its green-only
    contract is in force it takes only local energy."""
    from voisin.ledger.contracts import GreenOnly, contract_transaction

    op, seller, buyer, _ = market
    op.submit_bid(seller.bid(Side.SELL, 1.0, 0.10), T0)
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.30), T0)
    before = op.close_gate(T0)
    assert any(t.seller == "grid" and t.buyer == buyer.key.public_hex for t in before.trades)
    terms = GreenOnly(owner=buyer.key.public_hex, from_interval=T1.id)
    op.submit_contract(contract_transaction(terms, buyer.key).body, time=T0.end.isoformat())
    op.submit_bid(seller.bid(Side.SELL, 1.0, 0.10, interval=T1), T1)
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.30, interval=T1), T1)
    after = op.close_gate(T1)
    bought = [t for t in after.trades if t.buyer == buyer.key.public_hex]
    assert [(t.seller, t.energy_kwh) for t in bought] == [(seller.key.public_hex, 1.0)]


def test_a_restarted_operator_resumes_from_its_ledger(market) -> None:
    """Members, the newest cleared interval and the unsettled trades come back from the
    file: no second registration, no interval cleared twice, the pending one settles."""
    op, seller, buyer, path = market
    op.submit_bid(seller.bid(Side.SELL, 2.0, 0.10), T0)
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.25), T0)
    op.close_gate(T0)
    op.ledger.close()
    with Ledger.open(path, KeyPair.derive("test", "operator")) as ledger:
        again = Operator.resume(GRID, ledger)
        assert again.members == op.members
        assert again.unsettled == [T0.id]
        height = ledger.height
        again.register(
            [seller.participant, buyer.participant],
            time=T0.end.isoformat(),
            allowance_micro=10_000_000,
        )
        assert ledger.height == height  # nobody registered twice
        assert code_of(again.close_gate, T0) == "gate-closed"
        settlements = again.settle(T0)
        assert all(s.estimated for s in settlements)  # the readings died with the process
        assert again.unsettled == []
    verify_ledger(path)


def test_a_members_own_crossing_bids_are_refused_as_self_trade(market) -> None:
    """A member selling at 0.10 and buying at 0.25 in one interval would trade with
    itself (a wash trade: tokens to itself, which the ledger refuses, losing the whole
    interval). The second bid is refused at intake; a non-crossing pair is fine."""
    op, seller, buyer, path = market
    op.submit_bid(seller.bid(Side.SELL, 2.0, 0.10), T0)
    wash = seller.bid(Side.BUY, 1.0, 0.25)
    assert code_of(op.submit_bid, wash, T0) == "self-trade"
    op.submit_bid(seller.bid(Side.BUY, 1.0, 0.05), T0)  # below its own ask: no cross
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.25), T0)
    result = op.close_gate(T0)
    assert all(t.buyer != t.seller for t in result.trades)
    assert op.rejections.by_code == {"self-trade": 1}
    # The next interval's book is its own: the same member may sell there.
    op.submit_bid(seller.bid(Side.BUY, 1.0, 0.25, interval=T1), T1)
    verify_ledger(path)
