"""`voisin report RUN_DIR`: one self-contained HTML page of a run, from its ledger alone.

Every number comes from ``voisin.ledger.figures`` (the summary's, the dashboard's and
the statements' own definitions) after ``verify_ledger`` has accepted the chain, so the
page agrees with `voisin ledger verify` and with every statement. Plots are inline SVG
(``report_svg``): the file opens with no network and runs no script.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from voisin.cli.ledger_proof import existing_ledger
from voisin.cli.outputs import REPORT_FILE, refuse_existing_file, write_output
from voisin.cli.report_svg import bar_chart, legend, line_chart
from voisin.errors import InvalidInput
from voisin.ledger import verify_ledger
from voisin.ledger.figures import TOKEN_WORTH, IntervalFigures, LedgerFigures, tokens
from voisin.ledger.sealed import SEALED_FILE
from voisin.ledger.store import is_database_url, sqlite_files

MAX_BUSES_PLOTTED = 10
"""Price lines drawn one per bus up to this many; beyond, the cheapest, median and
dearest bus of each interval."""

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 900px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { padding: .2em .8em; border-bottom: 1px solid #e5e5e5; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.chart { width: 100%; height: auto; font-size: 11px; fill: #333; }
.legend { display: flex; flex-wrap: wrap; gap: .3em 1em; font-size: 12px; }
.key i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
         vertical-align: -1px; }
.note { color: #666; font-size: 12px; }
"""


def _label(interval: str, multi_day: bool) -> str:
    """``2026-06-22T12:00Z`` -> ``12:00`` (``06-22 12:00`` over several days)."""
    day, _, rest = interval.partition("T")
    clock = rest[:5]
    return f"{day[5:]} {clock}" if multi_day else clock


def _figure(name: str, value: float | int, shown: str) -> str:
    """A table cell that shows ``shown`` and carries the exact value for checking."""
    return f'<td data-figure="{name}" data-value="{value!r}">{escape(shown)}</td>'


def _totals(f: LedgerFigures, supply_micro: int) -> str:
    rows: list[tuple[str, str, float | int, str]] = [
        ("peer to peer (kWh)", "p2p_kwh", f.p2p_kwh, f"{f.p2p_kwh:,.1f}"),
        ("of it gifted by contract (kWh)", "gifted_kwh", f.gifted_kwh, f"{f.gifted_kwh:,.1f}"),
        ("bought from the grid, cleared (kWh)", "grid_import_kwh", f.grid_import_kwh,
         f"{f.grid_import_kwh:,.1f}"),
        ("sold to the grid, cleared (kWh)", "grid_export_kwh", f.grid_export_kwh,
         f"{f.grid_export_kwh:,.1f}"),
        ("imbalance bought from the retailer (kWh)", "imbalance_short_kwh",
         f.imbalance_short_kwh, f"{f.imbalance_short_kwh:,.1f}"),
        ("imbalance sold to the retailer (kWh)", "imbalance_surplus_kwh",
         f.imbalance_surplus_kwh, f"{f.imbalance_surplus_kwh:,.1f}"),
        ("peer-to-peer share of purchases", "p2p_share", f.p2p_share, f"{f.p2p_share:.1%}"),
        ("community self-sufficiency", "self_sufficiency", f.self_sufficiency,
         f.self_sufficiency_text()),
        ("tokens paid peer to peer", "paid_p2p_micro", f.paid_p2p_micro,
         f"{tokens(f.paid_p2p_micro):,.2f}"),
        ("tokens minted as green rewards", "minted_micro", f.minted_micro,
         f"{tokens(f.minted_micro):,.2f}"),
        ("token supply at the head", "supply_micro", supply_micro,
         f"{tokens(supply_micro):,.2f}"),
        ("estimated meter readings", "estimated_readings", f.estimated_readings,
         f"{f.estimated_readings:,}"),
    ]  # fmt: skip
    body = "".join(
        f"<tr><td>{escape(label)}</td>{_figure(k, v, s)}</tr>" for label, k, v, s in rows
    )
    return f"<table>{body}</table>"


def _prices(labels: Sequence[str], ivs: Sequence[IntervalFigures]) -> str:
    buses = sorted({bus for i in ivs for bus in i.prices_eur_per_kwh})
    if len(buses) <= MAX_BUSES_PLOTTED:
        series = {b: [i.prices_eur_per_kwh.get(b) for i in ivs] for b in buses}
        note = ""
    else:

        def pick(i: IntervalFigures, at: float) -> float | None:
            ps = sorted(i.prices_eur_per_kwh.values())
            return ps[round(at * (len(ps) - 1))] if ps else None

        series = {
            name: [pick(i, at) for i in ivs]
            for name, at in (("cheapest bus", 0.0), ("median bus", 0.5), ("dearest bus", 1.0))
        }
        note = (
            f"<p class=note>{len(buses)} buses: the cheapest, median and dearest each interval.</p>"
        )
    chart = line_chart("nodal prices", labels, series, "EUR/kWh", fmt=".3f")
    return chart + legend(list(series)) + note


def _energy(labels: Sequence[str], ivs: Sequence[IntervalFigures]) -> str:
    series = {
        "peer to peer": [i.p2p_kwh for i in ivs],
        "from the grid (cleared)": [i.grid_import_kwh for i in ivs],
        "from the retailer (imbalance)": [i.imbalance_short_kwh for i in ivs],
    }
    chart = bar_chart("energy bought", labels, series, "kWh bought", fmt=".2f", stacked=True)
    return chart + legend(list(series))


def _physics(labels: Sequence[str], ivs: Sequence[IntervalFigures]) -> str:
    states: list[dict[str, Any] | None] = [i.physics for i in ivs]
    if not any(states):
        return "<p class=note>Cleared on a transport grid: no physical state was published.</p>"

    def over(fn: Any) -> list[float | None]:
        return [fn(s) if s else None for s in states]

    volts = {
        "lowest bus voltage": over(lambda s: min(s["voltage_pu"].values())),
        "highest bus voltage": over(lambda s: max(s["voltage_pu"].values())),
    }
    loading = {
        "most loaded line": over(lambda s: max(s["line_loading_pct"], default=0.0)),
        "transformer": over(lambda s: s["transformer_loading_pct"]),
    }
    binding = sum(bool(s and s.get("binding")) for s in states)
    return (
        line_chart("voltages", labels, volts, "voltage (pu)", fmt=".3f")
        + legend(list(volts))
        + line_chart("loading", labels, loading, "loading (%)", fmt=".1f", floor_zero=True)
        + legend(list(loading))
        + f"<p class=note>As the clearing predicted them (LinDistFlow); {binding:,} "
        "interval(s) with a binding limit.</p>"
    )


def _battery(labels: Sequence[str], ivs: Sequence[IntervalFigures]) -> str:
    if not any(i.battery_kwh for i in ivs):
        return (
            "<p class=note>No battery energy on the ledger: public readings carry import "
            "and export only; the battery's charge is in each owner's sealed reading.</p>"
        )
    stored, level = [], 0.0
    for i in ivs:
        level -= i.battery_kwh  # discharge is positive in readings
        stored.append(level)
    chart = line_chart("batteries", labels, {"stored since the start": stored}, "kWh", fmt=".2f")
    return chart + (
        "<p class=note>Energy the members' batteries hold relative to the start, from "
        "the metered charge and discharge (capacities are not on the ledger).</p>"
    )


def _bills(f: LedgerFigures) -> str:
    groups = f.by_group()
    names = list(groups)
    series = {
        "bill": [groups[g][1] for g in names],
        "grid-only baseline": [groups[g][2] for g in names],
    }
    rows = "".join(
        f"<tr><td>{escape(g)}</td><td>{m:,}</td>"
        + _figure(f"bill_eur:{g}", bill, f"{bill:,.2f}")
        + _figure(f"baseline_eur:{g}", base, f"{base:,.2f}")
        + "</tr>"
        for g, (m, bill, base) in groups.items()
    )
    table = (
        "<table><tr><th>group</th><th>members</th><th>bill (EUR)</th>"
        f"<th>grid-only (EUR)</th></tr>{rows}</table>"
    )
    return bar_chart("bills", names, series, "EUR") + legend(list(series)) + table


def _tokens(labels: Sequence[str], ivs: Sequence[IntervalFigures]) -> str:
    series = {
        "paid peer to peer": [tokens(i.paid_micro) for i in ivs],
        "minted as rewards": [tokens(i.minted_micro) for i in ivs],
    }
    return bar_chart("tokens", labels, series, "tokens", fmt=".3f") + legend(list(series))


def render_report(ledger_path: Path | str) -> str:
    """The report's HTML for the ledger at ``ledger_path`` (a file or a PostgreSQL URL),
    verified first."""
    verified = verify_ledger(ledger_path)
    f = LedgerFigures.from_ledger(ledger_path)
    ivs = [f.intervals[k] for k in sorted(f.intervals) if f.intervals[k].status]
    multi_day = len({i.interval[:10] for i in ivs}) > 1
    labels = [_label(i.interval, multi_day) for i in ivs]
    span = f"{ivs[0].interval} to {ivs[-1].interval}" if ivs else "no cleared interval"
    sections = [
        ("Totals", _totals(f, verified.supply_micro)),
        ("Prices per bus", _prices(labels, ivs)),
        ("Energy bought: peer to peer against the grid", _energy(labels, ivs)),
        ("The feeder: voltages and loading", _physics(labels, ivs)),
        ("Battery state of charge", _battery(labels, ivs)),
        ("Bills against the grid-only baseline, per group", _bills(f)),
        (f"Tokens per interval ({TOKEN_WORTH})", _tokens(labels, ivs)),
    ]
    body = "".join(f"<section><h2>{escape(t)}</h2>{html}</section>" for t, html in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>voisin report {escape(span)}</title><style>{_CSS}</style></head><body>"
        f"<h1>voisin: {escape(span)}</h1>"
        f"<p>Ledger {escape(_name(ledger_path))}, height {verified.height:,}, head "
        f"<code>{escape(verified.head_hash[:16])}</code>: <b data-figure=verified>verified</b> "
        f"({verified.transactions:,} transactions, {len(ivs):,} intervals cleared, "
        f"{len(f.participants):,} participants). Every figure below is computed from the "
        "ledger alone.</p>"
        f"{body}</body></html>\n"
    )


def _name(source: Path | str) -> str:
    """The ledger as the page names it: a file's name; a database never with its URL
    (which may carry a password)."""
    return source.name if isinstance(source, Path) else "in PostgreSQL"


def write_report(run_dir: Path | str, out: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write ``report.html`` beside the run's ledger (or to ``out``); returns its path.
    ``run_dir`` may be a PostgreSQL URL, then ``out`` says where the page goes. An
    existing page is replaced only with ``overwrite``, and never the ledger it reads."""
    if is_database_url(run_dir):
        target = out or Path(REPORT_FILE)
        refuse_existing_file(target, overwrite=overwrite)
        return write_output(target, render_report(str(run_dir)), overwrite=overwrite)
    ledger_path = Path(existing_ledger(run_dir))
    target = out or ledger_path.parent / REPORT_FILE
    refuse_existing_file(target, overwrite=overwrite)  # before the ledger is read
    kept = [*sqlite_files(ledger_path), ledger_path.parent / SEALED_FILE]
    if target.exists() and any(f.exists() and f.samefile(target) for f in kept):
        raise InvalidInput(
            f"--out {target} is the run's own ledger or sealed file", code="bad-output"
        )
    return write_output(target, render_report(ledger_path), overwrite=overwrite)
