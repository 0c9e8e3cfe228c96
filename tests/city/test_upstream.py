"""A feeder cleared under a city (``market.upstream``), worked by hand.

Feeder T with two house lines of 10 kWh; the national grid's own prices (0.30 / 0.05)
do not apply: the city's price is the feeder's import and export price.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.market.clearing import clear
from voisin.market.upstream import Upstream
from voisin.protocol import Bid, PricingMode

from .conftest import INTERVAL, bid, grid

FEEDER = grid("T", (("T", "H1", 10.0), ("T", "H2", 10.0)))


def test_an_inflexible_seller_below_the_city_price_is_matched() -> None:
    """An inflexible seller of 3 kWh (limit 0.10) and a buyer of 1 kWh (limit 0.25), at
    a city price of 0.12 and an allocation of 2 kWh of export. The 3 kWh flow anyway;
    left unmatched they would be settled by the seller's supplier at 0.12, which the
    seller's limit is below, so all 3 are matched at 0.12: 1 to the buyer, 2 exported.
    Welfare, as the curve counts it (an inflexible limit is no value: the energy flows
    anyway), 0.25 + 2 x 0.12 = 0.49; no rest, no rent."""
    bids = [bid("s", "sell", 3.0, 0.10, "H1", inflexible=True), bid("b", "buy", 1.0, 0.25, "H2")]
    result = clear(bids, FEEDER, INTERVAL, upstream=Upstream(0.12, -2.0), backend="highs")
    assert result.welfare_eur == pytest.approx(0.49, abs=1e-9)
    assert (result.grid_import_kwh, result.grid_export_kwh) == (0.0, 2.0)
    assert result.rest_kwh == 0.0
    assert result.cleared_kwh == {"b": 1.0, "s": 3.0}
    assert set(result.prices_eur_per_kwh.values()) == {0.12}
    assert sorted((t.seller, t.buyer, t.energy_kwh) for t in result.trades) == [
        ("p-s", "grid", 2.0),
        ("p-s", "p-b", 1.0),
    ]
    assert {t.seller_price_eur_per_kwh for t in result.trades} == {0.12}
    assert result.congestion_rent_eur == 0.0


def test_an_inflexible_seller_above_the_city_price_stays_in_the_exchange() -> None:
    """The same seller at a city price of 0.08, below its limit: its 3 kWh stay the rest
    (its supplier is paid 0.08 for them, inside the exchange: rest_eur -0.24), and the
    buyer takes 1 kWh at 0.08 out of the exchange: export 2, rest -3, welfare 0.25 + 2
    x 0.08 = 0.41."""
    bids = [bid("s", "sell", 3.0, 0.10, "H1", inflexible=True), bid("b", "buy", 1.0, 0.25, "H2")]
    result = clear(bids, FEEDER, INTERVAL, upstream=Upstream(0.08, -2.0), backend="highs")
    assert result.welfare_eur == pytest.approx(0.41, abs=1e-9)
    assert result.rest_eur == pytest.approx(-0.24, abs=1e-9)
    assert (result.grid_import_kwh, result.grid_export_kwh) == (0.0, 2.0)
    assert result.rest_kwh == -3.0
    assert set(result.prices_eur_per_kwh.values()) == {0.08}
    (trade,) = result.trades
    assert (trade.seller, trade.buyer, trade.energy_kwh) == ("grid", "p-b", 1.0)
    assert trade.buyer_price_eur_per_kwh == trade.seller_price_eur_per_kwh == 0.08
    assert result.congestion_rent_eur == 0.0


def test_an_inflexible_buyer_below_the_city_price_is_not_matched() -> None:
    """An inflexible buyer of 2 kWh (limit 0.25) at a city price of 0.30, allocated its
    2 kWh: matched, it would pay its limit while the feeder pays the city 0.30 (a rent
    of -0.10, a deficit). Its supplier buys the 2 kWh at 0.30 instead: no trade, rest
    +2 (rest_eur 0.60), welfare -0.60 (the import, its limit no value), rent 0."""
    bids = [bid("b", "buy", 2.0, 0.25, "H2", inflexible=True)]
    result = clear(bids, FEEDER, INTERVAL, upstream=Upstream(0.30, 2.0), backend="highs")
    assert (result.grid_import_kwh, result.grid_export_kwh) == (2.0, 0.0)
    assert result.rest_kwh == 2.0
    assert result.trades == ()
    assert result.welfare_eur == pytest.approx(-0.60, abs=1e-9)
    assert result.rest_eur == pytest.approx(0.60, abs=1e-9)
    assert result.congestion_rent_eur == 0.0
    assert set(result.prices_eur_per_kwh.values()) == {0.30}


def test_an_indifferent_feeder_is_pinned_to_its_allocation() -> None:
    """A flexible seller of 2 kWh at 0.10 and a buyer of 1 kWh at 0.25, at a city price of
    0.10: the seller is indifferent about its second kWh, so the feeder's curve has a
    piece of slope 0.10 on x in [-1, 0]; the city gave it -0.5 and it takes exactly
    that: 1.5 kWh sold, 1 to the buyer, 0.5 exported; welfare 0.25 - 0.15 + 0.05."""
    bids = [bid("f", "sell", 2.0, 0.10, "H1"), bid("b", "buy", 1.0, 0.25, "H2")]
    result = clear(bids, FEEDER, INTERVAL, upstream=Upstream(0.10, -0.5), backend="highs")
    assert result.cleared_kwh == {"b": 1.0, "f": 1.5}
    assert (result.grid_import_kwh, result.grid_export_kwh) == (0.0, 0.5)
    assert result.welfare_eur == pytest.approx(0.15, abs=1e-9)
    assert result.rest_kwh == 0.0
    assert sorted((t.buyer, t.energy_kwh) for t in result.trades) == [("grid", 0.5), ("p-b", 1.0)]


def test_a_feeder_pinned_at_a_breakpoint_publishes_the_city_price() -> None:
    """The same two bids at a city price of 0.10, allocated an export of 1 kWh: the
    seller sells all 2 (1 to the buyer, 1 out), a breakpoint of the curve, whose slopes
    there are 0.10 and 0.25. Pinned, the node's price may be anywhere in [0.10, 0.25];
    held nearest the city's price it is 0.10 (the range's midpoint, 0.175, had the
    feeder's grid leg paid 0.175 for what the city paid 0.10)."""
    bids = [bid("f", "sell", 2.0, 0.10, "H1"), bid("b", "buy", 1.0, 0.25, "H2")]
    result = clear(bids, FEEDER, INTERVAL, upstream=Upstream(0.10, -1.0), backend="highs")
    assert result.cleared_kwh == {"b": 1.0, "f": 2.0}
    assert set(result.prices_eur_per_kwh.values()) == {0.10}
    assert {t.seller_price_eur_per_kwh for t in result.trades} == {0.10}
    assert result.welfare_eur == pytest.approx(0.15, abs=1e-9)


def test_a_lone_feeder_is_unchanged_and_uniform_pricing_refused() -> None:
    bids = [bid("s", "sell", 3.0, 0.10, "H1", inflexible=True), bid("b", "buy", 1.0, 0.25, "H2")]
    lone = clear(bids, FEEDER, INTERVAL, backend="highs")
    assert lone.rest_kwh == 0.0
    assert lone.grid_export_kwh == 0.0  # the retailer takes the rest outside the market
    with pytest.raises(InvalidInput, match="nodal"):
        clear(bids, FEEDER, INTERVAL, pricing=PricingMode.UNIFORM, upstream=Upstream(0.1, 0.0))


WIDE = grid("T", (("T", "H1", 1000.0), ("T", "H2", 1000.0)))
"""Lines nothing fills: every bus is priced at the city's price."""


@settings(max_examples=40, deadline=None)
@given(
    city_cents=st.integers(1, 40),
    offsets=st.lists(
        st.tuples(
            st.sampled_from(("buy", "sell")),
            st.booleans(),
            st.integers(1, 40),
            st.sampled_from(("H1", "H2")),
            st.integers(-20, 20).filter(lambda k: k != 0),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_every_position_settles_on_its_side_of_the_city_price(
    city_cents: int, offsets: list[tuple[str, bool, int, str, int]]
) -> None:
    """Random bids around a city price on an uncongested feeder, allocated what they
    take there: a bid is matched in full exactly when its limit is on the right side of
    the city price (above it for a buyer, below for a seller), flexible or not; what an
    inflexible bid leaves is the rest; every trade is individually rational at the city
    price, and the rent is 0 (no deficit)."""
    price = city_cents / 100
    bids, wanted, x = [], {}, 0.0
    for k, (side, inflexible, tenths, bus, cents) in enumerate(offsets):
        limit = round(price + cents / 200, 3)
        kwh = tenths / 10
        bids.append(bid(f"b{k}", side, kwh, limit, bus, inflexible=inflexible))
        takes = (limit > price) if side == "buy" else (limit < price)
        wanted[f"b{k}"] = kwh if takes else 0.0
        sign = 1.0 if side == "buy" else -1.0
        x += sign * kwh if (takes or inflexible) else 0.0
    x = round(x, 9)
    result = clear(bids, WIDE, INTERVAL, upstream=Upstream(price, x), backend="highs")
    assert result.cleared_kwh == pytest.approx(wanted, abs=1e-9)
    rest = sum(
        (1.0 if b.side == "buy" else -1.0) * (b.segments[0].energy_kwh - wanted[b.bid_id])
        for b in bids
        if b.inflexible
    )
    assert result.rest_kwh == pytest.approx(rest, abs=1e-9)
    assert set(result.prices_eur_per_kwh.values()) == {price}
    for trade in result.trades:
        assert trade.buyer_price_eur_per_kwh == trade.seller_price_eur_per_kwh == price
    assert result.congestion_rent_eur == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("bids", "x", "rest", "green_kwh"),
    [
        # a green-only buyer of 2 beside 3 kWh of inflexible PV and 1 of flexible PV:
        # the inflexible PV stays rest (its supplier's, exported), the buyer gets the
        # flexible 1 kWh and nothing from the grid: exchange -3
        (
            [
                bid("s", "sell", 3.0, 0.05, "H1", inflexible=True),
                bid("f", "sell", 1.0, 0.02, "H1"),
                bid("g", "buy", 2.0, 0.40, "H2"),
            ],
            -3.0,
            -3.0,
            1.0,
        ),
        # a green-only inflexible need of 3: not matched after the LP (the grid would
        # serve it), its rest imported for its supplier; the flexible PV sells out
        (
            [bid("f", "sell", 1.0, 0.02, "H1"), bid("g", "buy", 3.0, 0.40, "H2", inflexible=True)],
            2.0,
            3.0,
            0.0,
        ),
    ],
    ids=["green beside inflexible PV", "green inflexible need"],
)
def test_no_green_only_buyer_in_a_city_is_served_by_the_grid(
    bids: list[Bid], x: float, rest: float, green_kwh: float
) -> None:
    """Found by review (2026-12-04): the LP's green row sees no inflexible supply and no
    inflexible need (both are matched after it), so a green-only inflexible need was
    matched and topped up by grid imports, and a green premium went to inflexible PV
    matched after. Where a book has a green-only buyer, inflexible offers and green-only
    inflexible needs stay rest; the book still clears (a refusal had let one green bid
    block a feeder's interval). City price 0.30."""
    made = [
        Bid.model_validate({**b.model_dump(), "green_only": True}) if b.bid_id == "g" else b
        for b in bids
    ]
    result = clear(made, FEEDER, INTERVAL, upstream=Upstream(0.30, x), backend="highs")
    green = [t for t in result.trades if t.buyer == "p-g"]
    assert all(t.seller != "grid" for t in green)
    assert sum(t.energy_kwh for t in green) == pytest.approx(green_kwh, abs=1e-9)
    assert result.rest_kwh == pytest.approx(rest, abs=1e-9)
    assert result.congestion_rent_eur >= 0.0
