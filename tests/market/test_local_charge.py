"""The local charge (network charges and levies on p2p energy): one wedge between a local
buyer's price and its seller's, in the welfare, the prices and the money balance."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.market import clear
from voisin.protocol import GRID, Bid, Grid, Segment, Side, TradeKind

from .conftest import INTERVAL as BOOK_INTERVAL
from .test_properties import markets

INTERVAL = "2026-06-22T12:00Z"


def _grid(charge: float) -> Grid:
    return Grid(
        root="R",
        buses=("R",),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
        local_charge_eur_per_kwh=charge,
    )


def _bid(bid_id: str, side: Side, kwh: float, price: float) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant=f"p-{bid_id}",
        bus="R",
        interval=INTERVAL,
        side=side,
        segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),),
    )


def _p2p(result: object) -> list[tuple[str, str, float, float, float]]:
    return [
        (t.seller, t.buyer, t.energy_kwh, t.buyer_price_eur_per_kwh, t.seller_price_eur_per_kwh)
        for t in result.trades  # type: ignore[attr-defined]
        if t.kind is TradeKind.P2P
    ]


def test_the_charge_is_a_wedge_between_buyer_and_seller() -> None:
    """2 kWh at 0.10 against 2 kWh at 0.25, 0.08 charged per local kWh. The trade
    clears (0.25 >= 0.10 + 0.08); the buyer's price may lie in [0.18, 0.25] (the
    seller must net its 0.10), midpoint 0.215; the seller receives 0.135. Welfare
    2 x (0.25 - 0.10 - 0.08) = 0.14, the charges 2 x 0.08 = 0.16, no rent."""
    bids = [_bid("s", Side.SELL, 2, 0.10), _bid("b", Side.BUY, 2, 0.25)]
    result = clear(bids, _grid(0.08), INTERVAL)
    assert result.prices_eur_per_kwh == {"R": 0.215}
    assert _p2p(result) == [("p-s", "p-b", 2.0, 0.215, 0.135)]
    assert result.welfare_eur == pytest.approx(0.14)
    assert result.local_charges_eur == pytest.approx(0.16)
    assert result.congestion_rent_eur == pytest.approx(0.0)
    # Without the charge: the same trade at the midpoint of [0.10, 0.25].
    free = clear(bids, _grid(0.0), INTERVAL)
    assert _p2p(free) == [("p-s", "p-b", 2.0, 0.175, 0.175)]
    assert free.welfare_eur == pytest.approx(0.30)
    assert "local_charges_eur" not in free.model_dump()


def test_a_charge_above_the_tariff_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="local charge above the gap"):
        _grid(0.26)


def test_a_charge_above_the_gap_stops_the_trade() -> None:
    """0.25 - 0.10 = 0.15 < 0.20: no local trade, and neither side uses the grid."""
    bids = [_bid("s", Side.SELL, 2, 0.10), _bid("b", Side.BUY, 2, 0.25)]
    result = clear(bids, _grid(0.20), INTERVAL)
    assert result.trades == ()
    assert result.welfare_eur == pytest.approx(0.0)


def test_exports_pay_no_local_charge() -> None:
    """3 kWh at 0.02 against 1 kWh at 0.25; 2 kWh are exported at the 0.05 feed-in.
    At the margin the seller nets the feed-in: the buyer pays 0.05 + 0.08 = 0.13, the
    seller receives 0.05 on all 3 kWh, the grid pays 0.05 for its 2. Welfare 1 x (0.25
    - 0.02 - 0.08) + 2 x (0.05 - 0.02) = 0.21."""
    bids = [_bid("s", Side.SELL, 3, 0.02), _bid("b", Side.BUY, 1, 0.25)]
    result = clear(bids, _grid(0.08), INTERVAL)
    assert result.prices_eur_per_kwh == {"R": 0.13}
    assert _p2p(result) == [("p-s", "p-b", 1.0, 0.13, 0.05)]
    (export,) = [t for t in result.trades if t.buyer == GRID]
    assert (export.energy_kwh, export.buyer_price_eur_per_kwh) == (2.0, 0.05)
    assert export.seller_price_eur_per_kwh == 0.05
    assert result.welfare_eur == pytest.approx(0.21)
    assert result.local_charges_eur == pytest.approx(0.08)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(green=False), st.sampled_from([0.01, 0.05, 0.12]))
def test_money_balances_with_the_charge(market: tuple[Grid, list[Bid]], charge: float) -> None:
    """Buyers' payments = sellers' receipts + wheeling fees + local charges + congestion
    rent (grid legs included); every p2p trade's buyer pays at least its seller's price
    plus the charge; no seller receives less than its lowest limit."""
    grid, bids = market
    gap = grid.import_price_eur_per_kwh - grid.export_price_eur_per_kwh
    grid = Grid.model_validate(
        {**grid.model_dump(by_alias=True), "local_charge_eur_per_kwh": min(charge, gap)}
    )
    charge = grid.local_charge_eur_per_kwh
    result = clear(bids, grid, BOOK_INTERVAL)
    paid = sum(t.paid_eur for t in result.trades)
    received = sum(t.received_eur for t in result.trades)
    fees = result.wheeling_fees_eur + result.local_charges_eur + result.congestion_rent_eur
    assert paid == pytest.approx(received + fees, abs=1e-6)
    assert result.congestion_rent_eur >= -1e-6
    p2p = [t for t in result.trades if t.kind is TradeKind.P2P]
    assert result.local_charges_eur == pytest.approx(charge * sum(t.energy_kwh for t in p2p))
    by_id = {b.bid_id: b for b in bids}
    for t in p2p:
        assert t.buyer_price_eur_per_kwh - t.seller_price_eur_per_kwh >= charge - 1e-9
        floor = min(s.price_eur_per_kwh for s in by_id[t.seller_bid_id].segments)
        assert t.seller_price_eur_per_kwh >= floor - 1e-9
