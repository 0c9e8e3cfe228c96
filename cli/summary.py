"""The table `voisin simulate` prints at the end of a run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from voisin.cli.accounts import Accounts
from voisin.cli.simulation import SimulationReport
from voisin.ledger.figures import TOKEN_WORTH, LedgerFigures, tokens


def _saving(bill: float, baseline: float) -> str:
    if abs(baseline) < 1e-9:
        return "-"
    return f"{(baseline - bill) / abs(baseline):+.1%}"


def _weather(days: list[tuple[str, float]]) -> str:
    def kind(k: float) -> str:
        return "clear" if k >= 0.8 else "broken cloud" if k >= 0.5 else "overcast"

    if len(days) <= 3:
        return ", ".join(f"{day} {kind(k)} (clear-sky index {k:.2f})" for day, k in days)
    counts = {
        name: sum(kind(k) == name for _, k in days)
        for name in ("clear", "broken cloud", "overcast")
    }
    mean = sum(k for _, k in days) / len(days)
    return f"mean clear-sky index {mean:.2f}; " + ", ".join(
        f"{n} {c} days" for c, n in counts.items()
    )


def _heading(report: SimulationReport, console: Console) -> None:
    run, site = report.run, report.site
    last = run.start.fromordinal(run.start.toordinal() + run.days - 1)
    dates = str(run.start) if run.days == 1 else f"{run.start} to {last}"
    if report.config.grid is not None:
        console.print(
            f"Grid {report.scenario_name}: SimBench's feeder and households, "
            f"{dates}, seed {run.seed}",
            highlight=False,
        )
        console.print(
            "Profiles: SimBench's own (year 2016, each day read from the same "
            "weekday nearest the same date); forecasts by persistence",
            highlight=False,
        )
        console.print(
            "Weather: not modelled (SimBench's profiles carry their own PV)",
            highlight=False,
        )
        return
    console.print(
        f"Scenario {report.scenario_name}: {site.name} ({site.latitude:.2f} N, "
        f"{site.longitude:.2f} E), {dates}, seed {run.seed}",
        highlight=False,
    )
    console.print(
        f"Weather: {site.climate} reference year resampled; {_weather(report.weather)}",
        highlight=False,
    )


def _balance(acc: Accounts) -> Table:
    m = acc.metered
    table = Table(title="Energy balance, as metered (kWh)")
    table.add_column("")
    table.add_column("kWh", justify="right")
    for label, key in (
        ("PV produced", "pv"),
        ("load", "load"),
        ("battery charged", "battery charge"),
        ("battery discharged", "battery discharge"),
        ("import from the grid", "import"),
        ("export to the grid", "export"),
    ):
        table.add_row(label, f"{m[key]:,.1f}")
    return table


def _routes(figures: LedgerFigures, title: str, load_kwh: float) -> Table:
    """Bought and sold by route, each side adding up to its total: sold minus bought is
    the metered export minus import. ``load_kwh`` (the run's own meters) gives the
    self-sufficiency the public readings cannot."""
    f = figures
    table = Table(title=title)
    table.add_column("route")
    table.add_column("bought (kWh)", justify="right")
    table.add_column("sold (kWh)", justify="right")
    paid_p2p = f.p2p_kwh - f.gifted_kwh
    table.add_row("peer to peer, paid in tokens", f"{paid_p2p:,.1f}", f"{paid_p2p:,.1f}")
    if f.gifted_kwh:
        table.add_row("peer to peer, gifted by contract", *[f"{f.gifted_kwh:,.1f}"] * 2)
    table.add_row(
        "with the grid, at the cleared prices",
        f"{f.grid_import_kwh:,.1f}",
        f"{f.grid_export_kwh:,.1f}",
    )
    table.add_row(
        "with the retailer, as imbalance",
        f"{f.imbalance_short_kwh:,.1f}",
        f"{f.imbalance_surplus_kwh:,.1f}",
    )
    bought = f.p2p_kwh + f.grid_import_kwh + f.imbalance_short_kwh
    sold = f.p2p_kwh + f.grid_export_kwh + f.imbalance_surplus_kwh
    table.add_row("[b]total[/b]", f"[b]{bought:,.1f}[/b]", f"[b]{sold:,.1f}[/b]")
    table.caption = (
        f"peer-to-peer share of purchases {f.p2p_share:.1%}; community self-sufficiency "
        f"{f.self_sufficiency_text(load_kwh)} "
        "(load not drawn through the transformer)"
    )
    return table


def _p2p_buyers(figures: LedgerFigures) -> Table:
    table = Table(title="Peer-to-peer energy by buyer group (kWh)")
    table.add_column("group")
    table.add_column("kWh", justify="right")
    for group, kwh in sorted(figures.p2p_by_buyer_group.items()):
        table.add_row(group, f"{kwh:,.1f}")
    table.add_row("[b]total[/b]", f"[b]{figures.p2p_kwh:,.1f}[/b]")
    return table


def _tokens(report: SimulationReport) -> Table:
    f = report.figures
    table = Table(title=f"Tokens ({TOKEN_WORTH})")
    table.add_column("")
    table.add_column("tokens", justify="right")
    table.add_row("paid by buyers to sellers for p2p trades", f"{tokens(f.to_sellers_micro):,.2f}")
    table.add_row("paid by buyers to the fund (congestion rent)", f"{tokens(f.rent_micro):,.2f}")
    table.add_row("[b]paid peer to peer[/b]", f"[b]{tokens(f.paid_p2p_micro):,.2f}[/b]")
    table.add_row("minted as green rewards", f"{tokens(f.minted_micro):,.2f}")
    table.add_row("supply at the head (genesis + minted)", f"{tokens(f.supply_micro):,.2f}")
    return table


def _imbalance(report: SimulationReport) -> Table:
    acc = report.figures
    table = Table(title="Imbalance: metered against bid and traded (kWh)")
    table.add_column("")
    table.add_column("kWh", justify="right")
    table.add_row("metered below the bid (forecast too high)", f"{report.below_bid_kwh:,.1f}")
    table.add_row("metered above the bid (forecast too low)", f"{report.above_bid_kwh:,.1f}")
    table.add_row("settled short of trades (at retail)", f"{acc.imbalance_short_kwh:,.1f}")
    table.add_row("settled beyond trades (at feed-in)", f"{acc.imbalance_surplus_kwh:,.1f}")
    if acc.metered["import"] + acc.metered["export"]:
        share = (acc.imbalance_short_kwh + acc.imbalance_surplus_kwh) / max(
            acc.metered["import"] + acc.metered["export"], 1e-9
        )
        table.add_row("share of metered import + export", f"{share:.0%}")
    return table


def _forecasts(report: SimulationReport) -> Table:
    table = Table(title="Forecast error (normalised mean absolute error, whole run)")
    for name in ("method", "lead time", "PV", "load"):
        table.add_column(name, justify="left" if name in ("method", "lead time") else "right")
    for row in report.forecast_errors:
        table.add_row(row.method, row.lead, f"{row.pv:.0%}", f"{row.load:.0%}")
    return table


def _peaks(report: SimulationReport) -> str:
    hours = report.run.minutes / 60
    # the run's own meter readings: the ledger's public readings carry no load
    bills = report.accounts.bills
    homes = sorted(
        kwh / hours
        for pid, kwh in report.accounts.peak_load_kwh.items()
        if pid in bills and bills[pid].participant.group != "school"
    )
    if not homes:
        return ""
    mid = homes[len(homes) // 2]
    return (
        f"Household peak load ({report.run.minutes}-min mean): lowest {homes[0]:.1f} kW, "
        f"median {mid:.1f} kW, highest {homes[-1]:.1f} kW over {len(homes)} homes"
    )


def _feeder(report: SimulationReport) -> Table:
    """What the cables and the transformer did, labelled apart from the settlement's
    market routes: physical flows, the market's prediction, and the AC check."""
    grid = report.grid
    table = Table(title="The feeder (physical, not settlement)")
    table.add_column("")
    table.add_column("cleared schedule", justify="right")
    table.add_column("AC, schedule", justify="right")
    table.add_column("AC, metered", justify="right")

    def ac(check: object, value: str) -> str:
        return "-" if check is None else value

    sched, meter = grid.scheduled, grid.metered
    table.add_row(
        "transformer import (kWh flowing in)", f"{grid.transformer_import_kwh:,.1f}", "", ""
    )
    table.add_row(
        "transformer export (kWh flowing out)", f"{grid.transformer_export_kwh:,.1f}", "", ""
    )
    table.add_row(
        "lowest voltage (pu)",
        f"{grid.min_vm_pu:.4f}",
        ac(sched, f"{sched.min_vm_pu:.4f}" if sched else ""),
        ac(meter, f"{meter.min_vm_pu:.4f}" if meter else ""),
    )
    table.add_row(
        "highest voltage (pu)",
        f"{grid.max_vm_pu:.4f}",
        ac(sched, f"{sched.max_vm_pu:.4f}" if sched else ""),
        ac(meter, f"{meter.max_vm_pu:.4f}" if meter else ""),
    )
    for label, attr in (
        ("highest line loading (%)", "max_line_loading_percent"),
        ("highest transformer loading (%)", "max_transformer_loading_percent"),
    ):
        values = [getattr(c, attr) if c else None for c in (sched, meter)]
        table.add_row(label, "", *("-" if v is None else f"{v:.1f}" for v in values))
    table.add_row(
        "losses (kWh)",
        f"{grid.losses_kwh:,.2f}",
        ac(sched, f"{sched.losses_kwh:,.2f}" if sched else ""),
        ac(meter, f"{meter.losses_kwh:,.2f}" if meter else ""),
    )
    violations = [
        (
            "-"
            if c is None
            else f"{c.violation_count} in {c.intervals_with_violations} intervals"
            if c.violation_count
            else "none"
        )
        for c in (sched, meter)
    ]
    table.add_row("limit violations", "", *violations)
    if sched is not None:
        table.add_row(
            "clearing's voltage error vs AC (pu, max)", "", f"{sched.max_voltage_error_pu:.5f}", ""
        )
    table.add_row("PV curtailed by the market (kWh)", f"{grid.curtailed_kwh:,.2f}", "", "")
    table.add_row("intervals with a binding limit", str(grid.binding_intervals), "", "")
    return table


def render_summary(report: SimulationReport, console: Console) -> None:
    """Every figure from ``report.figures``: the ledger's, as dashboard and statements."""
    f, acc = report.figures, report.accounts
    cfg = report.run
    _heading(report, console)
    console.print(_balance(acc))  # whole readings: the ledger's public ones lack PV and load
    console.print(
        _routes(
            f,
            f"Market routes, {cfg.days:,} day(s) x {1440 // cfg.minutes:,} intervals",
            acc.metered["load"],
        )
    )
    if f.p2p_kwh:
        console.print(_p2p_buyers(f))
    if report.grid.physical:
        console.print(_feeder(report))
    console.print(_imbalance(report))
    console.print(_forecasts(report))
    peaks = _peaks(report)
    if peaks:
        console.print(peaks, highlight=False)

    bills = Table(title="Bills against a grid-only baseline (EUR, + = saving)")
    charged = acc.charged
    names: tuple[str, ...] = ("group", "members", "bill", "grid-only", "saving")
    if charged:
        names += ("local charges", "saving without")
    for name in names:
        bills.add_column(name, justify="left" if name == "group" else "right")
    # the bill keeps the run's fixed part and local charges (cli/accounts.py), which
    # the ledger does not record apart; its market and imbalance parts equal the ledger's
    for group, (members, bill, baseline, local) in acc.by_group().items():
        row = [group, f"{members:,}", f"{bill:,.2f}", f"{baseline:,.2f}", _saving(bill, baseline)]
        if charged:
            row += [f"{local:,.2f}", _saving(bill - local, baseline)]
        bills.add_row(*row)
    console.print(bills)
    if charged:
        console.print(
            "local charges: network charges and levies on p2p energy "
            f"({acc.local_charge_eur_per_kwh:.4f} EUR/kWh"
            + (f"; its tariff's own for {acc.own_charges} member(s)" if acc.own_charges else "")
            + ", in the trade prices); "
            "saving without: the same trades with the charges waived",
            highlight=False,
        )
    console.print(_tokens(report))

    ledger = Table(title="Market and ledger")
    ledger.add_column("item")
    ledger.add_column("value", justify="right")
    rejected = sum(report.rejected.values())
    reasons = ", ".join(f"{code} {n:,}" for code, n in sorted(report.rejected.items()))
    ledger.add_row(
        "bids accepted / rejected",
        f"{report.bids - rejected:,} / {rejected:,}" + (f" ({reasons})" if reasons else ""),
    )
    ledger.add_row("congestion rent, every trade (EUR)", f"{acc.congestion_rent_eur:,.2f}")
    if f.wheeling_fees_eur:
        ledger.add_row("wheeling fees (EUR)", f"{f.wheeling_fees_eur:,.2f}")
    if charged:
        ledger.add_row("network charges and levies on p2p (EUR)", f"{acc.local_charges_eur:,.2f}")
    ledger.add_row("estimated meter readings", f"{f.estimated_readings:,}")
    ledger.add_row("ledger height", f"{f.height:,}")
    ledger.add_row("ledger transactions", f"{report.transactions:,}")
    ledger.add_row("ledger", "verified" if report.verified else "NOT verified")
    ledger.add_row("file", str(report.ledger_path))
    console.print(ledger)
