"""Every hand-worked market in shared/testdata/clearing clears to its known answer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from voisin.market import clear, grid_hash, uniform_auction
from voisin.market.engine import run_interval
from voisin.market.network import Network
from voisin.market.segments import book_of
from voisin.protocol import Bid, ClearingStatus, Grid

INTERVAL = "2026-06-21T12:00Z"
TOL = 1e-9


def _testdata() -> Path | None:
    env = os.environ.get("VOISIN_TESTDATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
    return path.resolve() if path.is_dir() else None


TESTDATA = _testdata()
CASES = sorted((TESTDATA / "clearing").glob("*.json")) if TESTDATA else []
SINGLE_BUS = [p for p in CASES if not json.loads(p.read_text())["grid"]["lines"]]


def test_testdata_present() -> None:
    if TESTDATA is None:
        if os.environ.get("CI"):
            pytest.fail("shared/testdata is missing beside the repository")
        pytest.skip("shared/testdata not found beside the repository")
    assert len(CASES) >= 7


def _load(path: Path) -> tuple[Grid, list[Bid], dict]:
    case = json.loads(path.read_text())
    grid = Grid.model_validate(case["grid"])
    bids = [
        Bid(
            bid_id=b["id"],
            participant=f"p-{b['id']}",
            bus=b["bus"],
            interval=INTERVAL,
            side=b["side"],
            segments=({"energy_kwh": b["kwh"], "price_eur_per_kwh": b["price_eur_per_kwh"]},),
        )
        for b in case["bids"]
    ]
    return grid, bids, case


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_clears_to_known_answer(path: Path) -> None:
    grid, bids, case = _load(path)
    expect = case["expect"]
    result = clear(bids, grid, INTERVAL)

    assert result.status is ClearingStatus.OPTIMAL
    assert result.welfare_eur == pytest.approx(expect["welfare_eur"], abs=TOL)
    assert set(result.cleared_kwh) == set(expect["cleared_kwh"])
    for bid_id, kwh in expect["cleared_kwh"].items():
        assert result.cleared_kwh[bid_id] == pytest.approx(kwh, abs=TOL), bid_id
    assert result.grid_import_kwh == pytest.approx(expect["grid_import_kwh"], abs=TOL)
    assert result.grid_export_kwh == pytest.approx(expect["grid_export_kwh"], abs=TOL)
    assert set(result.prices_eur_per_kwh) == set(expect["price_eur_per_kwh"])
    for bus, (low, high) in expect["price_eur_per_kwh"].items():
        assert low - TOL <= result.prices_eur_per_kwh[bus] <= high + TOL, bus
    if "congestion_rent_eur" in expect:
        assert result.congestion_rent_eur == pytest.approx(expect["congestion_rent_eur"], abs=TOL)
    assert result.grid_hash == grid_hash(grid)


@pytest.mark.parametrize("path", SINGLE_BUS, ids=lambda p: p.stem)
def test_single_bus_cases_match_uniform_auction(path: Path) -> None:
    grid, bids, case = _load(path)
    expect = case["expect"]
    result = uniform_auction(bids, grid)
    assert result.welfare_eur == pytest.approx(expect["welfare_eur"], abs=TOL)
    for bid_id, kwh in expect["cleared_kwh"].items():
        assert result.cleared_kwh[bid_id] == pytest.approx(kwh, abs=TOL), bid_id
    assert result.grid_import_kwh == pytest.approx(expect["grid_import_kwh"], abs=TOL)
    assert result.grid_export_kwh == pytest.approx(expect["grid_export_kwh"], abs=TOL)
    low, high = expect["price_eur_per_kwh"][grid.root]
    assert result.price_low_eur_per_kwh == pytest.approx(low, abs=TOL)
    assert result.price_high_eur_per_kwh == pytest.approx(high, abs=TOL)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_price_rule_ranges_equal_the_hand_worked_ranges(path: Path) -> None:
    """The rule's range per bus is exactly the hand-worked range; the price its midpoint."""
    grid, bids, case = _load(path)
    low, high = rule_ranges(grid, bids)
    for i, bus in enumerate(grid.buses):
        expected = case["expect"]["price_eur_per_kwh"][bus]
        assert (low[i], high[i]) == pytest.approx(tuple(expected), abs=TOL), bus
    result = clear(bids, grid, INTERVAL)
    midpoints = np.round((low + high) / 2, 9) + 0.0
    assert list(result.prices_eur_per_kwh.values()) == midpoints.tolist()


def rule_ranges(grid: Grid, bids: list[Bid]) -> tuple[np.ndarray, np.ndarray]:
    """The price rule's extreme price vectors for the Pyomo model's optimal dispatch."""
    ordered = sorted(bids, key=lambda b: b.bid_id)
    net = Network.of(grid)
    prices = run_interval(book_of(ordered, net), net, backend="pyomo").prices
    return prices.low, prices.high
