"""Bid and reading intake: one request frame in, one ack or reasoned rejection out.

The checks run cheapest first: envelope shape, sender registered and owning the
connection's CURVE key, signature (a bid's is checked once, by the market core), replay,
then the market's own rules. Nothing a peer sends makes this raise; everything refused
is counted by code.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from voisin import faults
from voisin.errors import InvalidInput, VoisinError
from voisin.ledger import Ledger
from voisin.market.operator import Operator, collector_paused
from voisin.market.signatures import bid_signatures_ok
from voisin.protocol import Bid, Interval, MeterReading, Participant
from voisin.protocol.envelope import Envelope, ReplayGuard, ack, parse_envelope, reject
from voisin.protocol.signed import Signed
from voisin.protocol.validation import parse_wire
from voisin.protocol.wire import (
    GONE_AFTER_HEARTBEATS,
    HEARTBEAT_S,
    Heartbeat,
    Hello,
    MessageType,
    Query,
    QueryKind,
)

log = logging.getLogger("voisin.operator")
_BEFORE_SIGNATURE = frozenset({"unknown-participant", "bad-signature"})
"""Codes the market core gives before it has checked a bid's signature."""
RECENT_FAILURES = 10
"""Failed clearings and settlements ``status`` reports, newest last."""


@dataclass
class Counters:
    """Everything the service refused or could not deliver, for the dashboard."""

    received: int = 0
    accepted: int = 0
    resends: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    unroutable: int = 0
    hwm_overflow: int = 0
    events: int = 0
    gone: int = 0

    def as_dict(self, allow: KeyOwners) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "resends": self.resends,
            "rejected": dict(sorted(self.rejected.items())),
            "unroutable": self.unroutable,
            "hwm_overflow": self.hwm_overflow,
            "events": self.events,
            "gone": self.gone,
            "curve_refused": allow.refused,
            "curve_admitted": allow.admitted,
        }


@dataclass
class _Request:
    """One request frame as ``Intake._read`` left it: its envelope and bid when they
    decoded, what refused them otherwise, and whether the bid's signature verifies
    (False also when it was not checked: the market core then checks it itself)."""

    envelope: Envelope | None = None
    bid: Signed[Bid] | None = None
    error: Exception | None = None
    signature_ok: bool = False


class KeyOwners(Protocol):
    """Who owns a CURVE key, and how many handshakes were admitted or refused
    (``voisin.transport.curve.AllowList``); the market core never sees a socket."""

    refused: int
    admitted: int

    def owner(self, curve_z85: str | bytes) -> str | None: ...


class Intake:
    """The request side of the operator: which gates are open, who is alive, what was
    refused. The service moves gates and reading windows as its timetable runs."""

    def __init__(
        self,
        operator: Operator,
        ledger: Ledger,
        members: dict[str, Participant],
        allow: KeyOwners,
        hello: dict[str, Any],
        observers: frozenset[str] = frozenset(),
    ) -> None:
        self.operator = operator
        self.observers = observers
        self.ledger = ledger
        self.members = members
        self.allow = allow
        self.hello_info = hello
        self.minutes = int(hello["minutes"])
        self.counters = Counters()
        self.guard = ReplayGuard()
        self.last_seen: dict[str, float] = {}
        self.revoked: set[str] = set()
        self.open_gates: set[str] = set()
        self.gate_closes_wall: dict[str, float] = {}
        """Open gate -> wall time (``time.time()``) it closes at, for the dashboard."""
        self.closed_gates: set[str] = set()
        self.reading_windows: set[str] = set()
        self.subscriptions = 0
        """Live event subscriptions, as the transport counts them (XPUB frames)."""
        self._parsed: dict[str, Interval] = {}
        self._signature_checked = False
        self._envelope: Envelope | None = None

    def handle(self, payload: bytes, curve_user: str | None) -> bytes:
        """The one reply to one request frame (see ``handle_batch``)."""
        return self.handle_batch([(payload, curve_user)])[0]

    def handle_batch(self, requests: list[tuple[bytes, str | None]]) -> list[bytes]:
        """One reply per request frame; never raises for anything a peer sends.

        The batch is read first and the signatures of all its bids are checked together,
        on both cores (``verify_many``); then each request is decided in order. What the
        batch's requests got accepted is journaled in one transaction and committed
        before any reply leaves (group commit): an ack means the message is on disk. If
        the commit fails, those requests are refused instead (``storage-failed``) and
        the market core has forgotten them. The garbage collector waits for the batch
        (``collector_paused``): it makes a dozen objects per request and no cycles.
        """
        with collector_paused():
            return self._handle_batch(requests)

    def _handle_batch(self, requests: list[tuple[bytes, str | None]]) -> list[bytes]:
        parsed = [self._read(payload, curve_user) for payload, curve_user in requests]
        self._presign(parsed)
        replies: list[bytes] = []
        journaled: list[tuple[int, Envelope | None]] = []
        for request in parsed:
            before = self.operator.pending
            replies.append(self._one(request))
            if self.operator.pending > before:
                journaled.append((len(replies) - 1, self._envelope))
        if journaled:
            try:
                self.operator.commit()
            except VoisinError as exc:
                for index, envelope in journaled:
                    seq = envelope.seq if envelope is not None else None
                    replies[index] = reject(seq, exc.code, exc.message)
                    if envelope is not None:
                        self.guard.remember(envelope, replies[index])
                    self.counters.accepted -= 1
                    self.counters.rejected[exc.code] += 1
            else:
                faults.point("journal-committed")
        return replies

    def _read(self, payload: bytes, curve_user: str | None) -> _Request:
        """A request decoded and its sender checked, its signature not yet: whatever
        goes wrong is kept, to be counted and answered in the request's turn."""
        request = _Request()
        try:
            envelope = request.envelope = parse_envelope(payload)
            self._check_sender(envelope, curve_user)
            if envelope.type is MessageType.BID:
                request.bid = envelope.bound_bid()
        except Exception as exc:  # raised again in turn: a bug is refused there, not here
            request.error = exc
        return request

    @staticmethod
    def _presign(requests: list[_Request]) -> None:
        """Check the signatures of the batch's bids in one ``verify_many`` call."""
        bids = [r for r in requests if r.bid is not None and r.error is None]
        verdicts = bid_signatures_ok([r.bid for r in bids if r.bid is not None])
        for request, ok in zip(bids, verdicts, strict=True):
            request.signature_ok = ok

    def _one(self, request: _Request) -> bytes:
        """The reply to one request, nothing journaled yet committed; a bug in handling
        one request is refused as ``internal-error`` and logged, never raised."""
        self._envelope = None
        try:
            return self._decide(request)
        except Exception:  # the service outlives any one request
            log.exception("request handling failed")
            self.counters.rejected["internal-error"] += 1
            seq = self._envelope.seq if self._envelope is not None else None
            return reject(seq, "internal-error", "the operator could not handle this request")

    def _decide(self, request: _Request) -> bytes:
        """Bids are self-signed (see ``Envelope.bound_bid``): the market core checks their
        signature (here, the verdict of ``_presign``), so a bid's reply is remembered
        for resends only once it has."""
        self.counters.received += 1
        seq: int | None = None
        bid = request.bid
        try:
            self._envelope = request.envelope
            if request.envelope is not None:
                seq = request.envelope.seq
            if request.error is not None:
                raise request.error
            envelope = cast(Envelope, request.envelope)  # read whenever nothing failed
            if bid is None:
                envelope.check_signature()
            cached = self.guard.check(envelope)
            if cached is not None:
                self.counters.resends += 1
                return cached
        except VoisinError as exc:
            self.counters.rejected[exc.code] += 1
            return self._refusal(seq, exc)
        if envelope.sender not in self.observers:  # observers are not agents
            self.last_seen[envelope.sender] = time.monotonic()
        self._signature_checked = bid is None
        try:
            body = (
                self._bid(bid, signature_checked=request.signature_ok)
                if bid is not None
                else self._dispatch(envelope)
            )
            reply = ack(seq, body)
            self.counters.accepted += 1
        except VoisinError as exc:
            self.counters.rejected[exc.code] += 1
            reply = self._refusal(seq, exc)
        if self._signature_checked:
            self.guard.remember(envelope, reply)
        return reply

    def _refusal(self, seq: int | None, exc: VoisinError) -> bytes:
        """A reject; a replay says the highest sequence number seen from the sender, so
        an agent whose clock went back (its numbers start at the wall time) can carry
        on above it instead of being refused for ever."""
        sender = self._envelope.sender if self._envelope is not None else None
        if exc.code != "replay" or sender is None:
            return reject(seq, exc.code, exc.message)
        seen = max(self.guard.last_seq(sender) or 0, self.operator.last_seq(sender))
        return reject(seq, exc.code, exc.message, last_seq=seen)

    def _check_sender(self, envelope: Envelope, curve_user: str | None) -> None:
        if envelope.sender in self.observers:
            if envelope.type is not MessageType.QUERY:
                raise InvalidInput("an observer key may only query", code="read-only")
        elif envelope.sender not in self.members:
            raise InvalidInput("sender is not a registered participant", code="unknown-sender")
        if envelope.sender in self.revoked:
            raise InvalidInput("sender's key was revoked", code="revoked")
        if curve_user is not None and self.allow.owner(curve_user) != envelope.sender:
            raise InvalidInput(
                "sender key does not match the connection's CURVE key", code="wrong-curve-key"
            )

    def _dispatch(self, envelope: Envelope) -> dict[str, Any]:
        body = envelope.body
        if envelope.type is MessageType.READING:
            return self._reading(envelope.sender, envelope.part(MeterReading, "meter reading"))
        if envelope.type is MessageType.QUERY:
            return self._query(parse_wire(Query, body, "query"))
        if envelope.type is MessageType.HELLO:
            parse_wire(Hello, body, "hello")
            return self._hello(envelope.sender)
        if envelope.type is MessageType.BIDS:
            return self._batch(envelope)
        parse_wire(Heartbeat, body, "heartbeat")
        return {"height": self.ledger.height}

    def _hello(self, sender: str) -> dict[str, Any]:
        member = self.members[sender]
        return {
            **self.hello_info,
            "participant": sender,
            "bus": member.bus,
            "meter": member.meter_id,
            "height": self.ledger.height,
            "heartbeat_s": HEARTBEAT_S,
        }

    def _interval(self, interval_id: str) -> Interval:
        """Intervals of open gates, parsed once (a bid only names an open one)."""
        interval = self._parsed.get(interval_id)
        if interval is None:
            interval = self._parsed[interval_id] = Interval.parse(interval_id, self.minutes)
        return interval

    def _bid(self, signed: Signed[Bid], signature_checked: bool = False) -> dict[str, Any]:
        bid = signed.value
        if self.operator.holds(signed):  # a resend (of a reply lost, maybe in a restart)
            self._signature_checked = True  # equal to a bid whose signature was checked
            return {"bid_id": bid.bid_id, "interval": bid.interval}
        if bid.interval not in self.open_gates:
            closed = bid.interval in self.closed_gates or any(
                bid.interval <= c for c in self.closed_gates
            )
            raise InvalidInput(
                f"gate for {bid.interval} is {'closed' if closed else 'not open'}",
                code="gate-closed" if closed else "gate-not-open",
            )
        try:
            self.operator.submit_bid(
                signed, self._interval(bid.interval), signature_checked=signature_checked
            )
        except VoisinError as exc:
            # The core checks the signature right after the sender: any later refusal
            # means the bid was genuinely the sender's.
            self._signature_checked = exc.code not in _BEFORE_SIGNATURE
            raise
        self._signature_checked = True
        return {"bid_id": bid.bid_id, "interval": bid.interval}

    def _batch(self, envelope: Envelope) -> dict[str, Any]:
        """Many self-signed bids in one signed request; each gets its own verdict, so one
        bad bid does not sink the batch. Transport costs are paid once per batch."""
        parsed: list[Signed[Bid] | VoisinError] = []
        for index in range(len(envelope.parts)):
            try:
                signed = envelope.part(Bid, "bid", index)
                if signed.value.participant != envelope.sender:
                    raise InvalidInput(
                        "a bid must be sent by its own participant", code="wrong-participant"
                    )
                parsed.append(signed)
            except VoisinError as exc:
                parsed.append(exc)
        good = iter(bid_signatures_ok([b for b in parsed if isinstance(b, Signed)]))
        results: list[dict[str, Any]] = []
        for entry in parsed:
            try:
                if isinstance(entry, VoisinError):
                    raise entry
                if not next(good):
                    raise InvalidInput(
                        f"bid {entry.value.bid_id!r}: signature does not verify",
                        code="bad-signature",
                    )
                results.append({**self._bid(entry, signature_checked=True), "ok": True})
            except VoisinError as exc:
                self.counters.rejected[exc.code] += 1
                results.append({"ok": False, "code": exc.code, "message": exc.message})
        self._signature_checked = True  # the envelope itself was verified
        return {"accepted": sum(r["ok"] for r in results), "results": results}

    def _reading(self, sender: str, signed: Signed[MeterReading]) -> dict[str, Any]:
        reading = signed.value
        if reading.participant != sender:
            raise InvalidInput(
                "a reading must be sent by its own participant", code="wrong-participant"
            )
        if self.operator.holds_reading(signed):
            return {"interval": reading.interval}
        if reading.interval not in self.reading_windows:
            raise InvalidInput(
                f"readings for {reading.interval} are not being taken", code="readings-closed"
            )
        self.operator.submit_reading(signed)
        return {"interval": reading.interval}

    def _query(self, query: Query) -> dict[str, Any]:
        if query.what is QueryKind.STATUS:
            return self.status()
        height = query.height
        if height is None or not 0 <= height <= self.ledger.height:
            raise InvalidInput(f"no block at height {height!r}", code="no-block")
        return self.ledger.block(height).model_dump(mode="json")

    def status(self) -> dict[str, Any]:
        return {
            "height": self.ledger.height,
            "head": self.ledger.head_hash,
            "open_gates": sorted(self.open_gates),
            "gate_closes_in_s": {
                iid: round(self.gate_closes_wall[iid] - time.time(), 3)
                for iid in sorted(self.open_gates)
                if self.gate_closes_wall.get(iid)
            },
            "alive": len(self.alive()),
            "subscriptions": self.subscriptions,
            "counters": self.counters.as_dict(self.allow),
            "market_rejections": dict(sorted(self.operator.rejections.by_code.items())),
            "failures": [f.__dict__ for f in self.operator.failures[-RECENT_FAILURES:]],
            "open_books": self.operator.open_books,
            "unsettled": self.operator.unsettled,
        }

    def alive(self) -> list[str]:
        """Agents heard from within the last few heartbeats (wall time, any speed)."""
        limit = time.monotonic() - HEARTBEAT_S * GONE_AFTER_HEARTBEATS
        return sorted(p for p, t in self.last_seen.items() if t >= limit)
