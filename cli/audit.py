"""`voisin audit LEDGER`: re-clear every interval from the ledger and compare byte for byte."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from voisin.cli.ledger_proof import existing_ledger, shown
from voisin.cli.progress import count_bar
from voisin.errors import InvalidInput
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
    db: Path,
    console: Console,
    *,
    operator: str | None = None,
    head: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> int:
    """Re-clear ``db`` (a city ledger from its curves: ``city.audit``; a whole city's
    folder or database: ``run_city_audit``, on ``workers`` Dask workers or the
    ``scheduler``'s), then print the table and a verdict (``show_audit``)."""
    from voisin.city.audit import audit_city_ledger, is_city_ledger
    from voisin.city.places import city_ledgers
    from voisin.city.run import check_workers

    check_workers(workers)
    if city_ledgers(db).is_city():  # a folder or database of a city's ledgers
        return run_city_audit(
            db, console, operator=operator, head=head, workers=workers, scheduler=scheduler
        )
    source = existing_ledger(db)  # nothing there: say so before what the options need
    if workers != 1 or scheduler is not None:
        raise InvalidInput(
            f"{shown(db)} is one ledger; --workers and --scheduler audit a city's ledgers",
            code="not-a-city",
        )
    audit = audit_city_ledger if is_city_ledger(source) else audit_ledger
    report = audit(source, operator=operator, head_hash=head)
    return show_audit(report, db, console)


def show_audit(report: AuditReport, db: Path, console: Console) -> int:
    """Print the table and a verdict: 0 when every interval reproduces, 1 otherwise."""
    console.print(_table(report, db))
    for line in report.software:
        console.print(f"[yellow]note[/]: solver {line}", highlight=False)
    first = report.first
    total = len(report.rows)
    if first is None:
        open_ = sum(not row.settled for row in report.rows)
        said = (
            f"{report.reproduced}/{total} intervals re-cleared and re-settled byte for byte"
            if not open_
            else f"{total}/{total} intervals re-cleared byte for byte, "
            f"{report.reproduced} re-settled ({open_} not settled on this ledger)"
        )
        console.print(f"[bold green]audit[/]: {said}", highlight=False)
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


def run_city_audit(
    place: Path,
    console: Console,
    *,
    operator: str | None = None,
    head: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> int:
    """Audit every ledger of a city (``city.audit.audit_city``), in this process or, with
    more than one worker or a scheduler, one Dask task per ledger; one Rich bar over the
    ledgers; print one row per ledger and one verdict: 0 when every interval of every
    ledger reproduces and every link holds, 1 otherwise."""
    from voisin.city.audit import audit_city
    from voisin.city.run import dask_client
    from voisin.city.tasks import in_process, on_cluster

    with ExitStack() as stack:
        parallel = workers > 1 or scheduler is not None
        spread = (
            on_cluster(stack.enter_context(dask_client(workers, scheduler)))
            if parallel
            else in_process
        )
        progress = stack.enter_context(count_bar(console, "auditing ledgers", transient=True))
        task = progress.add_task("ledgers", total=None)
        audit = audit_city(
            place,
            operator=operator,
            head_hash=head,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            map_ledgers=spread,
        )
    table = Table(
        title=f"Re-clearing the city at {shown(place)} from its ledgers alone",
        box=box.SIMPLE_HEAD,
        caption="intervals re-cleared (and re-settled) byte for byte, links to the city ledger",
    )
    table.add_column("ledger", no_wrap=True)
    table.add_column("reproduced", justify="right", no_wrap=True)
    table.add_column("first difference")
    for ledger in audit.ledgers:
        said = ledger.first
        table.add_row(
            ledger.name,
            f"{ledger.reproduced}/{ledger.total}",
            "[green]none[/]" if said is None else f"[bold red]{escape(said)}[/]",
        )
    console.print(table)
    for line in sorted({s for led in audit.ledgers if led.report for s in led.report.software}):
        console.print(f"[yellow]note[/]: solver {line}", highlight=False)
    intervals = sum(ledger.total for ledger in audit.ledgers)
    first = audit.first
    if first is None:
        console.print(
            f"[bold green]audit[/]: the city ledger and {len(audit.ledgers) - 1} feeder "
            f"ledgers, {intervals} intervals re-cleared and re-settled byte for byte, "
            "every link holds",
            highlight=False,
        )
        return 0
    bad = sum(ledger.first is not None for ledger in audit.ledgers)
    console.print(
        f"[bold red]audit[/]: {bad} of {len(audit.ledgers)} ledgers differ; first: "
        f"{escape(first.name)}: {escape(first.first or '')}",
        highlight=False,
    )
    return 1
