"""The market over the day: each bus's price and the cleared volume as sparklines."""

from __future__ import annotations

from textual.widgets import Static

from voisin.cli.dashboard.charts import spark
from voisin.cli.dashboard.feed import LedgerFeed


class MarketPanel(Static):
    """One line per bus (as many as fit), cheapest to dearest at the selected interval,
    then the cleared volume; sparklines share one price scale so buses compare."""

    _shown: tuple[LedgerFeed, str | None] | None = None

    def on_resize(self) -> None:
        if self._shown is not None:
            self.show(*self._shown)

    def show(self, feed: LedgerFeed, selected: str | None) -> None:
        self._shown = (feed, selected)
        f = feed.figures
        cleared = [i for k, i in sorted(f.intervals.items()) if i.status]
        if selected is not None:
            cleared = [i for i in cleared if i.interval <= selected]
        if not cleared:
            self.update("no interval cleared yet")
            return
        last = cleared[-1]
        width = max(8, self.size.width - 18) if self.size.width else 24
        rows = max(1, (self.size.height or 8) - 1)
        prices = [p for i in cleared for p in i.prices_eur_per_kwh.values()]
        low, high = min(prices, default=0.0), max(prices, default=1.0)
        buses = sorted(last.prices_eur_per_kwh, key=lambda b: (last.prices_eur_per_kwh[b], b))
        if len(buses) > rows:  # cheapest, dearest and evenly between
            step = (len(buses) - 1) / max(rows - 1, 1)
            buses = [buses[round(k * step)] for k in range(rows)]
        lines = []
        for bus in buses:
            line = spark([i.prices_eur_per_kwh.get(bus) for i in cleared], width, low, high)
            lines.append(f"{bus[:6]:<6} {line} {last.prices_eur_per_kwh[bus]:.3f}")
        volume = [i.cleared_kwh for i in cleared]
        lines.append(f"[b]kWh[/b]    {spark(volume, width, 0.0)} {last.cleared_kwh:,.1f}")
        self.update("\n".join(lines))
        self.border_title = f"EUR/kWh per bus to {last.interval[11:]}"
        self.border_subtitle = f"{low:.3f}-{high:.3f} EUR/kWh"
