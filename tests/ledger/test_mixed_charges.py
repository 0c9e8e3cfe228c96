"""A simulated day whose members owe different local charges (the households French
collective self-consumption's, the school its own tariff's): the registrations record
the school's charge, every p2p trade carries its buyer's own, the money balances, the
ledger verifies, ``voisin audit`` re-clears every interval, and an operator charging a
buyer another member's rate is caught by ``ledger verify`` (docs/economics.md,
"Per-buyer charges")."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.money import assert_bills_balance
from voisin.agents.network_tariffs import PRESETS
from voisin.cli.main import main
from voisin.cli.simulation import SimulationConfig, SimulationReport, run_simulation
from voisin.errors import VerificationError
from voisin.ledger import verify_ledger
from voisin.market.audit import audit_ledger
from voisin.protocol import KeyPair

from .forge import blocks, copy_ledger, first, fund, repaid, resign

SMALL = {"households": 8, "minutes": 60, "start": date(2026, 6, 22)}
OPERATOR = KeyPair.derive("seed", 7, "operator")
SCHOOL_EUR_PER_KWH = 0.05  # 0.02 network + 0.03 levies, below the households' 0.072
MIXED = """
[network]
preset = "fr-acc"

[tariffs.household]
import_eur_per_kwh = 0.28
export_eur_per_kwh = 0.08

[tariffs.school]
import_eur_per_kwh = 0.25
export_eur_per_kwh = 0.08
local_network_eur_per_kwh = 0.02
levies_eur_per_kwh = 0.03
fixed_eur_per_day = 1.2
"""


def _run(out: Path, text: str, **run: Any) -> SimulationReport:
    scenario = out / "scenario.toml"
    scenario.write_text(text)
    return run_simulation(SimulationConfig(out=out / "out", scenario=scenario, **run))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> SimulationReport:
    return _run(tmp_path_factory.mktemp("mixed"), MIXED, **SMALL)


def _school() -> str:
    return KeyPair.derive("seed", 7, "school").public_hex


def _rows(path: Path, kind: str) -> list[dict[str, Any]]:
    return [b for _, rows in blocks(path) for k, b in rows if k == kind]


def test_only_the_school_records_a_charge_of_its_own(mixed: SimulationReport) -> None:
    members = {b["participant_id"]: b for b in _rows(mixed.ledger_path, "registration")}
    own = {pid: b["tariff"].get("local_charge_eur_per_kwh") for pid, b in members.items()}
    assert own.pop(_school()) == SCHOOL_EUR_PER_KWH
    assert set(own.values()) == {None}  # the households owe the community's 0.072
    (terms,) = {str(b["grid"]) for b in _rows(mixed.ledger_path, "market")}
    assert "0.072" in terms


def test_each_p2p_trade_carries_its_buyers_own_charge(mixed: SimulationReport) -> None:
    """A household's local kWh costs its seller's price plus at least its 0.072 (plus
    rent where a line binds), the school's plus at least 0.05; every recorded import
    credit lies within the households' 0.022 excess over the school."""
    community = PRESETS["fr-acc"].local_charge_eur_per_kwh
    trades = [t for t in _rows(mixed.ledger_path, "trade") if t["kind"] == "p2p"]
    gaps = {
        (
            t["buyer"] == _school(),
            round(t["buyer_price_eur_per_kwh"] - t["seller_price_eur_per_kwh"], 6),
        )
        for t in trades
        if not t["seller_bid_id"].startswith("!gift")
    }
    assert any(school for school, _ in gaps)  # the school buys from neighbours
    assert (False, community) in gaps
    assert all(gap >= SCHOOL_EUR_PER_KWH - 1e-9 for school, gap in gaps if school)
    assert all(gap >= community - 1e-9 for school, gap in gaps if not school)
    credited = [
        c for c in _rows(mixed.ledger_path, "clearing") if c.get("import_credit_eur_per_kwh")
    ]
    assert all(
        0 < c["import_credit_eur_per_kwh"] <= community - SCHOOL_EUR_PER_KWH + 1e-9
        for c in credited
    )


def test_money_balances_with_each_buyers_charge(mixed: SimulationReport) -> None:
    """bills = grid legs - imbalance + rent + fees + local charges + fixed parts, the
    school's bill carrying 0.05 per p2p kWh it bought, a household's 0.072."""
    acc = mixed.accounts
    assert_bills_balance(acc)
    days = mixed.intervals * SMALL["minutes"] / 1440  # type: ignore[operator]
    fixed = {pid: bill.fixed_eur for pid, bill in acc.bills.items()}
    assert fixed.pop(_school()) == pytest.approx(1.2 * days)  # its tariff's own fixed part
    household = PRESETS["fr-acc"].fixed_eur_per_day * days
    assert fixed
    assert all(v == pytest.approx(household) for v in fixed.values())
    assert acc.own_charges == 1
    school = acc.bills[_school()]
    bought = sum(
        t["energy_kwh"]
        for t in _rows(mixed.ledger_path, "trade")
        if t["kind"] == "p2p"
        and t["buyer"] == _school()
        and not t["seller_bid_id"].startswith("!gift")
    )
    assert bought > 0
    assert school.local_charges_eur == pytest.approx(SCHOOL_EUR_PER_KWH * bought, abs=1e-6)


def test_the_day_verifies_and_the_audit_reclears_every_interval(mixed: SimulationReport) -> None:
    assert verify_ledger(mixed.ledger_path, operator=OPERATOR.public_hex).balances_ok
    report = audit_ledger(mixed.ledger_path, operator=OPERATOR.public_hex)
    assert len(report.rows) == report.reproduced == 24
    assert main(["audit", str(mixed.ledger_path)]) == 0


def test_an_operator_charging_the_school_the_households_rate(
    mixed: SimulationReport, tmp_path: Path
) -> None:
    """A p2p trade to the school priced as if the school owed 0.072 (its buyer price
    raised by the 0.022 difference) and its payment with it, re-signed: the arithmetic
    still adds up, but ``trade_prices`` with the school's registered charge does not
    give that price."""
    copy = copy_ledger(mixed.ledger_path, tmp_path / "lie.sqlite")
    height, index = first(
        copy,
        "trade",
        lambda b: (
            b["kind"] == "p2p"
            and b["buyer"] == _school()
            and not b["seller_bid_id"].startswith("!gift")
        ),
    )
    target = blocks(copy)[height][1][index][1]
    extra = PRESETS["fr-acc"].local_charge_eur_per_kwh - SCHOOL_EUR_PER_KWH

    def dearer(b: dict[str, Any]) -> dict[str, Any]:
        if b != target:
            return b
        return {**b, "buyer_price_eur_per_kwh": round(b["buyer_price_eur_per_kwh"] + extra, 9)}

    resign(copy, OPERATOR, repaid(fund(copy), height, dearer))
    with pytest.raises(VerificationError) as caught:
        verify_ledger(copy)
    assert (caught.value.height, caught.value.index, caught.value.rule) == (
        height,
        index,
        "trade-price",
    )


def test_a_tariffs_charge_beyond_the_gap_is_one_line(tmp_path: Path) -> None:
    text = MIXED.replace(
        "levies_eur_per_kwh = 0.03", 'network = "de-sharing"\nlevies_eur_per_kwh = 0.075'
    )
    text = text.replace("local_network_eur_per_kwh = 0.02\n", "")
    scenario = tmp_path / "s.toml"
    scenario.write_text(text)
    assert main(["simulate", "--scenario", str(scenario), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_the_default_day_with_mixed_charges_audits_96_of_96(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole default day (30 homes and the school, 15-minute intervals) through the
    command line: simulated, verified, and re-cleared 96 of 96 intervals by the audit
    (the AC check, which the charges do not touch, is left to tests/cli)."""
    scenario = tmp_path / "mixed.toml"
    scenario.write_text(MIXED)
    out = tmp_path / "out"
    args = ["simulate", "--scenario", str(scenario), "--out", str(out), "--quiet"]
    assert main([*args, "--no-grid-check"]) == 0
    capsys.readouterr()
    assert main(["audit", str(out / "ledger.sqlite")]) == 0
    assert "96/96 intervals re-cleared and re-settled byte for byte" in capsys.readouterr().out
