"""Bids exactly at the clearing price: the documented rule decides the price, not luck."""

from __future__ import annotations

import pytest

from voisin.market import clear
from voisin.protocol import Bid, Grid, Segment, Side

INTERVAL = "2026-06-22T12:00Z"
ONE_BUS = Grid(root="R", buses=("R",), import_price_eur_per_kwh=0.30, export_price_eur_per_kwh=0.05)


def _bid(bid_id: str, side: Side, kwh: float, price: float) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant=f"p-{bid_id}",
        bus="R",
        interval=INTERVAL,
        side=side,
        segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),),
    )


def test_a_buyer_exactly_at_the_price_is_indifferent_and_the_price_is_fixed() -> None:
    """s2 (0.20) is partly accepted whatever happens, so the price is 0.20. b2 bids
    exactly 0.20: any quantity of it between 0 and 3 kWh is optimal (welfare 0.60 =
    4 x 0.30 - 2 x 0.10 - 2 x 0.20); if it clears at all it pays its limit, no more."""
    bids = [
        _bid("s1", Side.SELL, 2, 0.10),
        _bid("s2", Side.SELL, 5, 0.20),
        _bid("b1", Side.BUY, 4, 0.30),
        _bid("b2", Side.BUY, 3, 0.20),
    ]
    result = clear(bids, ONE_BUS, INTERVAL)
    assert result.prices_eur_per_kwh == {"R": 0.2}
    assert result.welfare_eur == pytest.approx(0.6, abs=1e-9)
    assert result.cleared_kwh["b1"] == 4
    assert result.cleared_kwh["s2"] == pytest.approx(2 + result.cleared_kwh["b2"], abs=1e-9)
    for trade in result.trades:
        if trade.buyer == "p-b2":
            assert trade.buyer_price_eur_per_kwh == 0.2
    again = clear(list(reversed(bids)), ONE_BUS, INTERVAL)
    assert again == result  # the same book always clears the same way


def test_equal_limits_on_both_sides_price_at_that_limit() -> None:
    """A buyer and a seller both at 0.20 and nothing else in the money: trading or not
    gives the same welfare (0); either way the only clearing price is 0.20."""
    result = clear([_bid("b", Side.BUY, 3, 0.20), _bid("s", Side.SELL, 3, 0.20)], ONE_BUS, INTERVAL)
    assert result.prices_eur_per_kwh == {"R": 0.2}
    assert result.welfare_eur == pytest.approx(0.0, abs=1e-12)
    assert result.cleared_kwh["b"] == result.cleared_kwh["s"]


def test_a_range_of_prices_is_priced_at_its_midpoint() -> None:
    """Buyer 2 kWh at 0.26 and seller 2 kWh at 0.12 match fully; nothing else is in the
    book, so any price in [0.12, 0.26] clears it. The rule takes 0.19."""
    result = clear([_bid("b", Side.BUY, 2, 0.26), _bid("s", Side.SELL, 2, 0.12)], ONE_BUS, INTERVAL)
    assert result.cleared_kwh == {"b": 2.0, "s": 2.0}
    assert result.prices_eur_per_kwh == {"R": 0.19}
