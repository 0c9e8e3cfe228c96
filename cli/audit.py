"""`voisin audit LEDGER`: re-clear every interval from the ledger and compare byte for byte."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from voisin.cli.ledger_proof import existing_ledger
from voisin.market.audit import COLUMNS, AuditReport, audit_ledger

_SHORT = {
    "bids": "bid",
    "prices": "price",
    "trades": "trade",
    "payments": "pay",
    "settlements": "settle",
}


def _table(report: AuditReport, db: Path) -> Table:
    table = Table(
        title=f"Re-clearing {db} from the ledger alone",
        box=box.SIMPLE_HEAD,
        caption="bids, prices, trades, payments, settlements: ok when re-derived byte for byte",
    )
    table.add_column("interval", no_wrap=True)
    for name in ("block", "bids", "trades"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for name in COLUMNS:
        table.add_column(_SHORT[name], no_wrap=True, min_width=len(_SHORT[name]))
    for row in report.rows:
        marks = ["[green]ok[/]" if row.found[c] is None else "[bold red]DIFF[/]" for c in COLUMNS]
        if not row.settled and row.found["settlements"] is None:
            marks[-1] = "open"
        table.add_row(row.interval, str(row.height), str(row.bids), str(row.trades), *marks)
    return table


def run_audit(
    db: Path, console: Console, *, operator: str | None = None, head: str | None = None
) -> int:
    """Re-clear ``db``, then print the table and a verdict (``show_audit``)."""
    report = audit_ledger(existing_ledger(db), operator=operator, head_hash=head)
    return show_audit(report, db, console)


def show_audit(report: AuditReport, db: Path, console: Console) -> int:
    """Print the table and a verdict: 0 when every interval reproduces, 1 otherwise."""
    console.print(_table(report, db))
    for line in report.software:
        console.print(f"[yellow]note[/]: solver {line}", highlight=False)
    first = report.first
    total = len(report.rows)
    if first is None:
        console.print(
            f"[bold green]audit[/]: {report.reproduced}/{total} intervals re-cleared "
            "and re-settled byte for byte",
            highlight=False,
        )
        return 0
    interval, found = first
    where = f"interval {interval}, " if interval else ""
    console.print(
        f"[bold red]audit[/]: {report.reproduced}/{total} intervals reproduce; "
        f"first difference: {where}{found}",
        highlight=False,
        markup=True,
    )
    return 1
