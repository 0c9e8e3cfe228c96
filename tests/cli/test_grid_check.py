"""`voisin grid check`: a real simulated ledger, checked on a physical version of its
feeder; bad input is one line and exit 2."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest

from voisin.agents.scenario import default_grid
from voisin.cli.grid_states import metered_states, scheduled_states
from voisin.cli.main import main
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.errors import InvalidInput
from voisin.grid.day_check import check_day
from voisin.ledger import Ledger, SqliteStore
from voisin.ledger import transactions as tx
from voisin.market import clear
from voisin.protocol import Bid, Grid, KeyPair, TxKind

INTERVAL = "2026-06-22T12:00Z"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gridcheck")
    return run_simulation(
        SimulationConfig(out=out, households=5, minutes=60, start=date(2026, 6, 22))
    ).ledger_path


@pytest.fixture(scope="module")
def physical_grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default feeder (physical: real cables, a 250 kVA transformer) as a file."""
    path = tmp_path_factory.mktemp("grids") / "physical.json"
    path.write_text(default_grid().model_dump_json(by_alias=True))
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["grid", "check", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_scheduled_states_are_what_the_clearings_published(ledger, physical_grid) -> None:
    from voisin.cli.grid_check import load_grid

    grid = load_grid(str(physical_grid))
    states = list(scheduled_states(ledger, grid))
    store = SqliteStore(ledger, read_only=True)
    clearings = {
        t.body["interval"]: t.body
        for b in store.blocks()
        for t in b.transactions
        if t.kind is TxKind.CLEARING
    }
    store.close()
    assert [s[0] for s in states] == list(clearings)
    assert len(states) == 24
    for interval, _, injections, predicted in states:
        physics = clearings[interval].get("physics")
        if physics is None:  # an empty book: nothing scheduled
            assert (injections, predicted) == ({}, None)
            continue
        assert predicted == physics["voltage_pu"]
        assert injections == {
            bus: (p, physics["injection_kvar"][bus]) for bus, p in physics["injection_kw"].items()
        }


def _one_block_ledger(path: Path, grid: Grid, bids: list[Bid]) -> Path:
    result = clear(bids, grid, INTERVAL, minutes=60)
    with Ledger.open(path, KeyPair.derive("test", "operator")) as book:
        book.append([tx.clearing(result)], interval=INTERVAL, time="2026-06-22T12:15:00+00:00")
    return path


def test_a_ledger_cleared_on_a_transport_grid_has_no_schedule(tmp_path) -> None:
    physical = default_grid()
    transport = Grid.model_validate(
        {
            "root": physical.root,
            "buses": list(physical.buses),
            "lines": [
                {"from": ln.from_bus, "to": ln.to_bus, "capacity_kwh": 10} for ln in physical.lines
            ],
            "import_price_eur_per_kwh": 0.3,
            "export_price_eur_per_kwh": 0.05,
        }
    )
    bids = [
        Bid(
            bid_id="b",
            participant="p",
            bus="A1",
            interval=INTERVAL,
            side="buy",
            segments=({"energy_kwh": 2.0, "price_eur_per_kwh": 0.35},),
        )
    ]
    old = _one_block_ledger(tmp_path / "transport.sqlite", transport, bids)
    with pytest.raises(InvalidInput, match="--metered checks what the meters measured"):
        list(scheduled_states(old, physical))
    new = _one_block_ledger(tmp_path / "physical.sqlite", physical, bids)
    ((interval, _, injections, predicted),) = scheduled_states(new, physical)
    assert interval == INTERVAL
    assert predicted is not None
    assert injections["A1"][0] == pytest.approx(-2.0)  # 2 kWh in one hour


def test_check_prints_every_interval_and_the_day(
    ledger, physical_grid, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = _run(capsys, ledger, "--grid", physical_grid)
    assert code == 0, err
    from voisin.cli.grid_check import load_grid

    day = check_day(scheduled_states(ledger, load_grid(str(physical_grid))))
    assert "2026-06-22T00:00Z" in out
    assert "2026-06-22T23:00Z" in out
    assert "AC check, scheduled: 24 intervals, voltages predicted by clearing" in out
    assert "not the one the ledger was cleared on" not in out
    day_line = next(line for line in out.splitlines() if line.strip("│ ").startswith("day"))
    assert f"{day.min_vm_pu:.4f}" in day_line
    assert f"{day.max_vm_pu:.4f}" in day_line
    assert f"{day.losses_kwh:.2f} kWh" in day_line


def test_without_grid_the_simulated_feeder_is_recognised(
    ledger, physical_grid, capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = _run(capsys, ledger)
    assert code == 0, err
    assert "grid: the default neighbourhood's feeder" in out
    _, given, _ = _run(capsys, ledger, "--grid", physical_grid)
    assert out.split("\n", 1)[1] == given  # the same check as with the grid given
    bids = [
        Bid(
            bid_id="b",
            participant="p",
            bus="R",
            interval=INTERVAL,
            side="buy",
            segments=({"energy_kwh": 2.0, "price_eur_per_kwh": 0.35},),
        )
    ]
    grid = Grid.model_validate(
        {
            "root": "R",
            "buses": ["R"],
            "import_price_eur_per_kwh": 0.3,
            "export_price_eur_per_kwh": 0.05,
        }
    )
    other = _one_block_ledger(tmp_path / "other.sqlite", grid, bids)
    code, _, err = _run(capsys, other)
    assert code == 2
    assert "pass --grid" in err


def test_a_grid_other_than_the_cleared_one_is_noted(ledger, tmp_path, capsys, monkeypatch) -> None:
    other = tmp_path / "other.json"
    other.write_text(
        default_grid().model_copy(update={"slack_vm_pu": 1.0}).model_dump_json(by_alias=True)
    )
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = _run(capsys, ledger, "--grid", other)
    assert code == 0, err
    assert "not the one the ledger was cleared on" in out


def test_metered_states_carry_every_reading(ledger, physical_grid, capsys, monkeypatch) -> None:
    from voisin.cli.grid_check import load_grid

    grid = load_grid(str(physical_grid))
    store = SqliteStore(ledger, read_only=True)
    readings = [t.body for b in store.blocks() for t in b.transactions if t.kind is TxKind.READING]
    store.close()
    states = list(metered_states(ledger, grid))
    assert len(states) == 24
    for interval, _, injections, _ in states:
        mine = [r for r in readings if r["interval"] == interval]
        net = sum(r["export_kwh"] - r["import_kwh"] for r in mine)  # kWh in 1 h = kW
        assert sum(p for p, _ in injections.values()) == pytest.approx(net, abs=1e-9)
        # the ledger shows net flows only: imports at the load's power factor,
        # exports at the PV's (docs/privacy.md)
        imported = sum(r["import_kwh"] for r in mine)
        exported = sum(r["export_kwh"] for r in mine)
        assert -sum(q for _, q in injections.values()) == pytest.approx(
            imported * math.tan(math.acos(grid.load_power_factor))
            + exported * math.tan(math.acos(grid.pv_power_factor)),
            abs=1e-9,
        )
    assert any(p < 0 for p, _ in states[1][2].values())  # the night's consumption
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = _run(capsys, ledger, "--grid", physical_grid, "--metered")
    assert code == 0, err
    assert "AC check, metered: 24 intervals" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--grid", "missing.json"), "does not exist"),
        (("--grid", "transport.json"), "needs a physical grid"),
        (("--grid", "elsewhere.json"), "at unknown bus"),
        (("--grid", "elsewhere.json", "--metered"), "which the grid does not have"),
        (("--grid", "simbench:1-LV-nowhere--0-sw"), "unknown SimBench code"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    ledger, tmp_path, capsys, monkeypatch, args, message
) -> None:
    monkeypatch.chdir(tmp_path)
    physical = default_grid()
    Path("transport.json").write_text(
        json.dumps(
            {
                "root": physical.root,
                "buses": list(physical.buses),
                "lines": [
                    {"from": ln.from_bus, "to": ln.to_bus, "capacity_kwh": 10}
                    for ln in physical.lines
                ],
                "import_price_eur_per_kwh": 0.3,
                "export_price_eur_per_kwh": 0.05,
            }
        )
    )
    Path("elsewhere.json").write_text(
        json.dumps(
            {
                "root": "R",
                "buses": ["R", "A"],
                "import_price_eur_per_kwh": 0.3,
                "export_price_eur_per_kwh": 0.05,
                "lines": [{"from": "R", "to": "A", "length_km": 0.1, "std_type": "NAYY 4x150 SE"}],
            }
        )
    )
    code, out, err = _run(capsys, ledger, *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out
    code, _, err = _run(capsys, tmp_path / "none.sqlite", "--grid", "transport.json")
    assert code == 2
    assert "no ledger at" in err


def test_metered_checks_name_the_forecast_error_behind_each_interval(ledger, physical_grid) -> None:
    """The largest gap between metered and scheduled injection per interval: the bus
    named has the largest |metered - scheduled| P, and some interval has a non-zero one
    (the agents forecast before gate closure, so the meters differ)."""
    from voisin.cli.grid_check import forecast_errors, load_grid

    grid = load_grid(str(physical_grid))
    metered = {i: inj for i, _, inj, _ in metered_states(ledger, grid)}
    scheduled = {i: inj for i, _, inj, _ in scheduled_states(ledger, grid)}
    errors = forecast_errors(metered_states(ledger, grid), scheduled_states(ledger, grid))
    assert set(errors) == set(metered)
    for interval, (bus, gap) in errors.items():
        gaps = [
            abs(metered[interval].get(b, (0, 0))[0] - scheduled[interval].get(b, (0, 0))[0])
            for b in grid.buses
        ]
        assert abs(gap) == pytest.approx(max(gaps), abs=1e-9)
        assert bus in grid.buses
    assert any(abs(gap) > 1e-6 for _, gap in errors.values())
