"""The clearing's published physics (``ClearingResult.physics``) against this package's
reference: a real clearing on the default feeder, read through the ledger adapter's
``published_state`` and checked in AC."""

from __future__ import annotations

import pytest

from voisin.agents.scenario import default_grid
from voisin.cli.grid_states import published_state
from voisin.errors import InvalidInput
from voisin.grid import AcModel, lindistflow
from voisin.grid.day_check import check_day, check_interval
from voisin.market import MarketRules, clear
from voisin.protocol import Bid

INTERVAL = "2026-06-22T12:00Z"


def _book(grid) -> list[Bid]:  # noqa: ANN001
    far, near = grid.buses[-1], grid.buses[2]
    return [
        Bid(
            bid_id="pv",
            participant="p-pv",
            bus=far,
            interval=INTERVAL,
            side="sell",
            segments=({"energy_kwh": 10.0, "price_eur_per_kwh": 0.05},),
            inflexible=True,
        ),
        Bid(
            bid_id="buy",
            participant="p-buy",
            bus=near,
            interval=INTERVAL,
            side="buy",
            segments=({"energy_kwh": 6.0, "price_eur_per_kwh": 0.25},),
        ),
    ]


def test_lossless_clearing_voltages_are_the_lindistflow_reference() -> None:
    grid = default_grid()
    result = clear(_book(grid), grid, INTERVAL, minutes=15, rules=MarketRules(loss_passes=1))
    assert result.physics is not None
    injections, predicted = published_state(result.physics.model_dump(mode="json"))
    reference = lindistflow(grid, injections)
    # The LP's LinDistFlow rows and the independent power flow: the same voltages and
    # flows on the default feeder, transformer included.
    for bus in grid.buses:
        assert predicted[bus] == pytest.approx(reference.vm_pu[bus], abs=1e-8), bus
    assert result.physics.line_p_kw == pytest.approx(reference.line_p_kw, abs=1e-6)
    assert result.physics.transformer_p_kw == pytest.approx(reference.import_p_kw, abs=1e-6)
    checked = check_interval(AcModel(grid), INTERVAL, injections, predicted)
    assert checked.predicted_by == "clearing"
    assert checked.ac.voltage_error is not None
    assert checked.ac.voltage_error.max_abs_pu < 1e-3
    assert not checked.ac.voltage_error.below_ac  # lossless LinDistFlow: above AC


def test_published_states_run_through_the_day_check() -> None:
    grid = default_grid()
    states = []
    for minute in ("12:00", "12:15"):
        interval = f"2026-06-22T{minute}Z"
        book = [b.model_copy(update={"interval": interval}) for b in _book(grid)]
        result = clear(book, grid, interval, minutes=15)
        assert result.physics is not None
        injections, predicted = published_state(result.physics.model_dump(mode="json"))
        states.append((interval, grid, injections, predicted))
    day = check_day(states)
    assert [c.predicted_by for c in day.intervals] == ["clearing", "clearing"]
    assert day.minutes == 15
    assert day.violation_count == 0


def test_a_malformed_physics_part_is_one_line() -> None:
    with pytest.raises(InvalidInput, match="published physics rejected"):
        published_state({"voltage_pu": {"A": 1.0}})
