"""A feeder cleared under a city (``market.upstream``), worked by hand.

Feeder T with two house lines of 10 kWh; the national grid's own prices (0.30 / 0.05)
do not apply: the city's price is the feeder's import and export price.
"""

from __future__ import annotations

import pytest

from voisin.errors import InvalidInput
from voisin.market.clearing import clear
from voisin.market.upstream import Upstream
from voisin.protocol import PricingMode

from .conftest import INTERVAL, bid, grid

FEEDER = grid("T", (("T", "H1", 10.0), ("T", "H2", 10.0)))


def test_the_inflexible_rest_stays_in_the_exchange_off_the_trades() -> None:
    """An inflexible seller of 3 kWh (limit 0.10) and a buyer of 1 kWh (limit 0.25), at
    a city price of 0.12 and an allocation of 2 kWh of export. The 3 kWh flow anyway and
    earn 0.12 as rest; matching them earns the seller its limit less, so the LP leaves
    all 3 as rest and the buyer takes 1 kWh at 0.12 out of the exchange: export 2,
    welfare 0.25 + 2 x 0.12 = 0.49, rest -3 kWh, one grid trade of 1 kWh at 0.12."""
    bids = [bid("s", "sell", 3.0, 0.10, "H1", inflexible=True), bid("b", "buy", 1.0, 0.25, "H2")]
    result = clear(bids, FEEDER, INTERVAL, upstream=Upstream(0.12, -2.0), backend="highs")
    assert result.welfare_eur == pytest.approx(0.49, abs=1e-9)
    assert (result.grid_import_kwh, result.grid_export_kwh) == (0.0, 2.0)
    assert result.rest_kwh == -3.0
    assert set(result.prices_eur_per_kwh.values()) == {0.12}
    (trade,) = result.trades
    assert (trade.seller, trade.buyer, trade.energy_kwh) == ("grid", "p-b", 1.0)
    assert trade.buyer_price_eur_per_kwh == trade.seller_price_eur_per_kwh == 0.12


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


def test_a_lone_feeder_is_unchanged_and_uniform_pricing_refused() -> None:
    bids = [bid("s", "sell", 3.0, 0.10, "H1", inflexible=True), bid("b", "buy", 1.0, 0.25, "H2")]
    lone = clear(bids, FEEDER, INTERVAL, backend="highs")
    assert lone.rest_kwh == 0.0
    assert lone.grid_export_kwh == 0.0  # the retailer takes the rest outside the market
    with pytest.raises(InvalidInput, match="nodal"):
        clear(bids, FEEDER, INTERVAL, pricing=PricingMode.UNIFORM, upstream=Upstream(0.1, 0.0))
