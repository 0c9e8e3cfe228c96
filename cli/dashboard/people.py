"""Participants by pseudonym: top sellers and buyers peer to peer, and when each was
last seen (its newest bid or real reading on the ledger)."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from voisin.cli.dashboard.feed import LedgerFeed


class PeopleTable(DataTable[Any]):
    def on_mount(self) -> None:
        self.add_columns("who", "group", "sold", "bought", "seen")
        self.cursor_type = "row"
        self.border_title = "participants (kWh p2p)"

    def show(self, feed: LedgerFeed) -> None:
        self.clear()
        people = sorted(
            feed.figures.participants.values(),
            key=lambda p: (-(p.p2p_sold_kwh + p.p2p_bought_kwh), p.participant),
        )
        for p in people:
            self.add_row(
                p.participant[:6],
                p.group[:6],
                f"{p.p2p_sold_kwh:,.1f}",
                f"{p.p2p_bought_kwh:,.1f}",
                p.last_interval[11:16] or "-",
                key=p.participant,
            )
