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


def test_countdown_moves_and_a_bad_message_raises_an_alert(served: Served, tmp_path: Path) -> None:
    """Against the real operator on loopback: the gate countdown runs down between two
    polls, and garbage sent to the operator shows in the alerts pane, naming its code."""
    import re
    from datetime import timedelta

    from voisin.cli.dashboard.alerts_panel import AlertsTable
    from voisin.cli.dashboard.clock import ClockBar
    from voisin.protocol.clock import Clock, Phase

    interval = served.service.intervals[0]
    closes = served.service.config.timetable.at(interval, Phase.CLOSE_GATE)

    def start_clock() -> None:
        served.service.clock = Clock(closes - timedelta(seconds=300), speed=1.0)

    served.call(start_clock)
    served.phase(Phase.OPEN_GATE, interval)
    member = served.scenario.members[0]
    watch = OperatorWatch(served.router, OBSERVER, served.service.key.public_hex)

    def seconds(text: str) -> int:
        found = re.search(r"closes in (\d+):(\d\d)", text)
        assert found, text
        return int(found[1]) * 60 + int(found[2])

    async def drive() -> tuple[str, str, list[str]]:
        app = DashboardApp(LedgerFeed(tmp_path / "ledger.sqlite"), every_s=0, watch=watch)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            first = str(app.query_one(ClockBar).render())
            await asyncio.sleep(2.1)
            client = OperatorClient(
                zmq.Context.instance(), served.router, member.keypair,
                served.service.key.public_hex, timeout_s=3.0, retries=0,
            )  # fmt: skip
            try:
                assert client.send_raw(b"not an envelope").code == "malformed"
            finally:
                client.close()
            await pilot.press("r")
            await pilot.pause()
            second = str(app.query_one(ClockBar).render())
            table = app.query_one(AlertsTable)
            rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        return first, second, rows

    try:
        first, second, rows = asyncio.run(drive())
    finally:
        watch.close()
    assert interval.id[11:] in first
    assert 280 <= seconds(first) <= 300
    assert 1 <= seconds(first) - seconds(second) <= 4
    assert any("refused 1 x malformed" in r and "status: malformed" in r for r in rows), rows
