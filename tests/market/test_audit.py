"""`voisin audit`: a simulated day re-clears from its ledger alone, 96 of 96 intervals,
and a copy whose operator changed a price, a trade, a reward or a settlement and re-signed
it is caught at the right interval, with the first difference named."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from tests.ledger.forge import at, blocks, copy_ledger, first, fund, repaid, resign, shift_prices
from voisin.cli.audit import show_audit
from voisin.cli.main import main
from voisin.cli.simulation import SimulationReport
from voisin.ledger import verify_ledger
from voisin.market.audit import AuditReport, audit_ledger
from voisin.protocol import KeyPair

OPERATOR = KeyPair.derive("seed", 7, "operator")


@pytest.fixture
def day(default_day: SimulationReport) -> Path:
    """The ledger of `voisin simulate` with its defaults (30 households, 96 intervals)."""
    return Path(default_day.ledger_path)


@pytest.fixture
def copy(day: Path, tmp_path: Path) -> Path:
    return copy_ledger(day, tmp_path / "lie.sqlite")


@pytest.mark.slow
def test_a_simulated_day_reproduces_96_of_96(day: Path) -> None:
    report = audit_ledger(day, operator=OPERATOR.public_hex)
    assert len(report.rows) == report.reproduced == 96
    assert sum(row.trades for row in report.rows) > 0
    assert report.first is None
    code, out = _shown(report, day)
    assert code == 0
    assert "96/96 intervals re-cleared and re-settled byte for byte" in out


def test_audit_command_on_a_missing_ledger_is_one_line(tmp_path: Path) -> None:
    assert main(["audit", str(tmp_path / "none.sqlite")]) == 2


def _shown(report: AuditReport, path: Path) -> tuple[int, str]:
    """What `voisin audit` prints for ``report`` (one audit serves both checks)."""
    console = Console(record=True, width=200, soft_wrap=True)
    code = show_audit(report, path, console)
    return code, console.export_text()


def _interval_of(path: Path, height: int) -> str:
    return next(b["interval"] for k, b in blocks(path)[height][1] if k == "clearing")


def _first_difference(path: Path) -> tuple[str | None, int, int | None, str]:
    return _difference(audit_ledger(path))


def _difference(report: AuditReport) -> tuple[str | None, int, int | None, str]:
    found = report.first
    assert found is not None
    interval, difference = found
    return interval, difference.height, difference.index, difference.rule


@pytest.mark.slow
def test_prices_moved_with_their_trades_and_payments(copy: Path) -> None:
    """Consistent arithmetic, so verify passes; re-clearing names the clearing."""
    height, index = first(copy, "clearing", lambda b: b["trade_count"] > 0)
    resign(copy, OPERATOR, shift_prices(copy, height, index))
    verify_ledger(copy)
    report = audit_ledger(copy)
    assert _difference(report) == (_interval_of(copy, height), height, index, "clearing")
    code, out = _shown(report, copy)
    assert code == 1
    assert "95/96 intervals reproduce; first difference" in out
    assert f"block {height}, transaction {index}: rule clearing: price_parts_eur_per_kwh." in out
    assert "; prices_eur_per_kwh." in out


@pytest.mark.slow
def test_a_trade_moved_to_another_buyer(copy: Path) -> None:
    """Two neighbours' trades swapped and repaid: every bid still covers its trades."""
    height, index = first(
        copy, "trade", lambda b: b["kind"] == "p2p" and not b["seller_bid_id"].startswith("!gift")
    )
    target = blocks(copy)[height][1][index][1]

    def smaller(b: dict) -> dict:
        return {**b, "energy_kwh": round(b["energy_kwh"] / 2, 9)} if b == target else b

    resign(copy, OPERATOR, repaid(fund(copy), height, smaller))
    assert _first_difference(copy) == (_interval_of(copy, height), height, index, "trade")


@pytest.mark.slow
def test_a_reward_or_a_settlement_changed(copy: Path, day: Path, tmp_path: Path) -> None:
    height, index = first(copy, "reward")
    resign(
        copy, OPERATOR, at(height, index, lambda b: {**b, "amount_micro": b["amount_micro"] + 1})
    )
    interval = blocks(copy)[height][1][index][1]["interval"]
    assert _first_difference(copy) == (interval, height, index, "reward")

    other = copy_ledger(day, tmp_path / "settlement.sqlite")
    height, index = first(other, "settlement", lambda b: not b["estimated"])
    resign(
        other,
        OPERATOR,
        at(height, index, lambda b: {**b, "imbalance_kwh": round(b["imbalance_kwh"] + 0.001, 9)}),
    )
    interval = blocks(other)[height][1][index][1]["interval"]
    assert _first_difference(other) == (interval, height, index, "settlement")
