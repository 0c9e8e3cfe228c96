"""The dashboard, driven headless with Textual's Pilot, on a real simulated ledger."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from voisin.cli.dashboard import DashboardApp, LedgerFeed
from voisin.cli.dashboard.app import TextScreen
from voisin.cli.dashboard.clock import ClockBar
from voisin.cli.dashboard.feeder import FeederTable
from voisin.cli.dashboard.market import MarketPanel
from voisin.cli.dashboard.people import PeopleTable
from voisin.cli.simulation import SimulationReport
from voisin.errors import InvalidInput
from voisin.ledger import Ledger
from voisin.ledger import transactions as tx
from voisin.protocol import KeyPair

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_feed_totals_match_the_run(recorded_run: SimulationReport) -> None:
    feed = LedgerFeed(recorded_run.ledger_path)
    assert feed.refresh() == recorded_run.ledger_height + 1
    assert feed.height == recorded_run.ledger_height
    assert feed.figures.p2p_kwh == pytest.approx(recorded_run.accounts.p2p_kwh, abs=1e-6)
    assert len(feed.figures.participants) == 6
    assert feed.refresh() == 0  # nothing new


def test_feed_follows_blocks_appended_later(recorded_run: SimulationReport, tmp_path: Path) -> None:
    copy = tmp_path / "l.sqlite"
    copy.write_bytes(recorded_run.ledger_path.read_bytes())
    feed = LedgerFeed(copy)
    feed.refresh()
    operator = KeyPair.derive("seed", recorded_run.config.seed, "operator")
    with Ledger.open(copy, operator) as ledger:
        ledger.append(
            [tx.transfer(ledger.fund, "a" * 64, 1, "opening allowance")],
            interval=None,
            time="2026-06-23T00:00:00+00:00",
        )
    assert feed.refresh() == 1
    assert feed.recent[0].height == recorded_run.ledger_height + 1


def test_keys_statement_pause_and_jump(recorded_run: SimulationReport) -> None:
    async def drive() -> dict[str, str]:
        app = DashboardApp(LedgerFeed(recorded_run.ledger_path), every_s=0)
        seen: dict[str, str] = {}
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            seen["clock"] = str(app.query_one(ClockBar).render())
            seen["market"] = str(app.query_one(MarketPanel).render())
            seen["people"] = str(app.query_one(PeopleTable).row_count)
            await pilot.press("p")
            seen["paused"] = str(app.query_one(ClockBar).render())
            await pilot.press("j", *"12:00", "enter")
            await pilot.pause()
            seen["feeder"] = str(app.query_one(FeederTable).border_title)
            seen["after jump"] = str(app.query_one(ClockBar).render())
            await pilot.press("s")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, TextScreen)
            seen["statement"] = str(screen.body)
            await pilot.press("escape", "b")
            await pilot.pause()
            seen["blocks"] = str(app.screen.body)  # type: ignore[attr-defined]
        return seen

    seen = asyncio.run(drive())
    assert f"height {recorded_run.ledger_height}" in seen["clock"]
    assert "verified" in seen["clock"]
    assert "2026-06-22T23:00Z" in seen["clock"]  # the newest cleared interval
    assert "kWh" in seen["market"]
    assert seen["people"] == "6"
    assert "PAUSED" in seen["paused"]
    assert seen["feeder"] == "feeder 2026-06-22T12:00Z"
    assert "2026-06-22T12:00Z" in seen["after jump"]
    top = max(recorded_run.figures.participants.values(), key=lambda p: p.p2p_sold_kwh)
    assert f"Statement of {top.participant[:16]}" in seen["statement"]
    assert "recent blocks" in seen["blocks"]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_snapshot(recorded_run: SimulationReport, size: tuple[int, int]) -> None:
    """The screen, as text, against a recorded snapshot (VOISIN_UPDATE_SNAPSHOTS=1
    rewrites it). The recorded ledger is byte-identical on every run."""

    async def drive() -> str:
        app = DashboardApp(LedgerFeed(recorded_run.ledger_path), every_s=0)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            return screen_text(app)

    text = asyncio.run(drive())
    lines = text.splitlines()
    assert len(lines) == size[1]
    assert all(len(line) <= size[0] for line in lines)
    assert "verified" in lines[1]
    assert "seen" in text  # the participants table's last column fits
    path = SNAPSHOTS / f"dashboard_{size[0]}x{size[1]}.txt"
    if os.environ.get("VOISIN_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: run with VOISIN_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def screen_text(app: DashboardApp) -> str:
    """What the terminal shows, one line per row, trailing spaces dropped."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips) + "\n"


def test_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no ledger"):
        LedgerFeed(tmp_path / "none.sqlite")
