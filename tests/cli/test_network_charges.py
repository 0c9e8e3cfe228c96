"""A simulated day under French collective self-consumption charges: the money balances
with the network charges, levies and the grid settlement, and the ledger verifies."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from tests.money import assert_bills_balance
from voisin.agents.network_tariffs import PRESETS
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.errors import InvalidInput
from voisin.ledger import verify_ledger
from voisin.protocol import TradeKind

SMALL = {"households": 8, "minutes": 60, "start": date(2026, 6, 22)}


def _run(tmp: Path, network: str) -> object:
    scenario = tmp / "scenario.toml"
    scenario.write_text(network)
    return run_simulation(SimulationConfig(out=tmp / "out", scenario=scenario, **SMALL))


@pytest.fixture(scope="module")
def charged(tmp_path_factory: pytest.TempPathFactory):
    return _run(tmp_path_factory.mktemp("fr"), '[network]\npreset = "fr-acc"\n')


def test_money_balances_with_charges_levies_and_the_grid(charged) -> None:
    """Every euro a member pays lands with another member, the retailer (grid legs and
    imbalance), the network operator and the state (local charges, wheeling) or the fund
    (rent): bills = grid legs + imbalance + rent + fees + local charges + fixed parts."""
    acc = charged.accounts
    preset = PRESETS["fr-acc"]
    assert acc.local_charge_eur_per_kwh == preset.local_charge_eur_per_kwh == 0.072
    assert acc.local_charges_eur > 0
    fixed = sum(b.fixed_eur for b in acc.bills.values())
    assert fixed == pytest.approx(preset.fixed_eur_per_day * len(acc.bills))
    assert_bills_balance(acc)
    # Each bill carries the charges on its own purchases; they add up to the total.
    assert sum(b.local_charges_eur for b in acc.bills.values()) == pytest.approx(
        acc.local_charges_eur
    )
    assert verify_ledger(charged.ledger_path).balances_ok


@pytest.mark.slow
def test_charges_shrink_local_trade_and_the_saving(charged, tmp_path: Path) -> None:
    """The same day without network charges trades more locally and saves more."""
    free = _run(tmp_path, '[network]\npreset = "none"\n')
    a, b = charged.accounts, free.accounts
    assert b.local_charges_eur == 0
    assert a.p2p_kwh < b.p2p_kwh

    def saving(acc: object) -> float:
        bills = acc.bills.values()  # type: ignore[attr-defined]
        return sum(x.baseline_eur - x.total_eur for x in bills)

    assert saving(a) < saving(b)


def test_every_p2p_trade_carries_the_charge(charged) -> None:
    with sqlite3.connect(charged.ledger_path) as db:
        rows = db.execute("SELECT body FROM transactions WHERE kind = 'trade'").fetchall()
    trades = [json.loads(body) for (body,) in rows]
    p2p = [t for t in trades if t["kind"] == TradeKind.P2P.value]
    assert p2p
    for t in p2p:
        gap = t["buyer_price_eur_per_kwh"] - t["seller_price_eur_per_kwh"]
        assert gap >= 0.072 - 1e-9


def test_a_charge_beyond_the_tariff_gap_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"network: local charge 0\.2060 .* above the gap"):
        _run(tmp_path, '[network]\npreset = "de-sharing"\n')  # with 0.28/0.08 tariffs
