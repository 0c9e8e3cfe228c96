"""The Pyomo model and the direct highspy matrix model are the same market.

On random small books (``test_properties.markets``: cents and tenths of kWh, so ties
and degenerate optima are common) both backends must reach the same welfare and the
same prices, and each backend's prices must support the other's dispatch; where they
clear the same quantities they must publish the same trades. On books with random
real prices the optimum is unique, so the dispatch itself must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.market import clear
from voisin.protocol import Bid, ClearingResult, Grid, Line, Side

from .conftest import INTERVAL, make_bid, make_grid
from .test_properties import _filled, markets

TOL = 1e-7
DIFF = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _both(grid: Grid, bids: list[Bid]) -> tuple[ClearingResult, ClearingResult]:
    return (
        clear(bids, grid, INTERVAL, backend="pyomo"),
        clear(bids, grid, INTERVAL, backend="highs"),
    )


def _supports(
    prices: dict[str, float], bids: list[Bid], result: ClearingResult, premium: float = 0.0
) -> None:
    """Prices (and green premium) support a dispatch: no accepted buyer above its limit,
    none in the money left unserved, and the same for sellers (complementary
    slackness). Green-only buyers and sellers trade at their bus price plus the premium."""
    for bid in bids:
        extra = premium if bid.side is Side.SELL or bid.green_only else 0.0
        price = prices[bid.bus] + extra
        for limit, used, size in _filled(bid, result.cleared_kwh[bid.bid_id]):
            buys = bid.side is Side.BUY
            if used > 1e-9:
                assert (limit >= price - TOL) if buys else (limit <= price + TOL)
            if (limit > price + TOL) if buys else (limit < price - TOL):
                assert used == pytest.approx(size, abs=TOL)


@DIFF
@given(markets())
def test_backends_reach_the_same_welfare_and_prices(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    ref, fast = _both(grid, bids)
    assert ref.solver.startswith("highs-")
    assert "pyomo" in ref.solver
    assert fast.solver.startswith("highspy-")
    assert fast.welfare_eur == pytest.approx(ref.welfare_eur, abs=TOL)
    assert fast.book_hash == ref.book_hash
    assert fast.grid_hash == ref.grid_hash
    # Any optimal prices support any optimal dispatch, so cross the two over.
    _supports(fast.prices_eur_per_kwh, bids, ref, fast.green_premium_eur_per_kwh)
    _supports(ref.prices_eur_per_kwh, bids, fast, ref.green_premium_eur_per_kwh)
    for bus, price in ref.prices_eur_per_kwh.items():
        assert fast.prices_eur_per_kwh[bus] == pytest.approx(price, abs=TOL), bus
    assert fast.green_premium_eur_per_kwh == pytest.approx(ref.green_premium_eur_per_kwh, abs=TOL)
    same = all(abs(fast.cleared_kwh[k] - q) <= 1e-9 for k, q in ref.cleared_kwh.items())
    if same:
        assert fast.grid_import_kwh == pytest.approx(ref.grid_import_kwh, abs=1e-9)
        assert fast.grid_export_kwh == pytest.approx(ref.grid_export_kwh, abs=1e-9)
        assert fast.trades == ref.trades
        assert fast.congestion_rent_eur == pytest.approx(ref.congestion_rent_eur, abs=TOL)
        assert fast.wheeling_fees_eur == pytest.approx(ref.wheeling_fees_eur, abs=TOL)


@st.composite
def generic_markets(draw: st.DrawFn) -> tuple[Grid, list[Bid]]:
    """DESIGN.md's generator at toy size, some lines with a wheeling fee and some buyers
    green-only: real-valued prices make the optimum unique."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_bus = int(rng.integers(1, 7))
    parent = np.floor(rng.random(n_bus) * np.arange(n_bus)).astype(int)
    buses = [f"b{i}" for i in range(n_bus)]
    lines = tuple(
        Line(
            from_bus=buses[parent[b]],
            to_bus=buses[b],
            capacity_kwh=float(rng.uniform(0, 6)),
            wheeling_fee_eur_per_kwh=float(rng.choice([0.0, rng.uniform(0, 0.05)])),
        )
        for b in range(1, n_bus)
    )
    transformer = None if rng.random() < 0.5 else float(rng.uniform(0, 10))
    grid = Grid(
        root="b0",
        buses=tuple(buses),
        lines=lines,
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
        transformer_capacity_kwh=transformer,
    )
    bids = []
    for i in range(int(rng.integers(1, 13))):
        side = Side.SELL if rng.random() < 0.5 else Side.BUY
        segments = tuple(
            {"energy_kwh": float(rng.uniform(0.1, 5)), "price_eur_per_kwh": float(p)}
            for p in rng.uniform(0.0, 0.45, int(rng.integers(1, 3)))
        )
        bids.append(
            Bid(
                bid_id=f"x{i:02d}",
                participant=f"p{int(rng.integers(0, 5))}",
                bus=buses[int(rng.integers(0, n_bus))],
                interval=INTERVAL,
                side=side,
                segments=segments,
                green_only=side is Side.BUY and rng.random() < 0.2,
            )
        )
    return grid, bids


@DIFF
@given(generic_markets())
def test_with_a_unique_optimum_the_dispatch_and_trades_agree(
    market: tuple[Grid, list[Bid]],
) -> None:
    grid, bids = market
    ref, fast = _both(grid, bids)
    assert fast.welfare_eur == pytest.approx(ref.welfare_eur, abs=TOL)
    for bid_id, kwh in ref.cleared_kwh.items():
        assert fast.cleared_kwh[bid_id] == pytest.approx(kwh, abs=1e-7), bid_id
    assert fast.grid_import_kwh == pytest.approx(ref.grid_import_kwh, abs=1e-7)
    assert fast.grid_export_kwh == pytest.approx(ref.grid_export_kwh, abs=1e-7)
    for bus, price in ref.prices_eur_per_kwh.items():
        assert fast.prices_eur_per_kwh[bus] == pytest.approx(price, abs=TOL), bus
    assert fast.green_premium_eur_per_kwh == pytest.approx(ref.green_premium_eur_per_kwh, abs=TOL)
    assert fast.wheeling_fees_eur == pytest.approx(ref.wheeling_fees_eur, abs=TOL)
    if fast.cleared_kwh == ref.cleared_kwh:
        assert fast.trades == ref.trades


def test_auto_keeps_pyomo_for_small_books_and_records_the_backend() -> None:
    book = [make_bid("s", "sell", 2, 0.1), make_bid("b", "buy", 2, 0.2)]
    assert "pyomo" in clear(book, make_grid(), INTERVAL).solver
    assert clear(book, make_grid(), INTERVAL, backend="highs").solver.startswith("highspy-")


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        clear([make_bid("b", "buy", 1, 0.2)], make_grid(), INTERVAL, backend="glpk")  # type: ignore[arg-type]
    assert err.value.code == "unknown-backend"
