"""The summary panel: chain head and running totals."""

from __future__ import annotations

from textual.widgets import Static

from voisin.cli.dashboard.feed import LedgerFeed


class SummaryPanel(Static):
    """Height, head hash and the energy and token totals of the whole ledger."""

    def show(self, feed: LedgerFeed) -> None:
        t = feed.totals
        self.update(
            f"[b]ledger[/b] {feed.path}  height [b]{feed.height}[/b]  head "
            f"{feed.head_hash[:16]}  operator {feed.operator[:12]}\n"
            f"participants {t.participants}  contracts {t.contracts}  trades {t.trades:,}  "
            f"estimated readings {t.estimated_readings}\n"
            f"peer to peer [b]{t.p2p_kwh:,.1f} kWh[/b]  cleared with the grid: import "
            f"{t.grid_import_kwh:,.1f} kWh, export {t.grid_export_kwh:,.1f} kWh\n"
            f"tokens paid peer to peer {t.tokens_paid:,.2f}  minted as rewards "
            f"{t.tokens_minted:,.2f}"
        )
