"""``voisin simulate --city``: a generated city through the two-level market on Dask."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from voisin.cli.outputs import StagedOutput, refuse_existing_file
from voisin.cli.progress import count_bar
from voisin.errors import InvalidInput


def simulate_city(
    source: str,
    out: Path,
    *,
    workers: int,
    scheduler: str | None,
    overwrite: bool,
    quiet: bool,
    console: Console,
    ledger: str | None = None,
) -> int:
    """Run the city, one Rich bar over every feeder-interval, then its totals. With
    ``ledger`` (a ``postgresql://`` URL) the ledgers go to that database's schemas."""
    from voisin.city.places import FolderLedgers, city_ledgers
    from voisin.city.run import RESULT_FILE, check_workers, dask_client, run_city, verify_run
    from voisin.city.scenario import mv_grid, read_city
    from voisin.ledger.store import is_database_url

    spec = read_city(source)
    check_workers(workers)
    mv_grid(spec)  # loads each SimBench feeder's grid: a bad one is one line here, not on workers
    if ledger is not None and not is_database_url(ledger):
        raise InvalidInput(f"--ledger {ledger}: expected a postgresql:// URL", code="bad-ledger")
    result = out / RESULT_FILE
    refuse_existing_file(result, overwrite=overwrite)
    entries: tuple[str, ...] = (RESULT_FILE,)
    if ledger is None:
        FolderLedgers(out).refuse(overwrite=overwrite)
        entries += FolderLedgers(out).entries
    total = spec.feeders * spec.intervals + spec.feeders  # feeder-intervals, then ledgers
    with StagedOutput(out, entries) as staged:  # the old run stays until this one is done
        if ledger is not None:  # a database's ledgers are dropped before the run (docs/city.md)
            city_ledgers(ledger).claim(overwrite=overwrite)
        with dask_client(workers, scheduler) as client:
            if quiet:
                report = run_city(spec, staged.folder, client, verify=False, ledgers=ledger)
            else:
                with count_bar(console, "feeder-intervals, then feeder ledgers") as progress:
                    task = progress.add_task("feeders", total=total)
                    report = run_city(
                        spec,
                        staged.folder,
                        client,
                        lambda n: progress.update(task, advance=n),
                        verify=False,
                        ledgers=ledger,
                    )
            report = verify_run(report, client)  # each feeder ledger a task on a worker
        staged.commit()
    report.path = result
    place = city_ledgers(ledger or out)
    table = Table(title=f"city {spec.name}: {spec.feeders} feeders, {spec.households} households")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("intervals", f"{report.intervals}"),
        ("welfare, the clearings' objective (EUR)", f"{report.welfare_eur:.2f}"),
        ("feeder to feeder (kWh)", f"{report.between_feeders_kwh:.1f}"),
        ("import from the national grid (kWh)", f"{report.grid_import_kwh:.1f}"),
        ("export to the national grid (kWh)", f"{report.grid_export_kwh:.1f}"),
        ("settled imbalance (kWh)", f"{report.imbalance_kwh:.1f}"),
        ("  of it the inflexible rest (kWh)", f"{report.rest_kwh:.1f}"),
        ("settled imbalance, to members (EUR)", f"{report.imbalance_eur:.2f}"),
        ("  the rest at bus prices (EUR)", f"{report.rest_eur:.2f}"),
        (
            "household-intervals per second",
            f"{spec.households * report.intervals / report.seconds:.0f}",
        ),
        ("result", str(report.path)),
        ("ledgers", place.described()),
        (
            "ledgers verified",
            f"city and {report.verified.feeders} feeders, {report.verified.blocks} blocks"
            if report.verified is not None
            else "no",
        ),
        (
            "seconds: clearing, ledgers, verification",
            f"{report.seconds_clearing:.1f}, {report.seconds_ledgers:.1f}, "
            f"{report.seconds_verify:.1f}",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    return 0
