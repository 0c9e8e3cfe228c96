"""The feeder at the selected interval: transformer and line loading, bus voltages, as
the clearing predicted them; binding limits in red."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from voisin.cli.dashboard.feed import LedgerFeed


def _cell(value: str, binding: bool) -> Text:
    return Text(value, style="bold red" if binding else "")


class FeederTable(DataTable[Any]):
    def on_mount(self) -> None:
        self.add_columns("element", "value", "limit")
        self.cursor_type = "none"
        self.border_title = "feeder"

    def show(self, feed: LedgerFeed, selected: str | None) -> None:
        self.clear()
        states = [
            (k, i.physics)
            for k, i in sorted(feed.figures.intervals.items())
            if i.physics and (selected is None or k <= selected)
        ]
        if not states:
            self.border_title = "feeder: no physical state published"
            return
        interval, s = states[-1]
        binding = set(s.get("binding", ()))
        self.border_title = f"feeder {interval}"
        self.add_row(
            "transformer",
            _cell(f"{s['transformer_loading_pct']:.1f} %", "transformer" in binding),
            "binding" if "transformer" in binding else "",
        )
        loads = sorted(enumerate(s["line_loading_pct"]), key=lambda x: -x[1])
        for j, pct in loads[:3]:
            thermal = any(b.startswith("thermal") for b in binding) and j == loads[0][0]
            self.add_row(f"line {j}", _cell(f"{pct:.1f} %", thermal), "binding" if thermal else "")
        for bus, v in sorted(s["voltage_pu"].items(), key=lambda x: (-abs(x[1] - 1.0), x[0])):
            hit = f"voltage max {bus}" in binding or f"voltage min {bus}" in binding
            self.add_row(f"bus {bus}", _cell(f"{v:.4f} pu", hit), "binding" if hit else "")
