"""The operator core: registry, gate, clearing and ledger writes, with no sockets.

`voisin simulate` drives this object in one process; the ZeroMQ operator wraps the same
object, so live and simulated markets share every line of market logic. Per interval:
``submit_bid`` until gate closure, ``close_gate`` clears and commits the trades block,
``submit_reading`` after delivery, ``settle`` commits the settlement block.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from voisin.errors import InvalidInput, VoisinError
from voisin.ledger import Ledger, Settlement, rewards_for, settle
from voisin.ledger import transactions as tx
from voisin.ledger.contract_effects import contract_payments, gift_pairs
from voisin.ledger.contracts import accept_contract
from voisin.market.gate import DEFAULT_RULES, MarketRules, check_bid
from voisin.market.reclear import ClearingInputs, reclear
from voisin.market.recovery import recover
from voisin.market.terms import Terms
from voisin.protocol import (
    Bid,
    ClearingResult,
    Grid,
    Interval,
    MeterReading,
    Participant,
    Trade,
    verify,
)
from voisin.protocol.signed import Signed


@dataclass
class Rejections:
    """Counts of refused messages by code, for the summary and the dashboard."""

    by_code: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def count(self, error: VoisinError) -> None:
        self.by_code[error.code] += 1

    @property
    def total(self) -> int:
        return sum(self.by_code.values())


class Operator:
    """One market: its grid, its members, its open books and its ledger."""

    def __init__(self, grid: Grid, ledger: Ledger, rules: MarketRules = DEFAULT_RULES) -> None:
        self.grid = grid
        self.ledger = ledger
        self.rules = rules
        self._terms: dict[int, Terms] = {}  # by interval length, built at the first gate
        self._recorded_terms = ""  # hash of the newest market transaction on the ledger
        self.rejections = Rejections()
        self._members: dict[str, Participant] = {}
        self._meters: dict[str, str] = {}
        self._last_seq: dict[str, int] = {}
        self._books: dict[str, dict[str, Signed[Bid]]] = defaultdict(dict)
        self._readings: dict[str, dict[str, Signed[MeterReading]]] = defaultdict(dict)
        self._results: dict[str, ClearingResult] = {}
        self._unsettled: dict[str, tuple[Trade, ...]] = {}
        self._last_closed = ""

    @classmethod
    def resume(cls, grid: Grid, ledger: Ledger, rules: MarketRules = DEFAULT_RULES) -> Operator:
        """An operator picking up where the one that wrote ``ledger`` stopped: the same
        members, no interval cleared twice, unsettled intervals still to settle."""
        state = recover(ledger)
        operator = cls(grid, ledger, rules)
        for p in state.members:
            operator._members[p.participant_id] = p
            operator._meters[p.participant_id] = p.meter_id
        operator._last_closed = state.last_closed
        operator._unsettled = dict(state.unsettled)
        operator._recorded_terms = state.terms_hash
        return operator

    def terms(self, minutes: int) -> Terms:
        """The market terms this operator clears intervals of ``minutes`` under."""
        if minutes not in self._terms:
            self._terms[minutes] = Terms.of(self.grid, self.rules, minutes=minutes)
        return self._terms[minutes]

    @property
    def unsettled(self) -> list[str]:
        """Intervals cleared but not yet settled, oldest first."""
        return sorted(self._unsettled)

    @property
    def members(self) -> list[Participant]:
        return [self._members[k] for k in sorted(self._members)]

    def register(self, participants: Sequence[Participant], *, time: str,
                 allowance_micro: int = 0) -> None:
        """Admit participants in one block, each with an opening allowance from the fund."""
        fresh = [p for p in participants if p.participant_id not in self._members]
        for p in fresh:
            if p.bus not in self.grid.buses:
                raise InvalidInput(f"participant {p.participant_id[:12]} sits at unknown bus "
                                   f"{p.bus!r}", code="unknown-bus")
        entries = [tx.registration(p) for p in fresh]
        if allowance_micro:
            entries += [tx.transfer(self.ledger.fund, p.participant_id, allowance_micro,
                                    "opening allowance") for p in fresh]
        if entries:
            self.ledger.append(entries, interval=None, time=time)
        for p in fresh:
            self._members[p.participant_id] = p
            self._meters[p.participant_id] = p.meter_id

    def submit_bid(self, bid: Bid | Signed[Bid], interval: Interval, *,
                   signature_checked: bool = False) -> None:
        """Accept ``bid`` into the open book of ``interval`` or raise why not.

        A bid from the network comes as ``Signed``, with the exact bytes its participant
        signed: the signature is checked over them and they are what the ledger stores.
        A plain ``Bid`` (the simulation) is taken as its RFC 8785 bytes, what an agent
        would send. A sequence number at or below the sender's last one is a replay,
        unless the bid is byte-identical to the one already accepted (an idempotent
        resend). ``signature_checked`` says the caller verified the bid's signature
        already (the ZeroMQ service checks a batch's signatures on worker threads).
        """
        try:
            self._admit(bid if isinstance(bid, Signed) else Signed.of(bid), interval,
                        signature_checked)
        except VoisinError as exc:
            self.rejections.count(exc)
            raise

    def _admit(self, signed: Signed[Bid], interval: Interval, signature_checked: bool) -> None:
        bid = signed.value
        member = self._members.get(bid.participant)
        if member is None:
            raise InvalidInput(f"bid {bid.bid_id!r} from an unregistered key",
                               code="unknown-participant")
        if not signature_checked and not verify(bid.participant, signed.signed_bytes,
                                                bid.signature):
            raise InvalidInput(f"bid {bid.bid_id!r}: signature does not verify",
                               code="bad-signature")
        if interval.id <= self._last_closed:
            raise InvalidInput(f"bid {bid.bid_id!r}: gate for {interval.id} is closed",
                               code="gate-closed")
        check_bid(bid, interval=interval.id, known_buses=self.grid.buses, rules=self.rules)
        if bid.bus != member.bus:
            raise InvalidInput(f"bid {bid.bid_id!r} names bus {bid.bus!r}; the participant "
                               f"sits at {member.bus!r}", code="wrong-bus")
        book = self._books[interval.id]
        known = book.get(bid.bid_id)
        if known is not None and known.data == signed.data:
            return
        if bid.seq <= self._last_seq.get(bid.participant, -1):
            raise InvalidInput(f"bid {bid.bid_id!r}: sequence {bid.seq} already used",
                               code="replay")
        if bid.bid_id in book:
            raise InvalidInput(f"bid id {bid.bid_id!r} already in the book", code="duplicate-bid")
        self._last_seq[bid.participant] = bid.seq
        book[bid.bid_id] = signed

    def submit_contract(self, body: dict[str, object], *, time: str) -> None:
        """Register a signed contract (or revocation) from a member, in a block of its own.

        The ledger checks the owner's signature and refuses retroactive terms.
        """
        try:
            entry = accept_contract(body)
            owner = entry.body.get("owner")
            if owner not in self._members:
                raise InvalidInput("contract from an unregistered key", code="unknown-participant")
            self.ledger.append([entry], interval=None, time=time)
        except VoisinError as exc:
            self.rejections.count(exc)
            raise

    def close_gate(self, interval: Interval) -> ClearingResult:
        """Clear the interval's book and commit the trades block; returns the result.

        The block records everything the clearing depended on, so anyone can re-clear it
        (``voisin audit``): the market terms when they changed, every bid as its
        participant signed it, the bid digest, the clearing (naming the terms by hash),
        the trades and their payments. The contracts in force shape the book first
        (gifts, priority partners, price caps); they are on the ledger already.
        """
        if interval.id in self._results:
            return self._results[interval.id]
        if interval.id <= self._last_closed:
            raise InvalidInput(f"interval {interval.id} was cleared and settled already",
                               code="gate-closed")
        signed = sorted(self._books.pop(interval.id, {}).values(), key=lambda b: b.value.bid_id)
        contracts = self.ledger.contracts
        terms = self.terms(interval.minutes)
        result = reclear(ClearingInputs(interval.id, [s.value for s in signed], contracts,
                                        terms))
        terms_hash = tx.terms_hash(terms.body)
        entries = [] if terms_hash == self._recorded_terms else [tx.market(terms.body)]
        self.ledger.append(
            entries + [tx.bid(s) for s in signed]
            + [tx.bid_digest(signed, interval.id), tx.clearing(result, terms_hash)]
            + [tx.trade(t) for t in result.trades]
            + contract_payments(result.trades, self.ledger.fund, contracts, interval.id),
            interval=interval.id,
            time=interval.end.isoformat(),
        )
        self._recorded_terms = terms_hash
        self._results[interval.id] = result
        self._unsettled[interval.id] = result.trades
        self._last_closed = interval.id
        return result

    def submit_reading(self, reading: MeterReading | Signed[MeterReading]) -> None:
        """Accept a meter reading signed by the meter registered for its participant,
        over its exact bytes (``Signed``; a plain reading is taken as its RFC 8785 bytes)."""
        signed = reading if isinstance(reading, Signed) else Signed.of(reading)
        reading = signed.value
        try:
            expected = self._meters.get(reading.participant)
            if expected is None or expected != reading.meter:
                raise InvalidInput(f"reading for {reading.participant[:12]} from an unknown "
                                   "meter", code="unknown-meter")
            if not verify(reading.meter, signed.signed_bytes, reading.signature):
                raise InvalidInput("meter reading: signature does not verify",
                                   code="bad-signature")
        except VoisinError as exc:
            self.rejections.count(exc)
            raise
        self._readings[reading.interval][reading.participant] = signed

    def settle(self, interval: Interval) -> list[Settlement]:
        """Settle metered against traded energy and commit readings, settlements, rewards."""
        trades = self._unsettled.pop(interval.id, None)
        if trades is None:
            raise InvalidInput(f"interval {interval.id} has not been cleared", code="not-cleared")
        self._results.pop(interval.id, None)
        received = self._readings.pop(interval.id, {})
        signed = [received[k] for k in sorted(received)]
        readings = [r.value for r in signed]
        settlements = settle(interval.id, self.members, trades, readings)
        self.ledger.append(
            [tx.reading(r) for r in signed]
            + [tx.settlement(s) for s in settlements]
            + rewards_for(interval.id, trades, readings),
            interval=interval.id,
            time=interval.end.isoformat(),
        )
        return settlements

    def gifts(self, interval: Interval) -> set[tuple[str, str]]:
        """(giver, recipient) pairs whose gift share is in force in ``interval``."""
        return gift_pairs(self.ledger.contracts, interval.id)

    def submit_all(self, items: Iterable[Bid], interval: Interval) -> int:
        """Submit many bids; returns how many were refused (each counted by code)."""
        refused = 0
        for bid in items:
            try:
                self.submit_bid(bid, interval)
            except VoisinError:
                refused += 1
        return refused
