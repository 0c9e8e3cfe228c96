"""The recent-blocks table: newest first, with what each block carries."""

from __future__ import annotations

from textual.widgets import DataTable

from voisin.cli.dashboard.feed import LedgerFeed


class BlocksTable(DataTable[str]):
    def on_mount(self) -> None:
        self.add_columns("height", "interval", "transactions", "hash")
        self.cursor_type = "row"
        self.border_title = "recent blocks"

    def show(self, feed: LedgerFeed) -> None:
        self.clear()
        for line in feed.recent:
            self.add_row(str(line.height), line.interval, line.kinds, line.block_hash)
