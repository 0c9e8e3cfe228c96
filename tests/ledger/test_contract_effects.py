"""apply_contracts and the payment hooks: hand-made cases first, then properties."""

from __future__ import annotations

import math
import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.ledger import (
    Contract,
    ContractBook,
    GiftShare,
    GreenOnly,
    PriceCap,
    PriorityPartner,
    apply_contracts,
    contract_payments,
    contract_transaction,
    green_only_buyers,
    green_violations,
    payments_for,
    revoke,
)
from voisin.ledger.contract_effects import GIFT_MARK, gift_bid_id
from voisin.protocol import GRID, Bid, KeyPair, Segment, Side, Trade, TradeKind

KEYS = [KeyPair.derive("effects", i) for i in range(4)]
HOUSE, SCHOOL, SHOP, FLAT = (k.public_hex for k in KEYS)
T = "2026-06-22T12:00Z"
START = "2026-06-22T00:00Z"


def _bid(
    bid_id: str,
    who: str,
    side: Side,
    *segments: tuple[float, float],
    preferred: tuple[str, ...] = (),
) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant=who,
        bus="b1",
        interval=T,
        side=side,
        segments=tuple(Segment(energy_kwh=e, price_eur_per_kwh=p) for e, p in segments),
        preferred=preferred,
        signature="ab" * 64,
    )


def test_no_contract_leaves_the_book_alone() -> None:
    bids = [_bid("b", SCHOOL, Side.BUY, (2, 0.3)), _bid("a", HOUSE, Side.SELL, (3, 0.1))]
    assert apply_contracts(bids, [], T) == sorted(bids, key=lambda b: b.bid_id)


def test_gift_share_splits_the_sell_bid() -> None:
    gift = GiftShare(owner=HOUSE, recipient=SCHOOL, share=0.25, from_interval=START)
    sell = _bid("h1", HOUSE, Side.SELL, (2.0, 0.10), (2.0, 0.20))
    given_away, rest = apply_contracts([sell], [gift], T)
    assert rest.bid_id == "h1"
    assert [(s.energy_kwh, s.price_eur_per_kwh) for s in rest.segments] == [(1.5, 0.1), (1.5, 0.2)]
    assert rest.signature == ""  # a derivation, no longer what the agent signed
    assert given_away.bid_id == "!gift0:h1"
    assert given_away.preferred == (SCHOOL,)
    assert [(s.energy_kwh, s.price_eur_per_kwh) for s in given_away.segments] == [(1.0, 0.0)]
    buy = _bid("h2", HOUSE, Side.BUY, (1.0, 0.3))
    assert apply_contracts([buy], [gift], T) == [buy]  # gifts act on sell bids only


def test_a_whole_gift_leaves_no_rest_and_shares_stop_at_one() -> None:
    gifts = [
        GiftShare(owner=HOUSE, recipient=SCHOOL, share=0.7, from_interval=START),
        GiftShare(owner=HOUSE, recipient=SHOP, share=0.7, from_interval=START),
    ]
    out = apply_contracts([_bid("h", HOUSE, Side.SELL, (4.0, 0.1))], gifts, T)
    assert [b.bid_id for b in out] == ["!gift0:h", "!gift1:h"]
    assert [b.preferred for b in out] == [(SCHOOL,), (SHOP,)]
    assert sum(b.energy_kwh for b in out) == pytest.approx(4.0)
    assert out[0].energy_kwh == pytest.approx(2.8)


def test_priority_partner_and_price_cap() -> None:
    contracts = [
        PriorityPartner(owner=HOUSE, partner=SCHOOL, from_interval=START),
        PriceCap(owner=SHOP, cap_eur_per_kwh=0.22, from_interval=START),
        PriceCap(owner=SHOP, cap_eur_per_kwh=0.25, from_interval=START),
    ]
    sell = _bid("h", HOUSE, Side.SELL, (3.0, 0.1), preferred=(FLAT,))
    buy = _bid("s", SHOP, Side.BUY, (1.0, 0.35), (1.0, 0.2))
    out = {b.bid_id: b for b in apply_contracts([buy, sell], contracts, T)}
    assert out["h"].preferred == (FLAT, SCHOOL)
    assert [s.price_eur_per_kwh for s in out["s"].segments] == [0.22, 0.2]
    shop_sell = _bid("s2", SHOP, Side.SELL, (1.0, 0.5))
    assert apply_contracts([shop_sell], contracts, T) == [shop_sell]  # caps bind buyers


def test_contracts_not_yet_in_force_or_revoked_do_nothing() -> None:
    later = PriceCap(owner=SHOP, cap_eur_per_kwh=0.1, from_interval="2026-06-22T12:15Z")
    buy = _bid("s", SHOP, Side.BUY, (1.0, 0.35))
    assert apply_contracts([buy], [later], T) == [buy]
    book = ContractBook()
    cap = PriceCap(owner=SHOP, cap_eur_per_kwh=0.1, from_interval=START)
    book.apply_body(contract_transaction(cap, KEYS[2]).body)
    book.apply_body(revoke(cap, KEYS[2], T).body)
    assert apply_contracts([buy], book, "2026-06-22T11:45Z")[0].segments[0].price_eur_per_kwh == 0.1
    assert apply_contracts([buy], book, T) == [buy]


def test_gift_trades_with_the_recipient_move_no_tokens() -> None:
    gift = GiftShare(owner=HOUSE, recipient=SCHOOL, share=0.5, from_interval=START)

    def trade(buyer: str, seller_bid: str) -> Trade:
        return Trade(
            interval=T,
            seller=HOUSE,
            buyer=buyer,
            energy_kwh=1.0,
            buyer_price_eur_per_kwh=0.2,
            seller_price_eur_per_kwh=0.2,
            kind=TradeKind.P2P,
            buyer_bid_id="x",
            seller_bid_id=seller_bid,
        )

    trades = [
        trade(SCHOOL, "!gift0:h"),
        trade(SHOP, "!gift0:h"),
        trade(SCHOOL, "h"),
        trade(SCHOOL, "h#gift0"),
    ]  # only the gift prefix counts
    paid = contract_payments(trades, "fund", [gift], T)
    assert paid == payments_for(trades[1:], "fund")
    assert len(paid) == 3


def test_green_only_marks_buy_bids_and_grid_legs_are_reported() -> None:
    green = GreenOnly(owner=SCHOOL, from_interval=START)
    assert green_only_buyers([green], T) == {SCHOOL}
    legs = [
        Trade(
            interval=T,
            seller=GRID,
            buyer=SCHOOL,
            energy_kwh=1.0,
            buyer_price_eur_per_kwh=0.3,
            seller_price_eur_per_kwh=0.3,
            kind=TradeKind.GRID,
        ),
        Trade(
            interval=T,
            seller=GRID,
            buyer=SHOP,
            energy_kwh=1.0,
            buyer_price_eur_per_kwh=0.3,
            seller_price_eur_per_kwh=0.3,
            kind=TradeKind.GRID,
        ),
    ]
    assert green_violations(legs, green_only_buyers([green], T)) == legs[:1]
    shaped = apply_contracts([_bid("s", SCHOOL, Side.BUY, (1.0, 0.3))], [green], T)
    assert [(b.bid_id, b.green_only) for b in shaped] == [("s", True)]


def test_long_bid_ids_stay_within_the_limit() -> None:
    long_id = "x" * 128
    assert len(gift_bid_id(long_id, 3)) <= 128
    assert gift_bid_id(long_id, 3).startswith(f"{GIFT_MARK}3:")


# -- properties ---------------------------------------------------------------------

_segments = st.lists(st.tuples(st.floats(0.01, 50.0), st.floats(-0.4, 0.9)), min_size=1, max_size=4)
_bids = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(Side), _segments), max_size=10)
_contract = st.one_of(
    st.builds(
        lambda o, r, s: GiftShare(
            owner=KEYS[o].public_hex, recipient=KEYS[r].public_hex, share=s, from_interval=START
        ),
        st.integers(0, 3),
        st.integers(0, 3),
        st.floats(0.001, 1.0),
    ),
    st.builds(
        lambda o, p: PriorityPartner(
            owner=KEYS[o].public_hex, partner=KEYS[p].public_hex, from_interval=START
        ),
        st.integers(0, 3),
        st.integers(0, 3),
    ),
    st.builds(
        lambda o, c: PriceCap(owner=KEYS[o].public_hex, cap_eur_per_kwh=c, from_interval=START),
        st.integers(0, 3),
        st.floats(-0.5, 1.0),
    ),
    st.builds(
        lambda o: GreenOnly(owner=KEYS[o].public_hex, from_interval=START), st.integers(0, 3)
    ),
)


def _energy(bids: list[Bid]) -> dict[tuple[str, Side], float]:
    total: dict[tuple[str, Side], float] = defaultdict(float)
    for b in bids:
        total[(b.participant, b.side)] += b.energy_kwh
    return total


@settings(max_examples=150, deadline=None)
@given(raw=_bids, contracts=st.lists(_contract, max_size=6), seed=st.randoms())
def test_apply_contracts_preserves_energy_and_is_deterministic(
    raw: list[tuple[int, Side, list[tuple[float, float]]]],
    contracts: list[Contract],
    seed: random.Random,
) -> None:
    bids = [
        _bid(f"bid{i}", KEYS[who].public_hex, side, *segs)
        for i, (who, side, segs) in enumerate(raw)
    ]
    out = apply_contracts(bids, contracts, T)
    before, after = _energy(bids), _energy(out)
    assert set(after) <= set(before)
    for key, kwh in before.items():
        assert math.isclose(after.get(key, 0.0), kwh, rel_tol=1e-9, abs_tol=1e-9), key
    ids = [b.bid_id for b in out]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    shuffled = list(bids)
    seed.shuffle(shuffled)
    assert apply_contracts(shuffled, contracts, T) == out
    caps: dict[str, float] = {}
    for c in contracts:
        if isinstance(c, PriceCap):
            caps[c.owner] = min(c.cap_eur_per_kwh, caps.get(c.owner, math.inf))
    for b in out:
        if b.side is Side.BUY and b.participant in caps:
            assert all(s.price_eur_per_kwh <= caps[b.participant] for s in b.segments)
        if b.bid_id.startswith(GIFT_MARK):
            assert b.side is Side.SELL
            assert b.segments[0].price_eur_per_kwh == 0.0
