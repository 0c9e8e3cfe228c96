"""The operator core: registry, gate, clearing and ledger writes, with no sockets.

`voisin simulate` drives this object in one process; the ZeroMQ operator wraps the same
object, so live and simulated markets share every line of market logic. Per interval:
``submit_bid`` until gate closure, ``close_gate`` clears and commits the trades block,
``submit_reading`` after delivery, ``settle`` commits the settlement block.

With a ``Journal`` (the live operator), every accepted bid and reading is journaled in
the ledger file before anyone is told it was accepted: the caller ``commit``s, then
acknowledges; a commit that fails undoes the batch in memory too. Books and readings
leave memory (and the journal) only once the block holding them is committed; a
clearing or settlement that fails keeps them and records why (``failures``).
"""

from __future__ import annotations

import gc
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from voisin import faults
from voisin.errors import InvalidInput, LedgerError, VoisinError
from voisin.ledger import Ledger, Settlement, rewards_for
from voisin.ledger import transactions as tx
from voisin.ledger.contract_effects import contract_payment_rows, gift_pairs
from voisin.ledger.contracts import accept_contract
from voisin.ledger.journal import STORAGE_FAILED, EntryKind, Journal
from voisin.ledger.sealed import SealedStore
from voisin.ledger.settlement import settlement_rows, settlements_of
from voisin.market.clearing import Backend
from voisin.market.gate import DEFAULT_RULES, MarketRules, check_bid
from voisin.market.meter_checks import MeterBook
from voisin.market.own_bids import OwnBids
from voisin.market.reclear import ClearingInputs, reclear
from voisin.market.recovery import Failure, recover
from voisin.market.terms import Terms
from voisin.market.upstream import Upstream
from voisin.protocol import (
    Bid,
    ClearingResult,
    Grid,
    Interval,
    MeterReading,
    Participant,
    Registration,
    Trade,
    Transaction,
    own_charges,
    verify,
)
from voisin.protocol.blocks import EncodedTransaction
from voisin.protocol.compact import CompactBid
from voisin.protocol.encoding import leaf_hash, sha256_hex
from voisin.protocol.interval import DEFAULT_MINUTES
from voisin.protocol.signed import Signed

log = logging.getLogger("voisin.operator")

OPERATOR_BACKEND: Backend = "highs"
"""The operator clears on highspy directly, whatever the book's size, and records it in
its market terms, so an audit re-clears the same way. It is the same LP as the Pyomo
model (tests/market/test_differential.py holds the two to one welfare and one set of
prices), in milliseconds per interval instead of the tenth of a second Pyomo takes to
build and hand over even a small model. Pyomo stays the readable form an auditor can
re-run: ``clear(..., backend="pyomo")``."""


@dataclass
class Rejections:
    """Counts of refused messages by code, for the summary and the dashboard, and the
    bids' own (``bids``: a refused reading or contract is not a refused bid)."""

    by_code: Counter[str] = field(default_factory=Counter)
    bids: Counter[str] = field(default_factory=Counter)

    def count(self, error: VoisinError, *, bid: bool = False) -> None:
        self.by_code[error.code] += 1
        if bid:
            self.bids[error.code] += 1

    @property
    def total(self) -> int:
        return self.by_code.total()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while a burst of bulk work runs.

    Gate closure and the intake of a drained batch make a few objects per bid and trade
    and almost no cycles, but each allocation burst sets off collections that walk the
    whole heap, every open book included: about 1 s of 5 at 100k bids
    (benchmarks/clearing.py, column gc) and about 14 us of a bid's 120 at intake
    (docs/performance.md, round 8). What the burst leaves is collected as usual once it
    is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Operator:
    """One market: its grid, its members, its open books and its ledger."""

    def __init__(
        self,
        grid: Grid,
        ledger: Ledger,
        rules: MarketRules = DEFAULT_RULES,
        journal: Journal | None = None,
        sealed: SealedStore | None = None,
        backend: Backend = OPERATOR_BACKEND,
    ) -> None:
        self.grid = grid
        self.backend: Backend = backend
        """The clearing backend its terms name (``OPERATOR_BACKEND`` unless asked)."""
        self.ledger = ledger
        self.rules = rules
        self.journal = journal
        self.sealed = sealed
        """Where whole readings go, sealed to their owners, once their block is in."""
        self._terms: dict[int, Terms] = {}  # by interval length, built at the first gate
        self._terms_hashes: dict[int, str] = {}  # their hashes (``tx.terms_hash``), as built
        self._recorded_terms = ""  # hash of the newest market transaction on the ledger
        self.rejections = Rejections()
        self.failures: list[Failure] = []
        self.meters = MeterBook(rules.meter_max_kwh)
        self._members: dict[str, Registration] = {}
        self._last_seq: dict[str, int] = {}
        self._books: dict[str, dict[str, CompactBid]] = defaultdict(dict)
        """Per open interval, its accepted bids by id as compact rows (the signed bytes
        and the fields the clearing reads), not pydantic models: a million-bid book
        fits in memory (docs/performance.md)."""
        self._entries: dict[str, dict[str, tuple[EncodedTransaction, bytes]]] = defaultdict(dict)
        """Per accepted bid, its ``bid`` transaction and its bid-digest leaf hash, both
        made once from its bytes at intake (not again at gate closure)."""
        self._own_bids: dict[str, dict[str, OwnBids]] = defaultdict(dict)
        self._results: dict[str, ClearingResult] = {}
        self._cleared_books: dict[str, dict[str, CompactBid]] = {}
        """Books of cleared intervals not yet settled: a late resend is still an ack."""
        self._unsettled: dict[str, Sequence[Trade]] = {}
        self._minutes: dict[str, int] = {}
        """Each cleared interval's length: a reading's limit scales with it."""
        """Per cleared interval, its trades until settled: a clearing's ``TradeTable``
        (columns), or the trades recovery read back."""
        self._cleared: set[str] = set()
        self._last_closed = ""

    @classmethod
    def resume(
        cls,
        grid: Grid,
        ledger: Ledger,
        rules: MarketRules = DEFAULT_RULES,
        journal: Journal | None = None,
        sealed: SealedStore | None = None,
    ) -> Operator:
        """An operator picking up where the one that wrote ``ledger`` stopped: the same
        members, no interval cleared twice, unsettled intervals still to settle, and
        (from ``journal``) the open books and pending readings it had acknowledged."""
        state = recover(ledger, journal)
        operator = cls(grid, ledger, rules, journal, sealed)
        for p in state.members:
            operator._members[p.participant_id] = p
            operator.meters.register(p)
        operator._last_closed = state.last_closed
        operator._cleared = state.cleared
        operator._unsettled = dict(state.unsettled)
        operator._minutes = dict(state.minutes)
        operator._recorded_terms = state.terms_hash
        operator.meters.restore(state.registers)
        operator.failures = state.failures
        for signed in state.bids:
            bid = CompactBid.of(signed)
            if bid.interval in state.cleared:
                operator._cleared_books.setdefault(bid.interval, {})[bid.bid_id] = bid
            else:
                operator._hold_bid(bid, bid.interval)
        for reading in state.readings:
            operator.meters.hold(reading)
        return operator

    def terms(self, minutes: int) -> Terms:
        """The market terms this operator clears intervals of ``minutes`` under."""
        if minutes not in self._terms:
            self._terms[minutes] = Terms.of(
                self.grid, self.rules, minutes=minutes, backend=self.backend
            )
        return self._terms[minutes]

    def _terms_hash(self, minutes: int) -> str:
        """``tx.terms_hash`` of ``terms(minutes)``, hashed once: the body holds the whole
        grid, and every gate names it."""
        if minutes not in self._terms_hashes:
            self._terms_hashes[minutes] = tx.terms_hash(self.terms(minutes).body)
        return self._terms_hashes[minutes]

    @property
    def unsettled(self) -> list[str]:
        """Intervals cleared but not yet settled, oldest first."""
        return sorted(self._unsettled)

    @property
    def cleared(self) -> set[str]:
        """Every interval whose trades block is committed."""
        return set(self._cleared)

    @property
    def open_books(self) -> list[str]:
        """Intervals with accepted bids not yet cleared, oldest first."""
        return sorted(i for i, book in self._books.items() if book)

    def book(self, interval_id: str) -> list[Signed[Bid]]:
        """The accepted bids of an interval not yet cleared, by ``bid_id``, decoded
        again from the bytes held (recovery, tests: not the gate's path)."""
        return [bid.signed() for bid in self._held(interval_id)]

    def _held(self, interval_id: str) -> list[CompactBid]:
        return sorted(self._books.get(interval_id, {}).values(), key=lambda b: b.bid_id)

    def holds(self, signed: Signed[Bid]) -> bool:
        """Whether this very bid (the same signed bytes) was accepted already, into an
        open book or one cleared and not yet settled: a resend of it is acknowledged
        again, whatever its gate does now."""
        bid = signed.value
        held = self._books.get(bid.interval, {}).get(bid.bid_id)
        if held is None:
            held = self._cleared_books.get(bid.interval, {}).get(bid.bid_id)
        return held is not None and held.data == signed.data

    def holds_reading(self, signed: Signed[MeterReading]) -> bool:
        """Whether this very reading (the same signed bytes) is held for settlement."""
        return any(r.data == signed.data for r in self.meters.held(signed.value.interval))

    @property
    def members(self) -> list[Registration]:
        return [self._members[k] for k in sorted(self._members)]

    def last_seq(self, participant: str) -> int:
        """The highest bid sequence number accepted from ``participant`` (0 if none)."""
        return max(self._last_seq.get(participant, 0), 0)

    @property
    def pending(self) -> int:
        """Messages accepted since the last ``commit`` (journaled, not yet durable)."""
        return self.journal.pending if self.journal is not None else 0

    def commit(self) -> None:
        """Make everything accepted since the last commit durable, or undo all of it.

        Raises ``LedgerError`` (``storage-failed``) when the journal cannot be written;
        the messages accepted since the last commit are then gone from memory too, so
        the caller must refuse them, not acknowledge them."""
        if self.journal is not None:
            self.journal.commit()

    def _writable(self) -> None:
        if self.ledger.stopped:
            raise LedgerError(
                f"the ledger cannot be written ({self.ledger.stopped})", code=STORAGE_FAILED
            )

    def _journal(self, kind: EntryKind, interval: str, body: str, undo: Callable[[], None]) -> None:
        if self.journal is not None:
            self.journal.stage(kind, interval, body, undo)

    def register(
        self, participants: Sequence[Participant], *, time: str, allowance_micro: int = 0
    ) -> None:
        """Admit participants in one block, each with an opening allowance from the fund.

        They are written in the order of their keys, never in the order given, so a
        registration's place on the ledger says nothing about who it is."""
        fresh = sorted(
            (p for p in participants if p.participant_id not in self._members),
            key=lambda p: p.participant_id,
        )
        for p in fresh:
            if p.bus not in self.grid.buses:
                raise InvalidInput(
                    f"participant {p.participant_id[:12]} sits at unknown bus {p.bus!r}",
                    code="unknown-bus",
                )
        entries = [tx.registration(p) for p in fresh]
        if allowance_micro:
            entries += [
                tx.transfer(
                    self.ledger.fund, p.participant_id, allowance_micro, "opening allowance"
                )
                for p in fresh
            ]
        if entries:
            self.commit()
            self.ledger.append(entries, interval=None, time=time)
        for p in fresh:
            self._members[p.participant_id] = p.registration()  # what a restart reads back
            self.meters.register(p)

    def submit_bid(
        self, bid: Bid | Signed[Bid], interval: Interval, *, signature_checked: bool = False
    ) -> None:
        """Accept ``bid`` into the open book of ``interval`` or raise why not.

        A bid from the network comes as ``Signed``, with the exact bytes its participant
        signed: the signature is checked over them and they are what the ledger (and the
        journal) store. A plain ``Bid`` (the simulation) is taken as its RFC 8785 bytes,
        what an agent would send. A sequence number at or below the sender's last one is
        a replay, unless the bid is byte-identical to the one already accepted (an
        idempotent resend). ``signature_checked`` says the caller verified the bid's
        signature already (the ZeroMQ service checks a batch's signatures on worker
        threads).
        """
        try:
            self._admit(
                bid if isinstance(bid, Signed) else Signed.of(bid), interval, signature_checked
            )
        except VoisinError as exc:
            self.rejections.count(exc, bid=True)
            raise

    def _admit(self, signed: Signed[Bid], interval: Interval, signature_checked: bool) -> None:
        bid = signed.value
        member = self._members.get(bid.participant)
        if member is None or not member.active(interval.id):
            raise InvalidInput(
                f"bid {bid.bid_id!r} from a key not registered for {interval.id}",
                code="unknown-participant",
            )
        if not signature_checked and not verify(
            bid.participant, signed.signed_bytes, bid.signature
        ):
            raise InvalidInput(
                f"bid {bid.bid_id!r}: signature does not verify", code="bad-signature"
            )
        if interval.id <= self._last_closed or interval.id in self._cleared:
            raise InvalidInput(
                f"bid {bid.bid_id!r}: gate for {interval.id} is closed", code="gate-closed"
            )
        held = CompactBid.of(signed)  # what the book keeps, and cheaper to read than ``bid``
        check_bid(held, interval=interval.id, known_buses=self.grid.buses, rules=self.rules)
        if bid.bus != member.bus:
            raise InvalidInput(
                f"bid {bid.bid_id!r} names bus {bid.bus!r}; the participant sits at {member.bus!r}",
                code="wrong-bus",
            )
        book = self._books[interval.id]
        known = book.get(bid.bid_id)
        if known is not None and known.data == signed.data:
            return
        if bid.seq <= self._last_seq.get(bid.participant, -1):
            raise InvalidInput(
                f"bid {bid.bid_id!r}: sequence {bid.seq} already used", code="replay"
            )
        if bid.bid_id in book:
            raise InvalidInput(f"bid id {bid.bid_id!r} already in the book", code="duplicate-bid")
        own = self._own_bids[interval.id].get(bid.participant)
        crossing = own.crossing(held) if own is not None else None
        if crossing is not None:
            raise InvalidInput(
                f"bid {bid.bid_id!r} would trade with the same member's bid {crossing.bid_id!r}",
                code="self-trade",
            )
        self._writable()
        before = self._last_seq.get(bid.participant)
        self._journal(
            EntryKind.BID,
            interval.id,
            signed.data.decode("utf-8"),
            lambda: self._drop_bid(held, interval.id, before),
        )
        self._hold_bid(held, interval.id)

    def _hold_bid(self, bid: CompactBid, interval_id: str) -> None:
        self._books[interval_id][bid.bid_id] = bid
        self._entries[interval_id][bid.bid_id] = (tx.bid_entry(bid), leaf_hash(bid.data))
        self._own_bids[interval_id].setdefault(bid.participant, OwnBids()).add(bid)
        self._last_seq[bid.participant] = max(bid.seq, self._last_seq.get(bid.participant, -1))

    def _drop_bid(self, bid: CompactBid, interval_id: str, seq_before: int | None) -> None:
        self._books[interval_id].pop(bid.bid_id, None)
        self._entries[interval_id].pop(bid.bid_id, None)
        self._own_bids[interval_id][bid.participant].remove(bid)
        if seq_before is None:
            self._last_seq.pop(bid.participant, None)
        else:
            self._last_seq[bid.participant] = seq_before

    def submit_contract(self, body: dict[str, object], *, time: str) -> None:
        """Register a signed contract (or revocation) from a member, in a block of its own.

        The ledger checks the owner's signature and refuses retroactive terms.
        """
        try:
            entry = accept_contract(body)
            owner = entry.body.get("owner")
            if owner not in self._members:
                raise InvalidInput("contract from an unregistered key", code="unknown-participant")
            self.commit()
            self.ledger.append([entry], interval=None, time=time)
        except VoisinError as exc:
            self.rejections.count(exc)
            raise

    def record_failure(self, interval: str, phase: str, exc: BaseException) -> Failure:
        """Remember (and journal) why ``phase`` of ``interval`` could not be committed."""
        code = exc.code if isinstance(exc, VoisinError) else "internal-error"
        message = exc.message if isinstance(exc, VoisinError) else f"{type(exc).__name__}: {exc}"
        failure = Failure(interval, phase, code, message)
        self.failures.append(failure)
        if self.journal is not None:
            self.journal.record(interval, failure.to_json())
        log.error("%s of %s failed: %s: %s", phase, interval, code, message)
        return failure

    def close_gate(self, interval: Interval, upstream: Upstream | None = None) -> ClearingResult:
        """Clear the interval's book and commit the trades block; returns the result.

        ``upstream`` (a feeder of a city) is the city's price and allocation for the
        interval: recorded as an ``upstream`` transaction before the clearing, which
        takes it (``market.upstream``).

        The block records everything the clearing depended on, so anyone can re-clear it
        (``voisin audit``): the market terms when they changed, every bid as its
        participant signed it, the bid digest, the clearing (naming the terms by hash),
        the trades and their payments. The contracts in force shape the book first
        (gifts, priority partners, price caps); they are on the ledger already. If the
        clearing or the block fails, the book stays (in memory and journal), the
        failure is recorded and the error raised: nothing acknowledged is dropped.
        """
        if interval.id in self._results:
            return self._results[interval.id]
        if interval.id in self._cleared:
            raise InvalidInput(
                f"interval {interval.id} was cleared and settled already", code="gate-closed"
            )
        with collector_paused():
            return self._close_gate(interval, upstream)

    def _close_gate(self, interval: Interval, upstream: Upstream | None) -> ClearingResult:
        self.commit()
        held = self._held(interval.id)
        faults.point("gate-closure")
        try:
            contracts = self.ledger.contracts
            terms = self.terms(interval.minutes)
            result = reclear(
                ClearingInputs(
                    interval.id,
                    held,
                    contracts,
                    terms,
                    upstream=upstream,
                    charges=own_charges(self.members),
                )
            )
            terms_hash = self._terms_hash(interval.minutes)
            entries: list[Transaction | EncodedTransaction]
            entries = [] if terms_hash == self._recorded_terms else [tx.market(terms.body)]
            faults.point("cleared")
            made = self._entries.get(interval.id, {})
            bid_entries = [made[bid.bid_id] for bid in held]
            leaves = [leaf for _, leaf in bid_entries]
            entries += [entry for entry, _ in bid_entries]
            entries.append(tx.bid_digest(held, interval.id, leaves))
            if upstream is not None:
                entries.append(tx.upstream(upstream.body(interval.id)))
            entries.append(tx.clearing(result, terms_hash))
            entries += tx.trade_entries(result.trades)
            entries += tx.transfer_entries(
                contract_payment_rows(result.trades, self.ledger.fund, contracts, interval.id)
            )
            self.ledger.append_entries(
                entries,
                interval=interval.id,
                time=interval.end.isoformat(),
            )
        except Exception as exc:
            self.record_failure(interval.id, "clearing", exc)
            raise
        self._recorded_terms = terms_hash
        faults.point("block-written")
        self._cleared_books[interval.id] = self._books.pop(interval.id, {})
        self._entries.pop(interval.id, None)
        self._own_bids.pop(interval.id, None)
        self._results[interval.id] = result
        self._unsettled[interval.id] = result.trades
        self._minutes[interval.id] = interval.minutes
        self._cleared.add(interval.id)
        self._last_closed = max(self._last_closed, interval.id)
        return result

    def submit_reading(self, reading: MeterReading | Signed[MeterReading]) -> None:
        """Accept a meter reading signed by the meter registered for its participant,
        over its public form's bytes (``MeterReading.signed_bytes``; the exact bytes it
        arrived as are what the journal keeps), for a cleared interval not yet settled,
        that a meter could have measured (see ``MeterBook.check``); an identical resend
        is accepted again, a different second reading refused. The operator sees the
        whole reading; the ledger gets its public form, and the whole reading goes
        sealed to its owner (``sealed``, when the operator has a ``SealedStore``)."""
        signed = reading if isinstance(reading, Signed) else Signed.of(reading)
        reading = signed.value
        try:
            self.meters.identify(reading)
            # the public form derived here, once, its reading_hash from the bytes held;
            # its unsigned bytes encoded once, checked, and held with the signature
            reading_hash = sha256_hex(signed.signed_bytes)
            unsigned = reading.signed_bytes(reading_hash)
            if not verify(reading.meter, unsigned, reading.signature):
                raise InvalidInput("meter reading: signature does not verify", code="bad-signature")
            public = Signed.appended(reading.public(reading_hash), unsigned, reading.signature)
            minutes = self._minutes.get(reading.interval, DEFAULT_MINUTES)
            awaited = reading.interval in self._unsettled
            if not self.meters.check(signed, awaited=awaited, minutes=minutes):
                return
            self._writable()
            self._journal(
                EntryKind.READING,
                reading.interval,
                signed.data.decode("utf-8"),
                lambda: self.meters.drop(signed),
            )
            self.meters.hold(signed, public)
        except VoisinError as exc:
            self.rejections.count(exc)
            raise

    def settle(self, interval: Interval) -> list[Settlement]:
        """Settle metered against traded energy and commit readings, settlements, rewards.

        If the block fails, the readings and trades stay for another try and the
        failure is recorded."""
        self.commit()
        signed = self.meters.held(interval.id)
        public = self.meters.held_public(interval.id)
        readings = [r.value for r in public]
        try:
            trades = self._unsettled.get(interval.id)
            if trades is None:
                raise InvalidInput(
                    f"interval {interval.id} has not been cleared", code="not-cleared"
                )
            rows = settlement_rows(interval.id, self.members, trades, readings)
            faults.point("settlement")
            entries: list[Transaction | EncodedTransaction] = [tx.reading_entry(r) for r in public]
            entries += tx.settlement_entries(rows)
            entries += rewards_for(interval.id, trades, readings)
            # the block's bytes only: a Block object would decode every entry again
            self.ledger.append_entries(entries, interval=interval.id, time=interval.end.isoformat())
        except Exception as exc:
            self.record_failure(interval.id, "settlement", exc)
            raise
        if self.sealed is not None:
            self.sealed.add_readings(signed, [r.reading_hash for r in readings])
        del self._unsettled[interval.id]
        self._minutes.pop(interval.id, None)
        self._results.pop(interval.id, None)
        self.meters.settled(interval.id)
        self._cleared_books.pop(interval.id, None)
        if self.journal is not None:  # the interval's bids and readings are all in blocks
            self.journal.forget(interval.id, EntryKind.BID)
            self.journal.forget(interval.id, EntryKind.READING)
        return settlements_of(rows)

    def gifts(self, interval: Interval) -> set[tuple[str, str]]:
        """(giver, recipient) pairs whose gift share is in force in ``interval``."""
        return gift_pairs(self.ledger.contracts, interval.id)

    def submit_all(self, items: Iterable[Bid | Signed[Bid]], interval: Interval) -> int:
        """Submit many bids; returns how many were refused (each counted by code)."""
        refused = 0
        for bid in items:
            try:
                self.submit_bid(bid, interval)
            except VoisinError:
                refused += 1
        return refused
