"""A gift share through the real clearing: the recipient gets its share free, on the ledger."""

from __future__ import annotations

from pathlib import Path

from voisin.ledger import (
    GiftShare,
    Ledger,
    PriorityPartner,
    apply_contracts,
    contract_payments,
    contract_transaction,
    verify_ledger,
)
from voisin.ledger import transactions as tx
from voisin.ledger.statements import statement_for
from voisin.market.clearing import clear
from voisin.protocol import Bid, Grid, KeyPair, Segment, Side

HOUSE, SCHOOL, SHOP = (KeyPair.derive("gift", n) for n in ("house", "school", "shop"))
T = "2026-06-22T12:00Z"
GRID = Grid(root="b0", buses=("b0",), import_price_eur_per_kwh=0.30,
            export_price_eur_per_kwh=0.05)


def _bid(bid_id: str, key: KeyPair, side: Side, kwh: float, price: float) -> Bid:
    return Bid(bid_id=bid_id, participant=key.public_hex, bus="b0", interval=T, side=side,
               segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),))


def test_gift_share_reaches_the_school_for_free(tmp_path: Path, operator: KeyPair) -> None:
    gift = GiftShare(owner=HOUSE.public_hex, recipient=SCHOOL.public_hex, share=0.5,
                     from_interval=T)
    partner = PriorityPartner(owner=HOUSE.public_hex, partner=SCHOOL.public_hex,
                              from_interval=T)
    path = tmp_path / "gift.sqlite"
    with Ledger.open(path, operator) as ledger:
        ledger.append([tx.transfer(ledger.fund, k.public_hex, 10**8) for k in (SCHOOL, SHOP)]
                      + [contract_transaction(gift, HOUSE), contract_transaction(partner, HOUSE)],
                      interval=None, time="t0")
        book = [_bid("h", HOUSE, Side.SELL, 4.0, 0.10), _bid("s", SCHOOL, Side.BUY, 3.0, 0.30),
                _bid("p", SHOP, Side.BUY, 3.0, 0.30)]
        shaped = apply_contracts(book, ledger.contracts, T)
        assert [b.bid_id for b in shaped] == ["!gift0:h", "h", "p", "s"]
        result = clear(shaped, GRID, T)
        gifted = [t for t in result.trades if t.seller_bid_id == "!gift0:h"]
        assert gifted
        assert {t.buyer for t in gifted} == {SCHOOL.public_hex}
        assert sum(t.energy_kwh for t in gifted) == 2.0
        payments = contract_payments(result.trades, ledger.fund, ledger.contracts, T)
        ledger.append([tx.bid_digest(book, T), tx.clearing(result)]
                      + [tx.trade(t) for t in result.trades] + payments,
                      interval=T, time="t1")
        house_tokens = ledger.tokens.balance(HOUSE.public_hex)
    verify_ledger(path)
    school = statement_for(path, SCHOOL.public_hex)
    house = statement_for(path, HOUSE.public_hex)
    paid_for = sum(t.energy_kwh * t.seller_price_eur_per_kwh for t in result.trades
                   if t.seller == HOUSE.public_hex and t.seller_bid_id == "h")
    assert house_tokens == round(paid_for * 1e6)  # nothing for the gifted 2 kWh
    assert school.p2p_bought_kwh >= 2.0
    assert house.balance_micro == house_tokens
