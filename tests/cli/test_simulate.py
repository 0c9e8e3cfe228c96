"""End to end: the simulation writes a ledger that verifies, deterministically."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from voisin.cli.simulation import LEDGER_FILE, SimulationConfig, run_simulation
from voisin.errors import InvalidInput, VerificationError
from voisin.ledger import statement_for, verify_ledger

from .conftest import run_voisin

SMALL = {"households": 8, "minutes": 60, "start": date(2026, 6, 22)}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("run")
    return run_simulation(SimulationConfig(out=out, **SMALL))


@pytest.mark.slow
def test_small_day_trades_and_verifies(small_run) -> None:
    acc = small_run.accounts
    assert small_run.intervals == 24
    assert small_run.verified
    assert acc.p2p_kwh > 0, "a sunny June day must give some peer-to-peer energy"
    assert small_run.rejected == {}
    assert acc.gifted_kwh > 0, "the default gift contract sends some energy to the school"
    assert small_run.minted_tokens > 0
    # Every participant's bill and the grid-only baseline are both accounted.
    assert len(acc.bills) == SMALL["households"] + 1


def test_money_balances_and_the_community_saves(small_run) -> None:
    """What participants pay each other nets to the grid legs plus congestion rent, and
    on a sunny day the neighbourhood as a whole pays less than with the grid alone."""
    acc = small_run.accounts
    market = sum(b.market_eur for b in acc.bills.values())
    assert market == pytest.approx(
        acc.grid_legs_eur + acc.congestion_rent_eur + acc.wheeling_fees_eur, abs=1e-6
    )
    bills = sum(b.total_eur for b in acc.bills.values())
    baseline = sum(b.baseline_eur for b in acc.bills.values())
    assert bills < baseline


@pytest.mark.slow
def test_same_seed_same_ledger_bytes(small_run, tmp_path: Path) -> None:
    """The module's run against a second one in another folder and a third, other seed."""
    a = small_run
    b = run_simulation(SimulationConfig(out=tmp_path / "b", **SMALL))
    c = run_simulation(SimulationConfig(out=tmp_path / "c", seed=8, **SMALL))
    bytes_a = a.ledger_path.read_bytes()
    assert bytes_a == b.ledger_path.read_bytes()
    assert bytes_a != c.ledger_path.read_bytes()


def test_without_the_gift_contract_nothing_is_gifted(tmp_path: Path) -> None:
    run = run_simulation(SimulationConfig(out=tmp_path, gift_share=0, **SMALL))
    assert run.accounts.gifted_kwh == 0
    assert run.verified


def test_existing_ledger_is_not_overwritten(small_run) -> None:
    with pytest.raises(InvalidInput, match="overwrite"):
        run_simulation(SimulationConfig(out=small_run.config.out, **SMALL))


def test_edited_row_is_named_by_verify(small_run, tmp_path: Path) -> None:
    copy = tmp_path / LEDGER_FILE
    copy.write_bytes(small_run.ledger_path.read_bytes())
    with sqlite3.connect(copy) as db:
        height, idx = db.execute(
            "SELECT height, idx FROM transactions WHERE kind = 'trade' ORDER BY height, idx LIMIT 1"
        ).fetchone()
        db.execute(
            "UPDATE transactions SET body = replace(body, '\"energy_kwh\":', '\"energy_kwh\":1')"
            " WHERE height = ? AND idx = ?",
            (height, idx),
        )
    with pytest.raises(VerificationError) as err:
        verify_ledger(copy)
    assert err.value.height == height


@pytest.mark.slow
def test_cli_simulate_then_verify(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    run = run_voisin(
        "simulate", "--households", "6", "--minutes", "60", "--out", str(out), "--quiet"
    )
    assert run.returncode == 0, run.stderr
    assert "verified" in run.stdout
    assert "peer to peer" in run.stdout
    check = run_voisin("ledger", "verify", str(out / LEDGER_FILE))
    assert check.returncode == 0, check.stderr
    again = run_voisin("simulate", "--households", "6", "--out", str(out), "--quiet")
    assert again.returncode == 2
    assert "overwrite" in again.stderr
    assert "Traceback" not in again.stderr


def test_cli_rejects_bad_settings_in_one_line() -> None:
    run = run_voisin("simulate", "--households", "0")
    assert run.returncode == 2
    assert "households" in run.stderr
    assert "Traceback" not in run.stderr
    missing = run_voisin("ledger", "verify", "/nonexistent/ledger.sqlite")
    assert missing.returncode == 2
    assert "no ledger" in missing.stderr


def test_statements_from_the_ledger_agree_with_the_run_totals(small_run) -> None:
    """Each member's statement, recomputed from the ledger file alone (gifts free),
    matches the bill the run kept in memory."""
    for pid, bill in small_run.accounts.bills.items():
        s = statement_for(small_run.ledger_path, pid)
        market = s.p2p_bought_eur + s.grid_import_eur - s.p2p_sold_eur - s.grid_export_eur
        assert market == pytest.approx(bill.market_eur, abs=1e-4), bill.participant.group
        assert s.imbalance_eur == pytest.approx(bill.imbalance_eur, abs=1e-4)


def test_summary_names_site_dates_weather_and_the_energy_balance(small_run) -> None:
    from rich.console import Console

    from voisin.cli.summary import render_summary

    console = Console(record=True, width=120)
    render_summary(small_run, console)
    text = console.export_text()
    assert "Lyon (45.76 N, 4.84 E), 2026-06-22, seed 7" in text
    assert "Weather: mannheim reference year resampled; 2026-06-22" in text
    assert "clear-sky index" in text
    for row in (
        "PV produced",
        "load",
        "battery charged",
        "battery discharged",
        "import from the grid",
        "export to the grid",
    ):
        assert row in text
    assert "persistence" in text
    assert "day-ahead" in text
    peaks = re.search(
        r"Household peak load \(\d+-min mean\): lowest ([\d.]+) kW, median ([\d.]+) kW, "
        r"highest ([\d.]+) kW",
        text,
    )
    assert peaks is not None
    lowest, median, highest = (float(v) for v in peaks.groups())
    # homes' own meters, not the ledger's public readings (which carry no load)
    assert 0 < lowest <= median <= highest
    assert highest >= 1.0


def test_energy_balance_adds_up_and_imbalances_are_plausible(small_run) -> None:
    """Meters: PV + import + discharge = load + export + charge. Forecasts miss, so what
    was metered differs from what was bid, by a fraction of the energy that flowed."""
    m = small_run.accounts.metered
    assert m["pv"] + m["import"] + m["battery discharge"] == pytest.approx(
        m["load"] + m["export"] + m["battery charge"], abs=0.05
    )
    assert m["pv"] > 0
    missed = small_run.below_bid_kwh + small_run.above_bid_kwh
    assert 0.02 * (m["import"] + m["export"]) < missed < m["import"] + m["export"]
    assert small_run.accounts.imbalance_short_kwh > 0
    assert small_run.accounts.imbalance_surplus_kwh > 0


def test_long_runs_open_with_allowances_that_last(tmp_path: Path) -> None:
    """A year of the school's peer-to-peer purchases outgrew the 500-token opening (the
    ledger refused the block as an overdraft); the opening now scales with the run."""
    from voisin.agents import default_neighbourhood
    from voisin.cli.simulation import OPENING_ALLOWANCE_MICRO, opening_allowance_micro

    scenario = default_neighbourhood()
    assert opening_allowance_micro(scenario, 1) == OPENING_ALLOWANCE_MICRO
    year = opening_allowance_micro(scenario, 365)
    assert year >= 45_000 * 0.25 * 1_000_000  # the school could buy all it uses


@pytest.mark.slow
def test_adaptive_bidders_learn_and_the_ledger_verifies(tmp_path: Path) -> None:
    """Every agent bidding ZIP (learning from each clearing): the day still clears,
    trades locally, settles and verifies."""
    scenario = tmp_path / "zip.toml"
    scenario.write_text('strategy = "zip"\n')
    run = run_simulation(SimulationConfig(out=tmp_path / "out", scenario=scenario, **SMALL))
    assert run.verified
    assert run.accounts.p2p_kwh > 0
