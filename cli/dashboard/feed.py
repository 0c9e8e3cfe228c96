"""The dashboard's one data source: a ledger file read incrementally, never written.

SQLite in WAL mode lets this reader follow a file an operator is still appending to;
each ``refresh`` reads only the blocks committed since the last one.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voisin.cli.dashboard.alerts import LedgerAlerts
from voisin.cli.ledger_proof import existing_ledger
from voisin.ledger import SqliteStore
from voisin.ledger.figures import LedgerFigures
from voisin.protocol import Block, TxKind

RECENT_BLOCKS = 12


@dataclass(frozen=True)
class BlockLine:
    """One row of the recent-blocks table."""

    height: int
    interval: str
    kinds: str
    block_hash: str


@dataclass
class LedgerFeed:
    """What the dashboard shows, kept up to date by ``refresh``."""

    path: Path
    height: int = -1
    head_hash: str = ""
    operator: str = ""
    figures: LedgerFigures = field(default_factory=LedgerFigures)
    """Every figure shown, defined once in ``voisin.ledger.figures``."""
    clearing: dict[str, Any] = field(default_factory=dict)
    """Body of the newest clearing summary: interval, prices, welfare, grid exchange."""
    recent: deque[BlockLine] = field(default_factory=lambda: deque(maxlen=RECENT_BLOCKS))
    alerts: LedgerAlerts = field(default_factory=LedgerAlerts)

    def __post_init__(self) -> None:
        self.path = Path(existing_ledger(self.path))

    def refresh(self) -> int:
        """Read the blocks committed since the last refresh; returns how many."""
        store = SqliteStore(self.path, read_only=True)
        try:
            newest = store.height()
            for height in range(self.height + 1, newest + 1):
                self._take(store.block(height))
        finally:
            store.close()
        read = max(0, newest - self.height)
        self.height = max(self.height, newest)
        return read

    def _take(self, block: Block) -> None:
        header = block.header
        self.head_hash = header.block_hash()
        self.operator = header.operator
        kinds = Counter(t.kind.value for t in block.transactions)
        self.recent.appendleft(
            BlockLine(
                header.height,
                header.interval or "-",
                ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
                self.head_hash[:12],
            )
        )
        self.figures.height, self.figures.head_hash = header.height, self.head_hash
        for t in block.transactions:
            self.figures.take(t.kind.value, t.body)
            self.alerts.take(t.kind.value, t.body, header.height)
            if t.kind is TxKind.CLEARING:
                self.clearing = t.body
