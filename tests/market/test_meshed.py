"""Meshed grids through the linear DC model: a hand-worked triangle, then properties of
random meshed books in both backends (flows = PTDF x injections within limits, prices
that support the dispatch, money balance)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from voisin.market import clear
from voisin.market.dc_flow import dc_flows, ptdf
from voisin.protocol import Bid, ClearingResult, Grid, Line

from .conftest import INTERVAL, make_bid
from .test_differential import _supports as supports
from .test_properties import _injections, markets

TOL = 1e-7
BACKENDS = ("pyomo", "highs")
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def triangle(*, meshed: bool = True) -> Grid:
    """R, A, B joined pairwise by equal reactances; only R -> B is weak (1.2 kWh)."""
    return Grid(
        root="R",
        buses=("R", "A", "B"),
        meshed=meshed,
        lines=(
            Line(from_bus="R", to_bus="A", capacity_kwh=10),
            Line(from_bus="A", to_bus="B", capacity_kwh=10),
            Line(from_bus="R", to_bus="B", capacity_kwh=1.2),
        ),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )


BOOK = [
    make_bid("sr", "sell", 10, 0.10, "R"),
    make_bid("sa", "sell", 5, 0.20, "A"),
    make_bid("bb", "buy", 3, 0.40, "B"),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_triangle_with_a_weak_line_prices_by_its_loop_shares(backend: str) -> None:
    # A kWh from R to B takes R -> B directly (reactance 1) or R -> A -> B (2): 2/3 and
    # 1/3 of it load R -> B. From A to B: 1/3 loads R -> B (via A -> R -> B). With r kWh
    # from R and a from A serving B's 3 kWh, R -> B carries (2r + a)/3 = (r + 3)/3
    # <= 1.2, so r <= 0.6 and a = 2.4: welfare 1.2 - 0.06 - 0.48 = 0.66. Both sellers
    # are partly accepted: R at 0.10, A at 0.20. With eta the value of 1 kWh more on the
    # weak line, A = R + eta/3 gives eta = 0.30, and B = R + 2 eta/3 = 0.30.
    result = clear(BOOK, triangle(), INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.welfare_eur == pytest.approx(0.66, abs=1e-9)
    assert result.cleared_kwh == pytest.approx({"bb": 3.0, "sa": 2.4, "sr": 0.6}, abs=1e-9)
    assert result.prices_eur_per_kwh == pytest.approx({"R": 0.10, "A": 0.20, "B": 0.30}, abs=1e-9)
    flows = dc_flows(triangle(), {"R": 0.6, "A": 2.4, "B": -3.0})
    assert flows == pytest.approx([-0.6, 1.8, 1.2], abs=1e-9)  # R -> A runs backwards
    # Rent 0.36 = eta x 1.2: the weak line earns 0.24, A -> B 0.18, and R -> A carries
    # energy from dear A to cheap R, a loop flow that costs it 0.06.
    assert result.congestion_rent_eur == pytest.approx(0.36, abs=1e-9)
    paid = sum(t.paid_eur for t in result.trades)
    assert paid == pytest.approx(0.90, abs=1e-9)


def test_loops_need_the_meshed_flag() -> None:
    with pytest.raises(ValidationError, match="meshed"):
        triangle(meshed=False)
    assert (
        "meshed"
        not in Grid.model_validate(
            {
                "root": "R",
                "buses": ["R"],
                "import_price_eur_per_kwh": 0.3,
                "export_price_eur_per_kwh": 0.05,
            }
        ).model_dump()
    )
    assert triangle().model_dump()["meshed"] is True


def test_ptdf_rows_move_injections_to_the_root() -> None:
    grid = triangle()
    matrix = ptdf(grid)
    assert matrix.shape == (3, 3)
    assert matrix[:, 0] == pytest.approx([0, 0, 0])
    # A kWh injected at B reaches R: 2/3 over B -> R directly, 1/3 over B -> A -> R.
    assert matrix[:, 2] == pytest.approx([-1 / 3, -1 / 3, -2 / 3])


@st.composite
def meshed_markets(draw: st.DrawFn) -> tuple[Grid, list[Bid]]:
    """``markets()`` books on their tree plus one or two extra lines (loops), with
    random reactances."""
    radial, bids = draw(markets())
    buses = radial.buses
    lines = [
        line.model_copy(update={"reactance_ohm": draw(st.sampled_from([0.5, 1.0, 2.0]))})
        for line in radial.lines
    ]
    if len(buses) >= 2:
        for _ in range(draw(st.integers(1, 2))):
            a, c = draw(st.lists(st.sampled_from(buses), min_size=2, max_size=2, unique=True))
            lines.append(
                Line(
                    from_bus=a,
                    to_bus=c,
                    capacity_kwh=draw(st.sampled_from([0.0, 0.5, 2.0, 10.0])),
                    wheeling_fee_eur_per_kwh=draw(st.sampled_from([0.0, 0.02])),
                    reactance_ohm=draw(st.sampled_from([0.5, 1.0, 2.0])),
                )
            )
    grid = Grid.model_validate({**radial.model_dump(), "lines": lines, "meshed": True})
    return grid, bids


def _supports(bids: list[Bid], prices: ClearingResult, dispatch: ClearingResult) -> None:
    """``prices`` (with its green premium) support ``dispatch``'s quantities."""
    supports(prices.prices_eur_per_kwh, bids, dispatch, prices.green_premium_eur_per_kwh)


@FAST
@given(meshed_markets())
def test_meshed_clearing_is_feasible_supported_and_balanced(
    market: tuple[Grid, list[Bid]],
) -> None:
    grid, bids = market
    ref, fast = (clear(bids, grid, INTERVAL, backend=b) for b in BACKENDS)  # type: ignore[arg-type]
    assert fast.welfare_eur == pytest.approx(ref.welfare_eur, abs=TOL)
    for result in (ref, fast):
        injection = _injections(grid, bids, result)
        flows = dc_flows(grid, injection)
        for line, flow in zip(grid.lines, flows, strict=True):
            assert abs(flow) <= line.capacity_kwh + 1e-6
        fees = sum(
            ln.wheeling_fee_eur_per_kwh * abs(f) for ln, f in zip(grid.lines, flows, strict=True)
        )
        assert result.wheeling_fees_eur == pytest.approx(fees, abs=1e-8)
        paid = sum(t.paid_eur for t in result.trades)
        received = sum(t.received_eur for t in result.trades)
        assert paid == pytest.approx(
            received + result.congestion_rent_eur + result.wheeling_fees_eur, abs=1e-7
        )
        prices = result.prices_eur_per_kwh
        line_rent = sum(
            f * (prices[ln.to_bus] - prices[ln.from_bus])
            for ln, f in zip(grid.lines, flows, strict=True)
        )
        assert result.congestion_rent_eur == pytest.approx(line_rent - fees, abs=1e-6)
        assert result.congestion_rent_eur >= -1e-6
    # Any optimal prices support any optimal dispatch (complementary slackness).
    for prices in (ref, fast):
        for dispatch in (ref, fast):
            _supports(bids, prices, dispatch)


@FAST
@given(markets(green=False))
def test_a_tree_cleared_as_meshed_reaches_the_radial_optimum(
    market: tuple[Grid, list[Bid]],
) -> None:
    grid, bids = market
    meshed = Grid.model_validate({**grid.model_dump(), "meshed": True})
    radial = clear(bids, grid, INTERVAL)
    for backend in BACKENDS:
        result = clear(bids, meshed, INTERVAL, backend=backend)  # type: ignore[arg-type]
        assert result.welfare_eur == pytest.approx(radial.welfare_eur, abs=TOL)
        assert np.all(np.isfinite(list(result.prices_eur_per_kwh.values())))
        _supports(bids, result, radial)
