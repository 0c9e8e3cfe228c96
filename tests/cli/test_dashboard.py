"""The dashboard, driven headless with Textual's Pilot, on a real simulated ledger."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from voisin.agents import default_neighbourhood
from voisin.cli.dashboard import DashboardApp, LedgerFeed
from voisin.cli.dashboard.blocks import BlocksTable
from voisin.cli.dashboard.prices import PricesTable
from voisin.cli.dashboard.summary import SummaryPanel
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.errors import InvalidInput
from voisin.ledger import Ledger
from voisin.ledger import transactions as tx
from voisin.protocol import KeyPair


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("dash")
    return run_simulation(
        SimulationConfig(out=out, households=5, minutes=60, start=date(2026, 6, 22))
    )


def test_feed_totals_match_the_run(run) -> None:
    feed = LedgerFeed(run.ledger_path)
    assert feed.refresh() == run.ledger_height + 1
    assert feed.height == run.ledger_height
    assert feed.figures.p2p_kwh == pytest.approx(run.accounts.p2p_kwh, abs=1e-6)
    assert len(feed.figures.participants) == 6
    assert feed.refresh() == 0  # nothing new


def test_feed_follows_blocks_appended_later(run, tmp_path: Path) -> None:
    copy = tmp_path / "l.sqlite"
    copy.write_bytes(run.ledger_path.read_bytes())
    feed = LedgerFeed(copy)
    feed.refresh()
    operator = KeyPair.derive("seed", run.config.seed, "operator")
    with Ledger.open(copy, operator) as ledger:
        ledger.append(
            [tx.transfer(ledger.fund, "a" * 64, 1, "opening allowance")],
            interval=None,
            time="2026-06-23T00:00:00+00:00",
        )
    assert feed.refresh() == 1
    assert feed.recent[0].height == run.ledger_height + 1


def test_dashboard_shows_head_prices_and_blocks(run) -> None:
    async def drive() -> tuple[str, int, int, str]:
        app = DashboardApp(LedgerFeed(run.ledger_path), every_s=0)
        async with app.run_test() as pilot:
            await pilot.press("r")
            summary = str(app.query_one(SummaryPanel).render())
            prices = app.query_one(PricesTable)
            blocks = app.query_one(BlocksTable)
            return summary, prices.row_count, blocks.row_count, str(prices.border_title)

    summary, price_rows, block_rows, title = asyncio.run(drive())
    assert f"height {run.ledger_height}" in summary
    assert "peer to peer" in summary
    assert price_rows == len(default_neighbourhood(households=5).grid.buses)
    assert block_rows == 12
    assert "2026-06-22T23:00Z" in title  # the newest cleared interval


def test_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no ledger"):
        LedgerFeed(tmp_path / "none.sqlite")
