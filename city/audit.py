"""``voisin audit`` on a city ledger: re-clear every interval from the recorded curves.

The chain is replayed with the verifier's checks (``Replay``: hashes and signatures are
``verify_ledger``'s, the city blocks' structure ``ledger.city_checks``); for each city
block the recorded ``city_book`` is cleared again under the recorded MV terms through
``city.level.clear_book``, the city run's own call, and the result must be the stored
``city_clearing`` byte for byte. The row's columns are the ones of a feeder's audit:
``bids`` counts the feeders' curves, ``trades`` the feeder-to-feeder pieces, the
clearing is compared in ``prices``; a city block has nothing to settle.
"""

from __future__ import annotations

from pathlib import Path

from voisin.city.level import clear_book
from voisin.ledger import transactions as tx
from voisin.ledger.interval_checks import compare_bodies
from voisin.ledger.replay import Replay, Violation
from voisin.ledger.store import open_store
from voisin.market.audit import AuditReport, Difference, IntervalAudit, blocks_of, chain_difference
from voisin.market.terms import Terms
from voisin.protocol import TxKind


def is_city_ledger(path: str | Path) -> bool:
    """Whether the ledger at ``path`` holds a city's book (a city operator's ledger)."""
    store = open_store(path, read_only=True)
    try:
        return any(kind == TxKind.CITY_BOOK.value for _, _, kind, _, _ in store.raw_transactions())
    finally:
        store.close()


def audit_city_ledger(
    path: str | Path, *, operator: str | None = None, head_hash: str | None = None
) -> AuditReport:
    """Re-clear every city block of the ledger at ``path`` (module docstring)."""
    chain = chain_difference(path, operator=operator, head_hash=head_hash)
    replay = Replay()
    rows: list[IntervalAudit] = []
    store = open_store(path, read_only=True)
    try:
        for height, interval, txs in blocks_of(store):
            try:
                replay.apply(height, interval, txs)
            except Violation as v:
                chain = chain or Difference(height, v.index, v.rule, v.message)
                continue
            books = [t for t in txs if t[1] == TxKind.CITY_BOOK.value]
            if not books or interval is None or replay.terms is None:
                continue
            book = books[0][3]
            stored = [t for t in txs if t[1] == TxKind.CITY_CLEARING.value]
            row = IntervalAudit(interval, height, bids=len(book["feeders"]), settled=True)
            expected = clear_book(book, Terms.from_body(replay.terms.body))
            row.trades = len(expected["between_feeders"])
            try:
                compare_bodies(stored, [tx.city_clearing(expected)], "city-clearing", "re-clearing")
            except Violation as v:
                row.found["prices"] = Difference(height, v.index, v.rule, v.message)
            rows.append(row)
    finally:
        store.close()
    return AuditReport(rows, chain, [])
