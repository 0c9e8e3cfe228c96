"""``voisin audit``: re-clear every interval from the ledger alone and compare, byte for byte.

For each clearing block the auditor reads back what the operator recorded, the bids
as signed, the contracts in force, the market terms and, on a city's feeder, the city's
price and allocation (``upstream``), re-clears through ``reclear``
(the operator's own call) and compares the clearing (prices, welfare, totals), the
trades and their payments with the stored bodies; for the interval's settlement block it
re-settles the stored meter readings against the re-cleared trades and compares the
settlements and rewards. Every bid is also checked against the recorded market rules.
The chain is replayed with the verifier's checks (``Replay``) on the way, so a lie the
arithmetic refutes is named too. Nothing here trusts a number the operator wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voisin.errors import InvalidInput, VerificationError
from voisin.ledger import rewards_for, verify_ledger
from voisin.ledger import transactions as tx
from voisin.ledger.contract_effects import contract_payments
from voisin.ledger.interval_checks import compare_bodies
from voisin.ledger.replay import Replay, StoredTx, Violation
from voisin.ledger.settlement import settlement_rows
from voisin.ledger.store import LedgerStore, open_store
from voisin.ledger.tokens import RENT_MEMO, TRADE_MEMO
from voisin.market.gate import check_bid
from voisin.market.reclear import ClearingInputs, reclear
from voisin.market.terms import Terms
from voisin.market.upstream import Upstream
from voisin.protocol import Bid, PublicReading, Trade, TxKind

COLUMNS = ("bids", "prices", "trades", "payments", "settlements")
"""What each interval's row checks: the bids (signed, within the recorded rules, their
digest), the clearing body (prices, welfare, totals), the trades, their payments, and
the settlements with their rewards."""
_COLUMN_OF_RULE = {
    "bid": "bids",
    "bid-signature": "bids",
    "bid-digest": "bids",
    "market-rules": "bids",
    "trade": "trades",
    "trade-price": "trades",
    "trade-energy": "trades",
    "payment": "payments",
    "reading": "settlements",
    "meter-signature": "settlements",
    "settlement": "settlements",
    "reward": "settlements",
}


@dataclass(frozen=True)
class Difference:
    """The first thing in an interval that re-clearing (or the arithmetic) refutes."""

    height: int
    index: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"block {self.height}" + (
            f", transaction {self.index}" if self.index is not None else ""
        )
        return f"{where}: rule {self.rule}: {self.message}"


@dataclass
class IntervalAudit:
    """One interval's row: counts, and per column the first difference (None: same)."""

    interval: str
    height: int
    bids: int = 0
    trades: int = 0
    found: dict[str, Difference | None] = field(default_factory=lambda: dict.fromkeys(COLUMNS))
    settled: bool = False

    @property
    def same(self) -> bool:
        return self.settled and not any(self.found.values())

    def first(self) -> Difference | None:
        found = [d for d in self.found.values() if d is not None]
        return min(
            found, key=lambda d: (d.height, -1 if d.index is None else d.index), default=None
        )


@dataclass
class AuditReport:
    rows: list[IntervalAudit]
    chain: Difference | None
    """A failure outside any interval's columns (hashes, signatures, tokens, pinning)."""
    software: list[str]
    """Recorded solver versions or options that differ from the ones installed."""

    @property
    def reproduced(self) -> int:
        return sum(row.same for row in self.rows)

    @property
    def first(self) -> tuple[str | None, Difference] | None:
        """The earliest difference on the chain and its interval."""
        found: list[tuple[str | None, Difference]] = [
            (row.interval, d) for row in self.rows if (d := row.first()) is not None
        ]
        if self.chain is not None:
            found.append((None, self.chain))
        return min(
            found,
            key=lambda f: (f[1].height, -1 if f[1].index is None else f[1].index),
            default=None,
        )


def blocks_of(store: LedgerStore) -> Iterator[tuple[int, str | None, list[StoredTx]]]:
    rows = store.raw_transactions()
    pending = next(rows, None)
    for height, _, header, _ in store.raw_blocks():
        txs: list[StoredTx] = []
        while pending is not None and pending[0] == height:
            _, index, kind, body, _ = pending
            txs.append((index, kind, body, json.loads(body)))
            pending = next(rows, None)
        yield height, json.loads(header)["interval"], txs


def _grouped(txs: list[StoredTx]) -> dict[str, list[StoredTx]]:
    by_kind: dict[str, list[StoredTx]] = {}
    for item in txs:
        by_kind.setdefault(item[1], []).append(item)
    return by_kind


class _Auditor:
    def __init__(self) -> None:
        self.replay = Replay()
        self.rows: dict[str, IntervalAudit] = {}
        self.trades: dict[str, Sequence[Trade]] = {}
        self.chain: Difference | None = None
        self.software: list[str] = []

    def block(self, height: int, interval: str | None, txs: list[StoredTx]) -> None:
        by_kind = _grouped(txs)
        row = self.rows.get(interval) if interval is not None else None
        if TxKind.CLEARING.value in by_kind and interval is not None:
            row = self.rows.setdefault(interval, IntervalAudit(interval, height))
        try:
            self.replay.apply(height, interval, txs)
        except Violation as v:
            self._note(row, height, v)
        if TxKind.CLEARING.value in by_kind and row is not None:
            self._clearing(row, height, by_kind)
        if TxKind.SETTLEMENT.value in by_kind and row is not None:
            self._settlement(row, height, by_kind)

    def _note(
        self, row: IntervalAudit | None, height: int, v: Violation, column: str | None = None
    ) -> None:
        found = Difference(height, v.index, v.rule, v.message)
        if row is None:
            self.chain = self.chain or found
            return
        column = column or _COLUMN_OF_RULE.get(v.rule, "prices")
        row.found[column] = row.found[column] or found

    def _clearing(
        self, row: IntervalAudit, height: int, by_kind: dict[str, list[StoredTx]]
    ) -> None:
        state = self.replay
        if state.terms is None:
            return  # named by the replay already
        terms = Terms.from_body(state.terms.body)
        self.software = self.software or terms.same_software()
        bids = [Bid.model_validate(b) for *_, b in by_kind.get(TxKind.BID.value, [])]
        row.bids = len(bids)
        for (index, *_), bid in zip(by_kind.get(TxKind.BID.value, []), bids, strict=True):
            try:
                check_bid(
                    bid, interval=row.interval, known_buses=terms.grid.buses, rules=terms.rules
                )
            except InvalidInput as exc:
                self._note(row, height, Violation(index, "market-rules", exc.message))
        upstream = [
            Upstream(float(b["price_eur_per_kwh"]), float(b["exchange_kwh"]))
            for *_, b in by_kind.get(TxKind.UPSTREAM.value, [])
        ]
        result = reclear(
            ClearingInputs(
                row.interval,
                bids,
                state.contracts,
                terms,
                upstream=upstream[0] if upstream else None,
                charges=state.charges,
            )
        )
        self.trades[row.interval] = result.trades
        row.trades = len(result.trades)
        transfers = [
            t
            for t in by_kind.get(TxKind.TRANSFER.value, [])
            if t[3].get("memo", "").startswith((TRADE_MEMO, RENT_MEMO))
        ]
        for column, rule, stored, expected in (
            (
                "prices",
                "clearing",
                by_kind.get(TxKind.CLEARING.value, []),
                [tx.clearing(result, tx.terms_hash(terms.body))],
            ),
            (
                "trades",
                "trade",
                by_kind.get(TxKind.TRADE.value, []),
                [tx.trade(t) for t in result.trades],
            ),
            (
                "payments",
                "payment",
                transfers,
                contract_payments(result.trades, state.book.fund, state.contracts, row.interval),
            ),
        ):
            try:
                compare_bodies(stored, expected, rule, "re-clearing")
            except Violation as v:
                self._note(row, height, v, column)

    def _settlement(
        self, row: IntervalAudit, height: int, by_kind: dict[str, list[StoredTx]]
    ) -> None:
        row.settled = True
        trades = self.trades.get(row.interval)
        if trades is None:
            return
        readings = [
            PublicReading.model_validate(b) for *_, b in by_kind.get(TxKind.READING.value, [])
        ]
        members = [self.replay.members[k] for k in sorted(self.replay.members)]
        try:
            compare_bodies(
                by_kind.get(TxKind.SETTLEMENT.value, []),
                tx.settlement_entries(settlement_rows(row.interval, members, trades, readings)),
                "settlement",
                "re-clearing and the readings",
            )
            compare_bodies(
                by_kind.get(TxKind.REWARD.value, []),
                rewards_for(row.interval, trades, readings),
                "reward",
                "re-clearing and the readings",
            )
        except (Violation, InvalidInput) as exc:
            v = exc if isinstance(exc, Violation) else Violation(None, "reading", exc.message)
            self._note(row, height, v, "settlements")


def chain_difference(
    path: str | Path, *, operator: str | None = None, head_hash: str | None = None
) -> Difference | None:
    """Where the ledger at ``path`` fails verification, or None: an audit reports it
    beside the intervals it still re-clears."""
    try:
        verify_ledger(path, operator=operator, head_hash=head_hash)
    except VerificationError as exc:
        return Difference(exc.height or 0, exc.index, exc.rule or exc.code, exc.detail)
    return None


def audit_ledger(
    path: str | Path, *, operator: str | None = None, head_hash: str | None = None
) -> AuditReport:
    """Re-clear and re-settle every interval of the ledger at ``path``; see the module doc."""
    chain = chain_difference(path, operator=operator, head_hash=head_hash)
    auditor = _Auditor()
    store = open_store(path, read_only=True)
    try:
        for height, interval, txs in blocks_of(store):
            auditor.block(height, interval, txs)
    finally:
        store.close()
    rows = sorted(auditor.rows.values(), key=lambda r: r.interval)
    in_rows = {d for row in rows for d in row.found.values() if d is not None}
    if chain is not None and any(
        (d.height, d.index) == (chain.height, chain.index) for d in in_rows
    ):
        chain = None  # the verifier's finding is already in its interval's row
    return AuditReport(rows, chain or auditor.chain, auditor.software)
