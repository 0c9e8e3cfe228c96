"""The alerts pane: newest first, severity coloured, with the block or message behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from voisin.cli.dashboard.alerts import Alert, Severity

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: ""}


class AlertsTable(DataTable[Any]):
    def on_mount(self) -> None:
        self.add_columns("!", "alert", "from")
        self.cursor_type = "none"
        self.border_title = "alerts"

    def show(self, alerts: Sequence[Alert]) -> None:
        self.clear()
        for a in reversed(alerts):
            self.add_row(Text(a.severity.value[:4], style=_STYLE[a.severity]), a.what, a.source)
        self.border_title = f"alerts ({len(alerts):,})"
