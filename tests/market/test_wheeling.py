"""Wheeling fees: hand-worked cases on a two-bus feeder, both backends, and the edges.

The feeder is R (root, a seller at 0.10 EUR/kWh) -> A (a buyer at 0.25 EUR/kWh);
retail 0.30, feed-in 0.05. A fee of 0.02 EUR/kWh on the line costs every kWh moved.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from voisin.market import clear, grid_hash
from voisin.protocol import Grid, Line

from .conftest import INTERVAL, make_bid
from .test_known_answers import rule_ranges

TOL = 1e-9
BACKENDS = ("pyomo", "highs")


def _feeder(capacity: float, fee: float, *, reversed_line: bool = False) -> Grid:
    ends = {"from": "A", "to": "R"} if reversed_line else {"from": "R", "to": "A"}
    return Grid(
        root="R",
        buses=("R", "A"),
        lines=(Line(**ends, capacity_kwh=capacity, wheeling_fee_eur_per_kwh=fee),),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )


BOOK = [make_bid("s", "sell", 5, 0.10, "R"), make_bid("b", "buy", 3, 0.25, "A")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reversed_line", [False, True])
def test_below_its_limit_a_line_makes_prices_differ_by_exactly_its_fee(
    backend: str, reversed_line: bool
) -> None:
    # 3 kWh go R -> A: welfare 3 * (0.25 - 0.10 - 0.02) = 0.39. The seller is partly
    # accepted, so R is priced at 0.10; the line is neither empty nor full, so A is
    # dearer by exactly the fee. The fee (0.06 EUR) is the whole gap: no rent.
    result = clear(
        BOOK, _feeder(10.0, 0.02, reversed_line=reversed_line), INTERVAL, backend=backend
    )  # type: ignore[arg-type]
    assert result.welfare_eur == pytest.approx(0.39, abs=TOL)
    assert result.cleared_kwh == {"b": 3.0, "s": 3.0}
    assert result.prices_eur_per_kwh == pytest.approx({"R": 0.10, "A": 0.12}, abs=TOL)
    assert result.wheeling_fees_eur == pytest.approx(0.06, abs=TOL)
    assert result.congestion_rent_eur == pytest.approx(0.0, abs=TOL)
    paid = sum(t.paid_eur for t in result.trades)
    received = sum(t.received_eur for t in result.trades)
    assert paid == pytest.approx(0.36, abs=TOL)
    assert received == pytest.approx(0.30, abs=TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_full_line_earns_its_fee_and_rent_beyond_it(backend: str) -> None:
    # Only 2 kWh fit: the buyer is partly served (A at 0.25), the seller partly (R at
    # 0.10). Fees 2 * 0.02 = 0.04; rent 2 * (0.15 - 0.02) = 0.26.
    result = clear(BOOK, _feeder(2.0, 0.02), INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.cleared_kwh == {"b": 2.0, "s": 2.0}
    assert result.prices_eur_per_kwh == pytest.approx({"R": 0.10, "A": 0.25}, abs=TOL)
    assert result.wheeling_fees_eur == pytest.approx(0.04, abs=TOL)
    assert result.congestion_rent_eur == pytest.approx(0.26, abs=TOL)
    assert result.welfare_eur == pytest.approx(2 * (0.25 - 0.10 - 0.02), abs=TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fee_above_the_gain_stops_trade_and_bounds_the_price_gap(backend: str) -> None:
    # 0.25 - 0.10 < 0.20: nothing crosses the line. R: seller rejected (<= 0.10), export
    # unused (>= 0.05): [0.05, 0.10]. A: buyer rejected (>= 0.25), and at most the fee
    # above R (an idle line allows a gap of the fee either way): <= 0.10 + 0.20.
    grid = _feeder(10.0, 0.20)
    result = clear(BOOK, grid, INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.cleared_kwh == {"b": 0.0, "s": 0.0}
    assert result.trades == ()
    assert result.wheeling_fees_eur == 0.0
    low, high = rule_ranges(grid, BOOK)
    assert low.tolist() == pytest.approx([0.05, 0.25], abs=TOL)
    assert high.tolist() == pytest.approx([0.10, 0.30], abs=TOL)
    assert result.prices_eur_per_kwh == pytest.approx({"R": 0.075, "A": 0.275}, abs=TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_imports_pay_the_fee_of_every_line_they_cross(backend: str) -> None:
    # Chain R -> A -> B, fees 0.01 and 0.02, a buyer at B and no local seller: the
    # import price 0.30 plus 0.03 of fees sets B's price.
    grid = Grid(
        root="R",
        buses=("R", "A", "B"),
        lines=(
            Line(from_bus="R", to_bus="A", capacity_kwh=9, wheeling_fee_eur_per_kwh=0.01),
            Line(from_bus="B", to_bus="A", capacity_kwh=9, wheeling_fee_eur_per_kwh=0.02),
        ),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )
    result = clear([make_bid("b", "buy", 2, 0.40, "B")], grid, INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.grid_import_kwh == pytest.approx(2.0, abs=TOL)
    assert result.prices_eur_per_kwh == pytest.approx({"R": 0.30, "A": 0.31, "B": 0.33}, abs=TOL)
    assert result.wheeling_fees_eur == pytest.approx(0.06, abs=TOL)
    assert result.welfare_eur == pytest.approx(2 * (0.40 - 0.33), abs=TOL)


def test_a_fee_must_be_finite_and_not_negative() -> None:
    for bad in (-0.01, float("inf"), float("nan")):
        with pytest.raises(ValidationError):
            Line(from_bus="R", to_bus="A", capacity_kwh=1, wheeling_fee_eur_per_kwh=bad)


def test_a_grid_without_fees_keeps_its_file_form_and_hash() -> None:
    plain = {
        "root": "R",
        "buses": ["R", "A"],
        "lines": [{"from": "R", "to": "A", "capacity_kwh": 1.0}],
        "import_price_eur_per_kwh": 0.3,
        "export_price_eur_per_kwh": 0.05,
        "transformer_capacity_kwh": None,
    }
    grid = Grid.model_validate(plain)
    assert grid.model_dump(mode="json", by_alias=True) == plain
    with_fee = _feeder(1.0, 0.01)
    assert "wheeling_fee_eur_per_kwh" in with_fee.model_dump(mode="json", by_alias=True)["lines"][0]
    assert grid_hash(with_fee) != grid_hash(_feeder(1.0, 0.0))
    assert grid_hash(_feeder(1.0, 0.0)) == grid_hash(grid)
