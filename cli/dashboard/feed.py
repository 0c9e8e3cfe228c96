"""The dashboard's one data source: a ledger file read incrementally, never written.

SQLite in WAL mode lets this reader follow a file an operator is still appending to;
each ``refresh`` reads only the blocks committed since the last one.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voisin.errors import InvalidInput
from voisin.ledger import SqliteStore
from voisin.ledger.tokens import TRADE_MEMO
from voisin.protocol import GRID, Block, TxKind

RECENT_BLOCKS = 12


@dataclass(frozen=True)
class BlockLine:
    """One row of the recent-blocks table."""

    height: int
    interval: str
    kinds: str
    block_hash: str


@dataclass
class Totals:
    """Running totals over every block read so far (kWh, tokens)."""

    p2p_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    trades: int = 0
    tokens_paid: float = 0.0
    tokens_minted: float = 0.0
    contracts: int = 0
    estimated_readings: int = 0
    participants: int = 0


@dataclass
class LedgerFeed:
    """What the dashboard shows, kept up to date by ``refresh``."""

    path: Path
    height: int = -1
    head_hash: str = ""
    operator: str = ""
    totals: Totals = field(default_factory=Totals)
    clearing: dict[str, Any] = field(default_factory=dict)
    """Body of the newest clearing summary: interval, prices, welfare, grid exchange."""
    recent: deque[BlockLine] = field(default_factory=lambda: deque(maxlen=RECENT_BLOCKS))

    def __post_init__(self) -> None:
        if not self.path.is_file():
            raise InvalidInput(
                f"no ledger at {self.path} (run `voisin simulate` first?)", code="no-ledger"
            )

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
        for t in block.transactions:
            self._count(t.kind, t.body)

    def _count(self, kind: TxKind, body: dict[str, Any]) -> None:
        totals = self.totals
        if kind is TxKind.TRADE:
            totals.trades += 1
            if body["kind"] == "p2p":
                totals.p2p_kwh += body["energy_kwh"]
            elif body["seller"] == GRID:
                totals.grid_import_kwh += body["energy_kwh"]
            else:
                totals.grid_export_kwh += body["energy_kwh"]
        elif kind is TxKind.CLEARING:
            self.clearing = body
        elif kind is TxKind.TRANSFER and body.get("memo", "").startswith(TRADE_MEMO):
            totals.tokens_paid += body["amount_micro"] / 1e6
        elif kind is TxKind.REWARD:
            totals.tokens_minted += body["amount_micro"] / 1e6
        elif kind is TxKind.CONTRACT:
            totals.contracts += 1
        elif kind is TxKind.REGISTRATION:
            totals.participants += 1
        elif kind is TxKind.SETTLEMENT and body.get("estimated"):
            totals.estimated_readings += 1
