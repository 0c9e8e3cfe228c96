"""Summary, dashboard and statements show the same figures of one ledger, because they
all take them from ``voisin.ledger.figures``; and those equal the run's own totals."""

from __future__ import annotations

import pytest
from rich.console import Console

from voisin.cli.dashboard import LedgerFeed
from voisin.cli.simulation import SimulationReport
from voisin.cli.summary import render_summary
from voisin.ledger import statement_for
from voisin.ledger.figures import LedgerFigures, tokens


@pytest.fixture
def run(recorded_run: SimulationReport) -> SimulationReport:
    return recorded_run


def test_summary_dashboard_and_statements_agree(run: SimulationReport) -> None:
    ledger = LedgerFigures.from_ledger(run.ledger_path)
    feed = LedgerFeed(run.ledger_path)
    feed.refresh()
    dash = feed.figures
    for name in (
        "p2p_kwh",
        "gifted_kwh",
        "grid_import_kwh",
        "grid_export_kwh",
        "to_sellers_micro",
        "rent_micro",
        "minted_micro",
        "estimated_readings",
        "height",
        "head_hash",
    ):
        assert getattr(run.figures, name) == getattr(ledger, name) == getattr(dash, name), name
    assert dash.p2p_share == ledger.p2p_share > 0
    assert dash.self_sufficiency == ledger.self_sufficiency
    # every statement, computed its own way, agrees with the figures of its participant
    paid = 0
    for pid, p in ledger.participants.items():
        s = statement_for(run.ledger_path, pid)
        assert s.p2p_bought_kwh == pytest.approx(p.p2p_bought_kwh, abs=1e-9)
        assert s.p2p_sold_kwh == pytest.approx(p.p2p_sold_kwh, abs=1e-9)
        assert s.grid_import_kwh == pytest.approx(p.grid_import_kwh, abs=1e-9)
        market = s.p2p_bought_eur + s.grid_import_eur - s.p2p_sold_eur - s.grid_export_eur
        assert market == pytest.approx(p.market_eur, abs=1e-5)
        assert s.imbalance_eur == pytest.approx(p.imbalance_eur, abs=1e-5)
        paid += s.tokens_paid_micro
    # what participants paid in tokens: trade payments, their rent (nothing else moved)
    assert paid == ledger.paid_p2p_micro
    # the summary prints these very numbers
    console = Console(record=True, width=120)
    render_summary(run, console)
    text = console.export_text()
    assert f"{tokens(ledger.paid_p2p_micro):,.2f}" in text
    assert "1 token = 1 EUR" in text
    # the run's own meters give the load the public readings do not carry
    shown = ledger.self_sufficiency_text(run.accounts.metered["load"])
    assert shown.endswith("%")
    assert shown in " ".join(text.split())  # wrapped caption
    assert "of which gifted" not in text


def test_ledger_figures_equal_the_runs_own_totals(run: SimulationReport) -> None:
    """The run kept its totals in memory while it wrote the ledger; the ledger alone
    gives the same (the summary reports the ledger's)."""
    f, acc = run.figures, run.accounts
    assert f.p2p_kwh == pytest.approx(acc.p2p_kwh, abs=1e-9)
    assert f.grid_import_kwh + f.imbalance_short_kwh == pytest.approx(acc.grid_import_kwh)
    assert f.grid_export_kwh + f.imbalance_surplus_kwh == pytest.approx(acc.grid_export_kwh)
    assert tokens(f.paid_p2p_micro) == pytest.approx(acc.tokens_paid, abs=1e-5)
    # the run's rent is net of the local charges, which the ledger keeps in the prices
    rent = acc.congestion_rent_eur + acc.local_charges_eur
    assert f.congestion_rent_eur == pytest.approx(rent, abs=1e-9)
    fixed: dict[str, float] = {}
    for bill in acc.bills.values():
        group = bill.participant.group
        fixed[group] = fixed.get(group, 0.0) + bill.fixed_eur
    for group, (members, bill, baseline, _) in acc.by_group().items():
        # the connection's fixed part is the run's, not on the ledger
        assert f.by_group()[group] == (
            members,
            pytest.approx(bill - fixed[group]),
            pytest.approx(baseline - fixed[group]),
        )
    for name in ("import", "export"):  # public readings: the rest is sealed
        assert f.metered[name] == pytest.approx(acc.metered[name])


def test_routes_add_up_to_what_the_meters_measured(run: SimulationReport) -> None:
    """Sold minus bought over every route is the metered export minus import."""
    f = run.figures
    sold = f.p2p_kwh + f.grid_export_kwh + f.imbalance_surplus_kwh
    bought = f.p2p_kwh + f.grid_import_kwh + f.imbalance_short_kwh
    assert sold - bought == pytest.approx(f.metered["export"] - f.metered["import"], abs=1e-6)
