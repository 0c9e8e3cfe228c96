"""The table `voisin simulate` prints at the end of a run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from voisin.cli.simulation import SimulationReport


def _saving(bill: float, baseline: float) -> str:
    if abs(baseline) < 1e-9:
        return "-"
    return f"{(baseline - bill) / abs(baseline):+.1%}"


def render_summary(report: SimulationReport, console: Console) -> None:
    acc = report.accounts
    cfg = report.config
    energy = Table(title=f"Energy, {cfg.days} day(s) x {1440 // cfg.minutes} intervals")
    energy.add_column("route")
    energy.add_column("kWh", justify="right")
    energy.add_row("peer to peer", f"{acc.p2p_kwh:,.1f}")
    for group, kwh in sorted(acc.p2p_by_buyer_group.items()):
        energy.add_row(f"  of which bought by {group}", f"{kwh:,.1f}")
    if acc.gifted_kwh:
        energy.add_row("  of which gifted by contract", f"{acc.gifted_kwh:,.1f}")
    energy.add_row("bought from the grid", f"{acc.grid_import_kwh:,.1f}")
    energy.add_row("sold to the grid", f"{acc.grid_export_kwh:,.1f}")
    console.print(energy)

    bills = Table(title="Bills against a grid-only baseline (EUR, + = saving)")
    for name in ("group", "members", "bill", "grid-only", "saving"):
        bills.add_column(name, justify="left" if name == "group" else "right")
    for group, (members, bill, baseline) in acc.by_group().items():
        bills.add_row(group, str(members), f"{bill:,.2f}", f"{baseline:,.2f}",
                      _saving(bill, baseline))
    console.print(bills)

    ledger = Table(title="Market and ledger")
    ledger.add_column("item")
    ledger.add_column("value", justify="right")
    rejected = sum(report.rejected.values())
    reasons = ", ".join(f"{code} {n}" for code, n in sorted(report.rejected.items()))
    ledger.add_row("bids accepted / rejected", f"{report.bids - rejected} / {rejected}"
                   + (f" ({reasons})" if reasons else ""))
    ledger.add_row("tokens paid peer to peer", f"{acc.tokens_paid:,.2f}")
    ledger.add_row("tokens minted as green rewards", f"{report.minted_tokens:,.2f}")
    ledger.add_row("congestion rent (EUR)", f"{acc.congestion_rent_eur:,.2f}")
    if acc.wheeling_fees_eur:
        ledger.add_row("wheeling fees (EUR)", f"{acc.wheeling_fees_eur:,.2f}")
    ledger.add_row("estimated meter readings", str(acc.estimated_readings))
    ledger.add_row("ledger height", str(report.ledger_height))
    ledger.add_row("ledger transactions", f"{report.transactions:,}")
    ledger.add_row("ledger", "verified" if report.verified else "NOT verified")
    ledger.add_row("file", str(report.ledger_path))
    console.print(ledger)
