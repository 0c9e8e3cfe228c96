"""The dashboard application: widgets fed by one ``LedgerFeed`` (and, when attached to a
running operator, its ``OperatorWatch``); read-only.

Keys: ``s`` the selected participant's statement, ``p`` pause, ``j`` jump to an
interval (empty: back to live), ``b`` recent blocks, ``v`` verify, ``q`` quit.
"""

from __future__ import annotations

import io
import time
from typing import Any

from rich.console import Console
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.coordinate import Coordinate
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from voisin.cli.dashboard.alerts import Alert, operator_alerts
from voisin.cli.dashboard.alerts_panel import AlertsTable
from voisin.cli.dashboard.clock import ClockBar
from voisin.cli.dashboard.feed import LedgerFeed
from voisin.cli.dashboard.feeder import FeederTable
from voisin.cli.dashboard.market import MarketPanel
from voisin.cli.dashboard.operator import OperatorPanel
from voisin.cli.dashboard.people import PeopleTable
from voisin.cli.dashboard.watch import OperatorWatch
from voisin.errors import VoisinError
from voisin.ledger import statement_for, verify_ledger


class TextScreen(ModalScreen[None]):
    """A read-only page (a statement, the recent blocks); any key closes it."""

    BINDINGS = [Binding("escape,q,s,b", "dismiss", "close")]

    def __init__(self, body: Any) -> None:
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        yield Static(self.body, id="page")


class JumpScreen(ModalScreen[str]):
    """Asks for an interval (``2026-06-22T12:00Z`` or its ``12:00``)."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="interval, e.g. 12:00 (empty: live)", id="jump")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())


class DashboardApp(App[None]):
    """Follows a ledger file; ``every_s`` is the polling period (0 = no polling)."""

    TITLE = "voisin"
    CSS = """
    ClockBar { height: 2; padding: 0 1; background: $boost; }
    OperatorPanel { height: auto; padding: 0 1; border: round $warning; }
    Grid { grid-size: 2 2; grid-columns: 1fr 1fr; grid-rows: 1fr 1fr; }
    Grid > * { height: 100%; border: round $secondary; }
    MarketPanel { padding: 0 1; }
    TextScreen, JumpScreen { align: center middle; }
    #page { width: auto; max-width: 100%; height: auto; max-height: 100%;
            background: $panel; padding: 1; }
    #jump { width: 50; }
    """
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("p", "pause", "pause"),
        Binding("j", "jump", "jump"),
        Binding("s", "statement", "statement"),
        Binding("b", "blocks", "blocks"),
        Binding("v", "verify", "verify"),
        Binding("r", "refresh", "refresh", show=False),
    ]

    def __init__(
        self, feed: LedgerFeed, every_s: float = 1.0, watch: OperatorWatch | None = None
    ) -> None:
        super().__init__()
        self.feed = feed
        self.every_s = every_s
        self.operator_watch = watch
        self.paused = False
        self.selected: str | None = None
        self.verified = "not verified yet"
        self.status: dict[str, Any] | None = None
        self.polled_at = 0.0
        self.refusals: list[dict[str, int]] = []
        self.operator_raised: list[Alert] = []

    def compose(self) -> ComposeResult:
        yield ClockBar(id="clock")
        if self.operator_watch is not None:
            yield OperatorPanel(id="operator")
        with Grid():
            yield MarketPanel(id="market")
            yield AlertsTable(id="alerts")
            yield FeederTable(id="feeder")
            yield PeopleTable(id="people")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()
        self.action_verify()
        if self.every_s > 0:
            self.set_interval(self.every_s, self._tick)

    def on_unmount(self) -> None:
        if self.operator_watch is not None:
            self.operator_watch.close()

    def _tick(self) -> None:
        if not self.paused:
            self.action_refresh()

    def action_refresh(self) -> None:
        """Ask the operator for its status, read new blocks, redraw."""
        if self.operator_watch is not None:
            before = self.status
            self.status = self.operator_watch.poll()
            self.polled_at = time.monotonic()
            if self.status is not None:
                self.refusals.append(dict(self.status["counters"]["rejected"]))
            for alert in operator_alerts(before, self.status):
                if alert not in self.operator_raised[-10:]:
                    self.operator_raised.append(alert)
            self.query_one(OperatorPanel).show(
                self.status, self.operator_watch.endpoint, self.refusals
            )
        try:
            self.feed.refresh()
        except VoisinError as exc:  # the file went bad while we watched: say so, keep going
            self.query_one(ClockBar).update(f"[red]{exc}[/red]")
            return
        self._redraw()

    def _redraw(self) -> None:
        since = time.monotonic() - self.polled_at if self.polled_at else 0.0
        self.query_one(ClockBar).show(
            self.feed, self.status, since, self.verified, self.paused, self.selected
        )
        self.query_one(MarketPanel).show(self.feed, self.selected)
        self.query_one(FeederTable).show(self.feed, self.selected)
        self.query_one(AlertsTable).show([*self.feed.alerts.raised, *self.operator_raised])
        people = self.query_one(PeopleTable)
        row = people.cursor_row
        people.show(self.feed)
        if people.row_count:
            people.move_cursor(row=min(row, people.row_count - 1))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._redraw()

    def action_verify(self) -> None:
        try:
            report = verify_ledger(self.feed.path)
        except VoisinError as exc:
            self.verified = f"[red]NOT verified: {exc.code}[/red]"
        else:
            self.verified = (
                "[green]verified[/green]"
                if report.height == self.feed.height
                else f"[green]verified[/green] to {report.height:,}"
            )
        self._redraw()

    def action_jump(self) -> None:
        def chosen(text: str | None) -> None:
            if not text:
                self.selected = None
            else:
                known = sorted(self.feed.figures.intervals)
                match = [k for k in known if k == text or k[11:16] == text]
                self.selected = match[-1] if match else self.selected
                if not match:
                    self.notify(f"no interval {text}", severity="warning")
            self._redraw()

        self.push_screen(JumpScreen(), chosen)

    def action_statement(self) -> None:
        people = self.query_one(PeopleTable)
        if not people.row_count:
            return
        key = people.coordinate_to_cell_key(Coordinate(people.cursor_row, 0)).row_key.value
        if key is None:
            return
        from voisin.cli.wallet import render_statement

        console = Console(record=True, width=max(40, self.size.width - 6), file=io.StringIO())
        render_statement(statement_for(self.feed.path, key), console)
        self.push_screen(TextScreen(console.export_text()))

    def action_blocks(self) -> None:
        lines = [f"{b.height:>6}  {b.interval:<17}  {b.kinds}" for b in self.feed.recent]
        self.push_screen(TextScreen("recent blocks\n\n" + "\n".join(lines)))
