"""``voisin audit`` on a city: its ledger re-cleared from the recorded curves, and the
whole city, every feeder ledger with it.

The chain is replayed with the verifier's checks (``Replay``: hashes and signatures are
``verify_ledger``'s, the city blocks' structure ``ledger.city_checks``); for each city
block the recorded ``city_book`` is cleared again under the recorded MV terms through
``city.level.clear_book``, the city run's own call, and the result must be the stored
``city_clearing`` byte for byte. The row's columns are the ones of a feeder's audit:
``bids`` counts the feeders' curves, ``trades`` the feeder-to-feeder pieces, the
clearing is compared in ``prices``; a city block has nothing to settle.

``audit_city`` audits a whole city (a run's folder or a database, ``city.places``):
the city ledger as above, then each feeder ledger it links, in name order, as any
feeder's ledger is audited (``market.audit.audit_ledger``: every interval re-cleared at
its recorded ``upstream`` and re-settled from its readings), pinned to the feeder's
operator key and newest block as ``city.verify`` pins them, after the same link checks
(``check_feeder_links``). A missing feeder ledger, a broken link or a feeder ledger the
city does not link is that ledger's finding; the audit goes on with the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voisin.city.level import clear_book
from voisin.city.places import CityLedgers
from voisin.city.tasks import MapLedgers, in_process
from voisin.city.verify import (
    Link,
    check_feeder_links,
    city_place,
    feeder_links,
    feeder_share,
    unlinked,
)
from voisin.errors import VerificationError
from voisin.ledger import transactions as tx
from voisin.ledger.interval_checks import compare_bodies
from voisin.ledger.replay import Replay, Violation
from voisin.ledger.store import open_store
from voisin.market.audit import (
    AuditReport,
    Difference,
    IntervalAudit,
    audit_ledger,
    blocks_of,
    chain_difference,
)
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


@dataclass(frozen=True)
class LedgerAudit:
    """One ledger of a city audited: its audit (None: there was no ledger to audit) and
    a finding outside it (a missing ledger, a link the city ledger does not keep)."""

    name: str
    report: AuditReport | None
    link: str | None = None
    """The link check's finding, in ``city.verify``'s words (after the ledger's name)."""

    @property
    def reproduced(self) -> int:
        return 0 if self.report is None else self.report.reproduced

    @property
    def total(self) -> int:
        return 0 if self.report is None else len(self.report.rows)

    @property
    def first(self) -> str | None:
        """The first difference, said in one line (None: every interval reproduces)."""
        if self.link is not None:
            return self.link
        if self.report is None or self.report.first is None:
            return None
        interval, found = self.report.first
        return f"interval {interval}, {found}" if interval else str(found)


@dataclass(frozen=True)
class CityAudit:
    ledgers: list[LedgerAudit]

    @property
    def first(self) -> LedgerAudit | None:
        """The first ledger (city, then feeders by name) with a difference."""
        return next((led for led in self.ledgers if led.first is not None), None)


def audit_one(
    place: CityLedgers,
    name: str | None,
    links: list[Link],
    share: dict[str, Any],
    operator: str | None,
    head_hash: str | None,
) -> LedgerAudit:
    """One ledger of the city audited, a task of its own: the city ledger (``name``
    None, pinned to ``operator`` and ``head_hash``), or feeder ``name``'s, its links
    checked first (``check_feeder_links`` on ``share``, the city's allocations to it:
    ``city.verify.feeder_share``), pinned to the operator key and newest block the city
    links."""
    if name is None:
        report = audit_city_ledger(place.city, operator=operator, head_hash=head_hash)
        return LedgerAudit(place.shown(), report)
    head: str | None = None
    problem = None
    try:
        head = check_feeder_links(place, name, links, share)
    except VerificationError as exc:
        problem = exc.message.removeprefix(f"{place.shown(name)}: ")  # the row names it
    audited = None
    if place.has(name):
        operator_key = links[-1][2]["operator"]
        audited = audit_ledger(place.feeder(name), operator=operator_key, head_hash=head)
    return LedgerAudit(place.shown(name), audited, problem)


def audit_city(
    out: str | Path | CityLedgers,
    *,
    operator: str | None = None,
    head_hash: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    map_ledgers: MapLedgers = in_process,
) -> CityAudit:
    """Audit every ledger of the city at ``out`` (module docstring); ``operator`` and
    ``head_hash`` pin the city ledger's. ``progress(done, total)`` is told the ledgers
    audited so far, from 0. ``map_ledgers`` runs the audits (``city.tasks``: in this
    process, or one Dask task per ledger, the city's too); the result is the same, in
    the same order."""
    place = city_place(out)
    by_feeder, allocations = feeder_links(place.city)
    extra = place.unlinked(set(by_feeder))
    names = sorted(by_feeder)
    total = 1 + len(names) + len(extra)

    def done(count: int) -> None:
        if progress is not None:
            progress(count, total)

    done(0)
    calls: list[tuple[Any, ...]] = [(place, None, [], {}, operator, head_hash)]
    calls += [
        (place, n, by_feeder[n], feeder_share(allocations, n, by_feeder[n]), None, None)
        for n in names
    ]
    found = map_ledgers(audit_one, calls, done)
    for count, shown in enumerate(extra, start=len(found) + 1):
        found.append(LedgerAudit(shown, None, unlinked(shown).message.removeprefix(f"{shown}: ")))
        done(count)
    return CityAudit(found)
