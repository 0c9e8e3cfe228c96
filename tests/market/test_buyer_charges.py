"""Per-buyer local charges in the clearing LP (``formulation``, "Per-buyer charges"): each
buyer pays its own charge on what it takes from neighbours, none on what the upstream
grid supplies, and the LP gives the grid's energy to the buyers who owe the most."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from voisin.errors import InvalidInput
from voisin.market.engine import run_interval
from voisin.market.formulation import build_program
from voisin.market.lp_highs import Solution, SolveStatus, solve_program
from voisin.market.network import Network
from voisin.market.publish import publish
from voisin.market.segments import SegmentBook, book_of
from voisin.protocol import Bid, Grid, Segment, Side

IMPORT, EXPORT = 0.30, 0.05


def _net(charge: float = 0.0) -> Network:
    return Network.of(
        Grid(
            root="R",
            buses=("R",),
            import_price_eur_per_kwh=IMPORT,
            export_price_eur_per_kwh=EXPORT,
            local_charge_eur_per_kwh=charge,
        )
    )


def _book(
    sell: list[bool], kwh: list[float], price: list[float], charge: list[float] | None
) -> SegmentBook:
    n = len(sell)
    return SegmentBook.of(
        np.zeros(n, dtype=np.int64),
        np.array(sell),
        np.array(kwh),
        np.array(price),
        bus_count=1,
        charge_eur_per_kwh=None if charge is None else np.array(charge),
    )


def _solve(book: SegmentBook, net: Network) -> tuple[Solution, object]:
    program = build_program(book, net)
    solution = solve_program(program)
    assert solution.status is SolveStatus.OPTIMAL
    return solution, program


def test_two_sellers_two_buyers_with_different_charges() -> None:
    """Sellers 2 kWh at 0.10 and 2 kWh at 0.12; buyers 3 kWh each at 0.40, owing 0.02
    and 0.08 per local kWh. 4 kWh are local, 2 come from the grid at 0.30. Giving the
    grid's 2 kWh to the 0.08 buyer charges 3 x 0.02 + 1 x 0.08 = 0.14 (the other way
    round, 1 x 0.02 + 3 x 0.08 = 0.26), so welfare is 2.40 - 0.44 - 0.60 - 0.14 = 1.22.
    The reference charge is 0.02, the second buyer's excess 0.06. It is partly served
    from the grid, so the import credit's dual y is its excess, 0.06, and the bus price
    is 0.30 - 0.06 = 0.24: sellers net 0.24 - 0.02 = 0.22, the first buyer pays
    0.24 + min(0, y) = 0.22 + its 0.02, the second 0.24 + min(0.06, y) = 0.30, which is
    0.22 + its 0.08 and the import price alike."""
    book = _book(
        [True, True, False, False],
        [2, 2, 3, 3],
        [0.10, 0.12, 0.40, 0.40],
        [0.0, 0.0, 0.02, 0.08],
    )
    solution, program = _solve(book, _net(0.05))
    assert solution.objective == pytest.approx(1.22)
    np.testing.assert_allclose(solution.values(program, "q"), [2, 2, 3, 3], atol=1e-9)
    assert solution.values(program, "grid_import") == pytest.approx([2.0])
    assert solution.values(program, "grid_served") == pytest.approx([2.0])  # the 0.08 buyer
    price = -solution.duals(program, "balance")[0]
    credit = abs(float(solution.duals(program, "import_credit")[0]))
    assert price == pytest.approx(0.24)
    assert credit == pytest.approx(0.06)
    reference, excess = book.local_charges(0.05)
    assert reference == 0.02
    buyer_pays = price + np.minimum(excess[2:], credit)
    np.testing.assert_allclose(buyer_pays, [0.24, 0.30])
    np.testing.assert_allclose(buyer_pays - np.array([0.02, 0.08]), price - reference)


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_the_published_clearing_of_the_two_by_two_case(backend: str) -> None:
    """Through the engine and the publisher (either backend): the rule's price is the
    LP's 0.24 (the import is marginal, less the credit) and the published welfare
    charges each buyer its own charge on its local kWh, 1.22 as worked above."""
    book = _book(
        [True, True, False, False],
        [2, 2, 3, 3],
        [0.10, 0.12, 0.40, 0.40],
        [0.0, 0.0, 0.02, 0.08],
    )
    net = _net(0.05)
    outcome = run_interval(book, net, backend=backend)  # type: ignore[arg-type]
    np.testing.assert_allclose(outcome.prices.bus_eur_per_kwh, [0.24])
    published = publish(book, net, outcome, "2026-06-22T12:00Z")
    assert published.welfare_eur == pytest.approx(1.22)
    assert published.grid_import_kwh == pytest.approx(2.0)


def test_a_bid_has_one_charge() -> None:
    with pytest.raises(InvalidInput, match="share its local charge"):
        SegmentBook.of(
            [0, 0],
            [False, False],
            [1.0, 1.0],
            [0.3, 0.2],
            [0, 0],
            bus_count=1,
            charge_eur_per_kwh=np.array([0.01, 0.02]),
        )


def test_equal_charges_give_todays_program() -> None:
    """Every buyer owing the same charge: no excess, no new column or row, and the LP is
    the one-wedge LP at that charge, array for array."""
    sell, kwh, price = [True, False, False], [2.0, 1.0, 3.0], [0.1, 0.35, 0.3]
    given_charges = build_program(_book(sell, kwh, price, [0.0, 0.07, 0.07]), _net(0.01))
    uniform = build_program(_book(sell, kwh, price, None), _net(0.07))
    assert not given_charges.has("grid_served")
    assert not given_charges.has("import_credit")
    for a, b in zip(given_charges.bounds(), uniform.bounds(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(given_charges.csc(), uniform.csc(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_charge_above_the_retail_gap_is_refused() -> None:
    book = _book([True, False], [1.0, 1.0], [0.1, 0.4], [0.0, IMPORT - EXPORT + 0.01])
    with pytest.raises(InvalidInput, match="above the gap"):
        build_program(book, _net())


def _pairwise_optimum(book: SegmentBook) -> float:
    """The same market written trade by trade: a kWh from seller s to buyer b is worth
    value_b - ask_s - charge_b, an import to b value_b - import price, an export of s
    the export price - ask_s; each segment trades at most its kWh."""
    sellers, buyers = np.flatnonzero(book.sell), np.flatnonzero(~book.sell)
    p, v = book.price_eur_per_kwh, book.price_eur_per_kwh
    charge = book.charge_eur_per_kwh
    assert charge is not None
    ns, nb = len(sellers), len(buyers)
    worth = [v[b] - p[s] - charge[b] for s in sellers for b in buyers]
    worth += [v[b] - IMPORT for b in buyers] + [EXPORT - p[s] for s in sellers]
    rows = np.zeros((ns + nb, ns * nb + nb + ns))
    for i in range(ns):
        rows[i, i * nb : (i + 1) * nb] = 1.0
        rows[i, ns * nb + nb + i] = 1.0
    for j in range(nb):
        rows[ns + j, j : ns * nb : nb] = 1.0
        rows[ns + j, ns * nb + j] = 1.0
    caps = np.concatenate([book.energy_kwh[sellers], book.energy_kwh[buyers]])
    result = linprog(-np.array(worth), A_ub=rows, b_ub=caps, bounds=(0, None), method="highs")
    assert result.status == 0
    return float(-result.fun)


segment = st.tuples(
    st.booleans(),
    st.integers(1, 40).map(lambda k: k / 10),
    st.integers(0, 50).map(lambda k: k / 100),
    st.integers(0, 25).map(lambda k: k / 100),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(segment, min_size=1, max_size=7), st.integers(0, 25).map(lambda k: k / 100))
def test_welfare_is_the_trade_by_trade_optimum(
    rows: list[tuple[bool, float, float, float]], community: float
) -> None:
    """Random books with random per-buyer charges: the LP's welfare equals the optimum
    of the market written trade by trade (each local kWh charged its buyer's charge),
    whatever the community's own charge, and the published welfare (rounded kWh) is
    that optimum too."""
    sell = [r[0] for r in rows]
    book = _book(sell, [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    net = _net(community)
    solution, _ = _solve(book, net)
    assert solution.objective == pytest.approx(_pairwise_optimum(book), abs=1e-7)
    published = publish(book, net, run_interval(book, net), "2026-06-22T12:00Z")
    assert published.welfare_eur == pytest.approx(solution.objective, abs=1e-6)


def test_with_losses_the_grid_serves_the_dearest_charge() -> None:
    """A lossy LinDistFlow feeder R - A (0.4 kV, 1 km of 0.1 ohm, two loss passes): a
    seller of 2 kWh at A, two buyers of 3 kWh at A owing 0.01 and 0.09. Imports cover
    the 4 kWh short and the line's losses: the 0.09 buyer takes 3 kWh of it (its excess
    over the 0.01 reference credited in full); the 0.01 buyer takes the seller's 2 kWh
    and 1 kWh imported, charged at the reference on sold less exported, 2 kWh; the
    losses are bought at the import price and owe no charge."""
    grid = Grid.model_validate(
        {
            "root": "R",
            "buses": ["R", "A"],
            "lines": [
                {
                    "from": "R",
                    "to": "A",
                    "length_km": 1.0,
                    "r_ohm_per_km": 0.1,
                    "x_ohm_per_km": 0.0,
                    "max_i_ka": 1.0,
                }
            ],
            "import_price_eur_per_kwh": IMPORT,
            "export_price_eur_per_kwh": EXPORT,
            "load_power_factor": 1.0,
        }
    )
    net = Network.of(grid)
    book = SegmentBook.of(
        [1, 1, 1],
        [True, False, False],
        [2.0, 3.0, 3.0],
        [0.10, 0.40, 0.40],
        bus_count=2,
        charge_eur_per_kwh=np.array([0.0, 0.01, 0.09]),
    )
    outcome = run_interval(book, net)
    imported = float(outcome.values("grid_import")[0])
    assert imported > 4.0  # the shortfall and the losses
    assert outcome.values("grid_served") == pytest.approx([3.0])  # all of the 0.09 buyer
    published = publish(book, net, outcome, "2026-06-22T12:00Z")
    losses = imported - 4.0
    expected = 6 * 0.40 - 2 * 0.10 - IMPORT * imported - 0.01 * 2.0
    assert published.welfare_eur == pytest.approx(expected, abs=1e-6)
    assert 0 < losses < 0.1


@settings(max_examples=60, deadline=None)
@given(st.lists(segment, min_size=1, max_size=7), st.integers(0, 25).map(lambda k: k / 100))
def test_the_rule_prices_balance_the_money(
    rows: list[tuple[bool, float, float, float]], community: float
) -> None:
    """The prices per-buyer charges call for, read from the price rule's duals: a buyer
    pays its bus price plus min(excess, y), y the import credit's dual; a seller
    receives the bus price less the reference charge; the grid is paid the root price
    plus y for the import and pays the root price less the reference for the export.
    Then buyers pay exactly what sellers and the grid receive plus the local charges
    (the reference on sold less exported, each buyer's excess on its local kWh), every
    buyer pays at most its limit and every seller receives at least its ask."""
    sell = np.array([r[0] for r in rows])
    book = _book(list(sell), [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    net = _net(community)
    outcome = run_interval(book, net)
    program, dual = outcome.program, outcome.prices.dual
    price = float(outcome.prices.bus_eur_per_kwh[0])
    reference, excess = book.local_charges(net.local_charge_eur_per_kwh)
    credit = float(dual[program.rows("import_credit")][0]) if program.has("import_credit") else 0.0
    served = np.zeros(book.segment_count)
    served[excess > 0] = outcome.values("grid_served")
    q = outcome.values("q")
    imported = float(outcome.values("grid_import")[0])
    exported = float(outcome.values("grid_export")[0])
    pays = np.where(sell, price - reference, price + np.minimum(excess, credit))
    buyers_pay = float(pays[~sell] @ q[~sell])
    received = float(pays[sell] @ q[sell]) + (price + credit) * imported
    received -= (price - reference) * exported
    charges = reference * (q[sell].sum() - exported) + float(excess @ (q - served))
    assert buyers_pay == pytest.approx(received + charges, abs=1e-7)
    cleared = q > 1e-9
    limit = book.price_eur_per_kwh
    assert np.all(pays[cleared & ~sell] <= limit[cleared & ~sell] + 1e-9)
    assert np.all(pays[cleared & sell] >= limit[cleared & sell] - 1e-9)


def test_book_of_takes_each_buyers_charge() -> None:
    """Charges by participant land on that participant's segments; others owe the
    network's; without charges the book has none (the one-wedge LP)."""
    bids = [
        Bid(
            bid_id=f"b{i}",
            participant=name,
            bus="R",
            interval="2026-06-22T12:00Z",
            side=side,
            segments=tuple(Segment(energy_kwh=1.0, price_eur_per_kwh=p) for p in prices),
        )
        for i, (name, side, prices) in enumerate(
            [("ann", Side.BUY, (0.3, 0.2)), ("bob", Side.BUY, (0.25,)), ("cy", Side.SELL, (0.1,))]
        )
    ]
    net = _net(0.04)
    book = book_of(bids, net, {"ann": 0.09})
    assert book.charge_eur_per_kwh is not None
    np.testing.assert_array_equal(book.charge_eur_per_kwh, [0.09, 0.09, 0.04, 0.04])
    assert book_of(bids, net).charge_eur_per_kwh is None
    assert book_of(bids, net, {}).charge_eur_per_kwh is None
