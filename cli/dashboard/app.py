"""The dashboard application: three widgets fed by one ``LedgerFeed``, read-only."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header

from voisin.cli.dashboard.blocks import BlocksTable
from voisin.cli.dashboard.feed import LedgerFeed
from voisin.cli.dashboard.prices import PricesTable
from voisin.cli.dashboard.summary import SummaryPanel


class DashboardApp(App[None]):
    """Follows a ledger file; ``every_s`` is the polling period (0 = no polling)."""

    TITLE = "voisin"
    SUB_TITLE = "operator dashboard (read-only)"
    CSS = """
    SummaryPanel { height: auto; padding: 0 1; border: round $primary; }
    PricesTable { width: 44; border: round $secondary; }
    BlocksTable { border: round $secondary; }
    """
    BINDINGS = [Binding("q", "quit", "quit"), Binding("r", "refresh", "refresh now")]

    def __init__(self, feed: LedgerFeed, every_s: float = 1.0) -> None:
        super().__init__()
        self.feed = feed
        self.every_s = every_s

    def compose(self) -> ComposeResult:
        yield Header()
        yield SummaryPanel(id="summary")
        with Horizontal():
            yield PricesTable(id="prices")
            yield BlocksTable(id="blocks")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()
        if self.every_s > 0:
            self.set_interval(self.every_s, self.action_refresh)

    def action_refresh(self) -> None:
        """Read new blocks, if any, and redraw every widget from the feed."""
        if self.feed.refresh() or self.feed.height < 0:
            self.query_one(SummaryPanel).show(self.feed)
            self.query_one(PricesTable).show(self.feed)
            self.query_one(BlocksTable).show(self.feed)
