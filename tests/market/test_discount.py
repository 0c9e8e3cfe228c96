"""A seller's discount to its preferred buyers: who pays what, and what never changes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from voisin.errors import InvalidInput
from voisin.market import clear
from voisin.protocol import GRID, Bid, Grid, Segment, Side, TradeKind, parse

from .conftest import INTERVAL as BOOK_INTERVAL
from .test_properties import markets

INTERVAL = "2026-06-22T12:00Z"
ONE_BUS = Grid(root="R", buses=("R",), import_price_eur_per_kwh=0.30, export_price_eur_per_kwh=0.05)


def _bid(bid_id: str, side: Side, kwh: float, price: float, **extra: object) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant=f"p-{bid_id}",
        bus="R",
        interval=INTERVAL,
        side=side,
        segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),),
        **extra,
    )


def test_the_preferred_buyer_gets_the_discount_and_the_price_stays() -> None:
    """2 kWh at 0.10 from a household that prefers the school with 0.05 off. The school
    (1 kWh at 0.29) is served first; h (2 kWh at 0.27) is marginal, so the price is 0.27.
    The school's kWh settles at 0.22 on both sides, h's at 0.27; nothing else moves."""
    bids = [
        _bid("s", Side.SELL, 2, 0.10, preferred=("p-school",), preferred_discount_eur_per_kwh=0.05),
        _bid("school", Side.BUY, 1, 0.29),
        _bid("h", Side.BUY, 2, 0.27),
    ]
    result = clear(bids, ONE_BUS, INTERVAL)
    assert result.prices_eur_per_kwh == {"R": 0.27}
    p2p = {
        t.buyer: (t.energy_kwh, t.buyer_price_eur_per_kwh, t.seller_price_eur_per_kwh)
        for t in result.trades
        if t.kind is TradeKind.P2P
    }
    assert p2p == {"p-school": (1.0, 0.22, 0.22), "p-h": (1.0, 0.27, 0.27)}
    plain = clear(
        [bids[0].model_copy(update={"preferred_discount_eur_per_kwh": 0.0}), *bids[1:]],
        ONE_BUS,
        INTERVAL,
    )
    assert plain.welfare_eur == result.welfare_eur
    assert plain.cleared_kwh == result.cleared_kwh


def test_a_discount_never_takes_the_seller_below_its_limit() -> None:
    """Price 0.27, limit 0.25: of the 0.05 offered only 0.02 can be given."""
    bids = [
        _bid("s", Side.SELL, 2, 0.25, preferred=("p-school",), preferred_discount_eur_per_kwh=0.05),
        _bid("school", Side.BUY, 1, 0.29),
        _bid("h", Side.BUY, 2, 0.27),
    ]
    trades = clear(bids, ONE_BUS, INTERVAL).trades
    school = next(t for t in trades if t.buyer == "p-school")
    assert school.seller_price_eur_per_kwh == pytest.approx(0.25)


def test_discounts_on_buy_bids_are_refused() -> None:
    with pytest.raises(InvalidInput, match="sell bids only"):
        parse(
            Bid,
            {
                "bid_id": "b",
                "participant": "p",
                "bus": "R",
                "interval": INTERVAL,
                "side": "buy",
                "segments": [{"energy_kwh": 1, "price_eur_per_kwh": 0.2}],
                "preferred_discount_eur_per_kwh": 0.05,
            },
            "bid b",
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_discounts_keep_rationality_and_money(market: tuple[Grid, list[Bid]]) -> None:
    """Every seller offering 0.04 off to its preferred buyers: no trade below a seller's
    accepted limit or above a buyer's, the same rent, and payments still balance."""
    grid, bids = market
    generous = [
        b.model_copy(update={"preferred_discount_eur_per_kwh": 0.04}) if b.side is Side.SELL else b
        for b in bids
    ]
    plain, result = clear(bids, grid, BOOK_INTERVAL), clear(generous, grid, BOOK_INTERVAL)
    assert result.welfare_eur == pytest.approx(plain.welfare_eur, abs=1e-9)
    assert result.congestion_rent_eur == pytest.approx(plain.congestion_rent_eur, abs=1e-9)
    by_id = {b.bid_id: b for b in generous}
    for t in result.trades:
        if t.seller != GRID:
            limit = _worst_accepted(by_id[t.seller_bid_id], result.cleared_kwh)
            assert t.seller_price_eur_per_kwh >= limit - 1e-9
        if t.buyer != GRID:
            limit = _worst_accepted(by_id[t.buyer_bid_id], result.cleared_kwh)
            assert t.buyer_price_eur_per_kwh <= limit + 1e-9


def _worst_accepted(bid: Bid, cleared_kwh: dict[str, float]) -> float:
    """The limit of the last segment the market used: segments fill best first
    (cheapest for a seller, dearest for a buyer)."""
    buys = bid.side is Side.BUY
    left = cleared_kwh[bid.bid_id]
    worst = None
    for seg in sorted(bid.segments, key=lambda s: s.price_eur_per_kwh, reverse=buys):
        if left <= 1e-9:
            break
        worst = seg.price_eur_per_kwh
        left -= seg.energy_kwh
    assert worst is not None
    return worst
