"""The summary panel: chain head and running totals."""

from __future__ import annotations

from textual.widgets import Static

from voisin.cli.dashboard.feed import LedgerFeed
from voisin.ledger.figures import TOKEN_WORTH, tokens


class SummaryPanel(Static):
    """Height, head hash and the energy and token totals of the whole ledger."""

    def show(self, feed: LedgerFeed) -> None:
        f = feed.figures
        self.update(
            f"[b]ledger[/b] {feed.path}  height [b]{feed.height:,}[/b]  head "
            f"{feed.head_hash[:16]}  operator {feed.operator[:12]}\n"
            f"participants {len(f.participants):,}  contracts {f.contracts:,}  trades "
            f"{f.trades:,}  estimated readings {f.estimated_readings:,}\n"
            f"peer to peer [b]{f.p2p_kwh:,.1f} kWh[/b]  cleared with the grid: import "
            f"{f.grid_import_kwh:,.1f} kWh, export {f.grid_export_kwh:,.1f} kWh\n"
            f"tokens paid peer to peer {tokens(f.paid_p2p_micro):,.2f}  minted as rewards "
            f"{tokens(f.minted_micro):,.2f}  ({TOKEN_WORTH})"
        )
