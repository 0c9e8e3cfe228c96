"""A gift share through the real operator: the recipient gets its share free, on the ledger."""

from __future__ import annotations

from pathlib import Path

from voisin.ledger import GiftShare, Ledger, PriorityPartner, contract_transaction, verify_ledger
from voisin.ledger.statements import statement_for
from voisin.market import Operator
from voisin.protocol import (
    Bid,
    Grid,
    Interval,
    KeyPair,
    Participant,
    ParticipantKind,
    Segment,
    Side,
    Tariff,
)
from voisin.protocol.envelope import sign_bid

HOUSE, SCHOOL, SHOP = (KeyPair.derive("gift", n) for n in ("house", "school", "shop"))
T = Interval.parse("2026-06-22T12:00Z", 15)
GRID = Grid(root="b0", buses=("b0",), import_price_eur_per_kwh=0.30, export_price_eur_per_kwh=0.05)
TARIFF = Tariff(import_eur_per_kwh=0.30, export_eur_per_kwh=0.05)


def _bid(bid_id: str, key: KeyPair, side: Side, kwh: float, price: float) -> Bid:
    return sign_bid(
        key,
        Bid(
            bid_id=bid_id,
            participant=key.public_hex,
            bus="b0",
            interval=T.id,
            side=side,
            segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),),
        ),
        1,
    )


def test_gift_share_reaches_the_school_for_free(tmp_path: Path, operator: KeyPair) -> None:
    gift = GiftShare(
        owner=HOUSE.public_hex, recipient=SCHOOL.public_hex, share=0.5, from_interval=T.id
    )
    partner = PriorityPartner(owner=HOUSE.public_hex, partner=SCHOOL.public_hex, from_interval=T.id)
    path = tmp_path / "gift.sqlite"
    members = [
        Participant(
            participant_id=k.public_hex,
            kind=ParticipantKind.HOUSEHOLD,
            group="g",
            bus="b0",
            tariff=TARIFF,
        )
        for k in (HOUSE, SCHOOL, SHOP)
    ]
    with Ledger.open(path, operator) as ledger:
        market = Operator(GRID, ledger)
        market.register(members, time="2026-06-21T00:00:00+00:00", allowance_micro=10**8)
        for terms in (gift, partner):
            market.submit_contract(
                contract_transaction(terms, HOUSE).body, time="2026-06-21T00:00:00+00:00"
            )
        for bid in (
            _bid("h", HOUSE, Side.SELL, 4.0, 0.10),
            _bid("s", SCHOOL, Side.BUY, 3.0, 0.30),
            _bid("p", SHOP, Side.BUY, 3.0, 0.30),
        ):
            market.submit_bid(bid, T)
        result = market.close_gate(T)
        gifted = [t for t in result.trades if t.seller_bid_id == "!gift0:h"]
        assert gifted
        assert {t.buyer for t in gifted} == {SCHOOL.public_hex}
        assert sum(t.energy_kwh for t in gifted) == 2.0
        house_tokens = ledger.tokens.balance(HOUSE.public_hex) - 10**8
    report = verify_ledger(path)
    assert report.intervals_cleared == 1
    school = statement_for(path, SCHOOL.public_hex)
    house = statement_for(path, HOUSE.public_hex)
    paid_for = sum(
        t.energy_kwh * t.seller_price_eur_per_kwh
        for t in result.trades
        if t.seller == HOUSE.public_hex and t.seller_bid_id == "h"
    )
    assert house_tokens == round(paid_for * 1e6)  # nothing for the gifted 2 kWh
    assert school.p2p_bought_kwh >= 2.0
    assert house.balance_micro == house_tokens + 10**8
