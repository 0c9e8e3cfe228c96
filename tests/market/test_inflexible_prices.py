"""What a matched inflexible bid pays: its bus price, no premium unless one is forced.

A fully matched inflexible bid leaves its position row's dual free over a range (the
same dispatch whatever it is); the rule takes the point of that range nearest 0
(``market.price_rule``, "Least premiums"). Before, it took the midpoint, and a buyer
whose limit was 0.25 paid 0.175 at a bus whose price was 0.10.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.market import clear
from voisin.protocol import Bid, ClearingResult, Grid, Segment, Side

INTERVAL = "2026-06-21T12:00Z"
ONE_BUS = Grid(root="R", buses=("R",), import_price_eur_per_kwh=0.30, export_price_eur_per_kwh=0.05)


def _bid(bid_id: str, side: Side, kwh: float, price: float, inflexible: bool = True) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant=f"p-{bid_id}",
        bus="R",
        interval=INTERVAL,
        side=side,
        inflexible=inflexible,
        segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),),
    )


def _paid(result: ClearingResult, bid: Bid) -> float:
    """EUR/kWh the bid settles at (its bus price unless a settlement price is listed)."""
    kind = bid.side.value + ("-inflexible" if bid.inflexible else "")
    listed = result.settlement_prices_eur_per_kwh.get(bid.bus, {})
    return listed.get(kind, result.prices_eur_per_kwh[bid.bus])


def test_a_fully_matched_inflexible_buyer_pays_the_bus_price_not_half_its_limit() -> None:
    """Seller 2 kWh at 0.10 (inflexible), buyer 1 kWh with limit 0.25 (inflexible). The
    seller is partly matched, so its ask sets the bus price, 0.10; its other kWh goes
    to its retailer at 0.05. The buyer's limit is not a price: it pays 0.10, the seller
    receives 0.10, and nothing is left over as rent (nothing binds)."""
    bids = [_bid("s", Side.SELL, 2, 0.10), _bid("b", Side.BUY, 1, 0.25)]
    result = clear(bids, ONE_BUS, INTERVAL)
    assert result.prices_eur_per_kwh == {"R": pytest.approx(0.10, abs=1e-9)}
    assert result.cleared_kwh == {"s": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert _paid(result, bids[1]) == pytest.approx(0.10, abs=1e-9)
    assert _paid(result, bids[0]) == pytest.approx(0.10, abs=1e-9)
    assert result.congestion_rent_eur == pytest.approx(0.0, abs=1e-9)
    (trade,) = result.trades
    assert trade.buyer_price_eur_per_kwh == pytest.approx(0.10, abs=1e-9)
    assert trade.seller_price_eur_per_kwh == pytest.approx(0.10, abs=1e-9)


def test_a_fully_matched_inflexible_seller_receives_the_bus_price() -> None:
    """The mirror: buyer 2 kWh with limit 0.25, seller 1 kWh at 0.10, both inflexible.
    The buyer is partly matched (its other kWh from its retailer at 0.30), so its limit
    sets the bus price, 0.25, and the seller receives 0.25, not halfway to its ask."""
    bids = [_bid("s", Side.SELL, 1, 0.10), _bid("b", Side.BUY, 2, 0.25)]
    result = clear(bids, ONE_BUS, INTERVAL)
    assert result.prices_eur_per_kwh == {"R": pytest.approx(0.25, abs=1e-9)}
    assert _paid(result, bids[0]) == pytest.approx(0.25, abs=1e-9)
    assert _paid(result, bids[1]) == pytest.approx(0.25, abs=1e-9)
    assert result.congestion_rent_eur == pytest.approx(0.0, abs=1e-9)


def test_with_nothing_binding_either_way_the_price_is_the_auction_midpoint() -> None:
    """1 kWh each way, a flexible seller at 0.10 and an inflexible buyer at 0.25: any bus
    price in [0.10, 0.25] supports the trade, the rule takes the midpoint, 0.175, and
    both sides settle there (no premium, no rent)."""
    bids = [_bid("s", Side.SELL, 1, 0.10, inflexible=False), _bid("b", Side.BUY, 1, 0.25)]
    result = clear(bids, ONE_BUS, INTERVAL)
    assert result.prices_eur_per_kwh == {"R": pytest.approx(0.175, abs=1e-9)}
    assert _paid(result, bids[1]) == pytest.approx(0.175, abs=1e-9)
    assert result.congestion_rent_eur == pytest.approx(0.0, abs=1e-9)


@st.composite
def _one_bus_books(draw: st.DrawFn) -> list[Bid]:
    count = draw(st.integers(1, 8))
    return [
        _bid(
            f"x{i}",
            draw(st.sampled_from(Side)),
            draw(st.floats(0.1, 10.0)),
            draw(st.floats(0.0, 0.4)),
            inflexible=draw(st.booleans()),
        )
        for i in range(count)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_one_bus_books())
def test_at_one_bus_every_fully_matched_bid_settles_at_the_bus_price(bids: list[Bid]) -> None:
    """At one bus nothing can bind but the bids themselves, so no premium is forced on
    a bid the market takes whole: it settles at the bus price, inflexible or not. Every
    bid is individually rational at what it settles at, and the rent is 0."""
    result = clear(bids, ONE_BUS, INTERVAL)
    price = result.prices_eur_per_kwh["R"]
    for bid in bids:
        cleared = result.cleared_kwh[bid.bid_id]
        paid = _paid(result, bid)
        if cleared > 1e-9:
            limit = bid.segments[0].price_eur_per_kwh
            assert paid <= limit + 1e-9 if bid.side is Side.BUY else paid >= limit - 1e-9
        if cleared >= bid.segments[0].energy_kwh - 1e-9:
            assert paid == pytest.approx(price, abs=1e-7), bid.bid_id
    assert result.congestion_rent_eur == pytest.approx(0.0, abs=1e-7)
