"""The prices table: the newest clearing's nodal price at every bus."""

from __future__ import annotations

from textual.widgets import DataTable

from voisin.cli.dashboard.feed import LedgerFeed


class PricesTable(DataTable[str]):
    """Bus and price (EUR/kWh) of the newest cleared interval; its title says which."""

    def on_mount(self) -> None:
        self.add_columns("bus", "EUR/kWh")
        self.cursor_type = "none"

    def show(self, feed: LedgerFeed) -> None:
        clearing = feed.clearing
        self.clear()
        for bus, price in sorted(clearing.get("prices_eur_per_kwh", {}).items()):
            self.add_row(bus, f"{price:.4f}")
        self.border_title = f"prices {clearing.get('interval', '-')}"
        self.border_subtitle = (
            f"welfare {clearing.get('welfare_eur', 0.0):.2f} EUR, rent "
            f"{clearing.get('congestion_rent_eur', 0.0):.2f} EUR"
        )
