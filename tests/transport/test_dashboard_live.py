"""The dashboard attached to a real operator shows what it refused, which the ledger
never records; an operator that does not answer shows as unreachable."""

from __future__ import annotations

import asyncio
from pathlib import Path

import zmq

from tests.transport.conftest import OBSERVER, Served
from voisin.cli.dashboard import DashboardApp, LedgerFeed, OperatorWatch
from voisin.cli.dashboard.operator import OperatorPanel
from voisin.cli.live import free_port
from voisin.transport.client import OperatorClient


def _panel_text(app_feed: LedgerFeed, watch: OperatorWatch) -> str:
    async def drive() -> str:
        app = DashboardApp(app_feed, every_s=0, watch=watch)
        async with app.run_test() as pilot:
            await pilot.press("r")
            return str(app.query_one(OperatorPanel).render())

    return asyncio.run(drive())


def test_refusals_show_on_the_dashboard(served: Served, tmp_path: Path) -> None:
    member = served.scenario.members[0]
    client = OperatorClient(
        zmq.Context.instance(),
        served.router,
        member.keypair,
        served.service.key.public_hex,
        timeout_s=3.0,
        retries=0,
    )
    try:
        assert client.send_raw(b"not an envelope").code == "malformed"
    finally:
        client.close()
    watch = OperatorWatch(served.router, OBSERVER, served.service.key.public_hex)
    try:
        status = watch.poll()
        assert status is not None
        assert status["counters"]["rejected"]["malformed"] == 1
        assert status["alive"] == 0  # the observer watching is not an agent
        text = _panel_text(LedgerFeed(tmp_path / "ledger.sqlite"), watch)
    finally:
        watch.close()
    assert "malformed 1" in text


def test_a_silent_operator_shows_as_unreachable(served: Served, tmp_path: Path) -> None:
    watch = OperatorWatch(f"tcp://127.0.0.1:{free_port()}", OBSERVER, served.service.key.public_hex)
    try:
        assert watch.poll() is None
        text = _panel_text(LedgerFeed(tmp_path / "ledger.sqlite"), watch)
    finally:
        watch.close()
    assert "unreachable" in text
