"""The dashboard application: widgets fed by one ``LedgerFeed`` (and, when attached to a
running operator, its ``OperatorWatch``); read-only."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header

from voisin.cli.dashboard.blocks import BlocksTable
from voisin.cli.dashboard.feed import LedgerFeed
from voisin.cli.dashboard.operator import OperatorPanel
from voisin.cli.dashboard.prices import PricesTable
from voisin.cli.dashboard.summary import SummaryPanel
from voisin.cli.dashboard.watch import OperatorWatch
from voisin.errors import VoisinError


class DashboardApp(App[None]):
    """Follows a ledger file; ``every_s`` is the polling period (0 = no polling)."""

    TITLE = "voisin"
    SUB_TITLE = "operator dashboard (read-only)"
    CSS = """
    SummaryPanel { height: auto; padding: 0 1; border: round $primary; }
    OperatorPanel { height: auto; padding: 0 1; border: round $warning; }
    PricesTable { width: 44; border: round $secondary; }
    BlocksTable { border: round $secondary; }
    """
    BINDINGS = [Binding("q", "quit", "quit"), Binding("r", "refresh", "refresh now")]

    def __init__(
        self, feed: LedgerFeed, every_s: float = 1.0, watch: OperatorWatch | None = None
    ) -> None:
        super().__init__()
        self.feed = feed
        self.every_s = every_s
        self.operator_watch = watch

    def compose(self) -> ComposeResult:
        yield Header()
        yield SummaryPanel(id="summary")
        if self.operator_watch is not None:
            yield OperatorPanel(id="operator")
        with Horizontal():
            yield PricesTable(id="prices")
            yield BlocksTable(id="blocks")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()
        if self.every_s > 0:
            self.set_interval(self.every_s, self.action_refresh)

    def on_unmount(self) -> None:
        if self.operator_watch is not None:
            self.operator_watch.close()

    def action_refresh(self) -> None:
        """Ask the operator for its counters, read new blocks, redraw what changed."""
        if self.operator_watch is not None:
            self.query_one(OperatorPanel).show(
                self.operator_watch.poll(), self.operator_watch.endpoint
            )
        try:
            read = self.feed.refresh()
        except VoisinError as exc:  # the file went bad while we watched: say so, keep going
            self.query_one(SummaryPanel).update(f"[red]{exc}[/red]")
            return
        if read or self.feed.height < 0:
            self.query_one(SummaryPanel).show(self.feed)
            self.query_one(PricesTable).show(self.feed)
            self.query_one(BlocksTable).show(self.feed)
