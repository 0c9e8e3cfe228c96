"""The price rule's three ways to the same prices: the solver's dual when it is the only
optimal one, the face over the directions a degenerate basis leaves free, and the
whole face over every row; and both backends to the same prices on the same LP.
Whole-cent books and tenths of kWh make ties (degenerate optima) common on purpose."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings

from voisin.market.clearing import conditions_for
from voisin.market.engine import run_interval
from voisin.market.network import Network
from voisin.market.price_rule import choose_prices
from voisin.market.segments import book_of
from voisin.protocol import Bid, Grid

from .test_physical_properties import markets as physical_markets
from .test_properties import markets

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _all_ways_agree(grid: Grid, bids: list[Bid], minutes: int = 15) -> None:
    if not bids:
        return
    net = Network.of(grid)
    ordered = sorted(bids, key=lambda b: b.bid_id)
    book = book_of(ordered, net)
    conditions = conditions_for(grid, net, None, minutes, None)  # as clear() sets them
    outcome = run_interval(book, net, conditions, backend="highs")
    rule = {
        "import_price": net.import_price_eur_per_kwh,
        "export_price": net.export_price_eur_per_kwh,
    }
    published = outcome.prices
    whole = choose_prices(outcome.program, replace(outcome.solution, directions=None), **rule)
    np.testing.assert_allclose(published.bus_eur_per_kwh, whole.bus_eur_per_kwh, atol=2e-9)
    assert abs(published.green_premium_eur_per_kwh - whole.green_premium_eur_per_kwh) <= 2e-9
    # Across backends, compare one LP: with loss passes, a tie in the first pass may let
    # the two backends linearise the losses around different (equally optimal) flows.
    lossless = replace(conditions, loss_passes=1)
    highs = run_interval(book, net, lossless, backend="highs").prices
    pyomo = run_interval(book, net, lossless, backend="pyomo").prices
    np.testing.assert_allclose(highs.bus_eur_per_kwh, pyomo.bus_eur_per_kwh, atol=1e-6)


@SETTINGS
@given(markets())
def test_transport_books_price_the_same_every_way(market: tuple[Grid, list[Bid]]) -> None:
    _all_ways_agree(*market)


@SETTINGS
@given(physical_markets())
def test_physical_books_price_the_same_every_way(market: tuple[Grid, list[Bid], int]) -> None:
    grid, bids, minutes = market
    _all_ways_agree(grid, bids, minutes)
