"""The operator service: the market core behind ZeroMQ, CurveZMQ and the signed envelope.

One thread owns the sockets and the ``Operator``: a ROUTER answers every request with an
ack or a reasoned rejection, a PUB announces each phase of each interval, and the clock's
timetable says when gates open and close, when readings are due and when intervals
settle. The market core never sees a socket; this module never decides a price.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import zmq

from voisin.agents import Scenario, default_neighbourhood
from voisin.errors import InvalidInput, VoisinError
from voisin.ledger import Ledger
from voisin.market.operator import Operator
from voisin.protocol import Bid, Interval, MeterReading, canonical_bytes, parse
from voisin.protocol.clock import Clock, Phase, Timetable
from voisin.protocol.curve import AllowList, make_server, start_authenticator
from voisin.protocol.envelope import Envelope, ReplayGuard, ack, parse_envelope, reject
from voisin.protocol.wire import (
    GONE_AFTER_HEARTBEATS,
    HEARTBEAT_S,
    HIGH_WATER_MARK,
    PROTOCOL_VERSION,
    EventType,
    MessageType,
    QueryKind,
)

log = logging.getLogger("voisin.operator")

GENESIS_SUPPLY_MICRO = 1_000_000 * 1_000_000
OPENING_ALLOWANCE_MICRO = 500 * 1_000_000
DRAIN_BATCH = 1024
"""Requests handled before the loop looks at the clock again."""


@dataclass(frozen=True)
class ServiceConfig:
    """What ``voisin operator`` runs. ``start`` None means real time from now on."""

    households: int = 30
    seed: int = 7
    start: datetime | None = datetime(2026, 6, 22, 10, 0, tzinfo=UTC)
    minutes: int = 15
    speed: float = 900.0
    intervals: int = 96
    router: str = "tcp://127.0.0.1:5555"
    pub: str = "tcp://127.0.0.1:5556"
    ledger: Path = Path("voisin-live/ledger.sqlite")
    wait_agents: int = 0
    wait_timeout_s: float = 30.0
    timetable: Timetable = field(default_factory=Timetable)


@dataclass
class Counters:
    """Everything the service refused or could not deliver, for the dashboard."""

    received: int = 0
    accepted: int = 0
    resends: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unroutable: int = 0
    hwm_overflow: int = 0
    events: int = 0
    gone: int = 0

    def as_dict(self, allow: AllowList) -> dict[str, Any]:
        return {"received": self.received, "accepted": self.accepted,
                "resends": self.resends, "rejected": dict(sorted(self.rejected.items())),
                "unroutable": self.unroutable, "hwm_overflow": self.hwm_overflow,
                "events": self.events, "gone": self.gone,
                "curve_refused": allow.refused, "curve_admitted": allow.admitted}


def _cleared_intervals(ledger: Ledger) -> set[str]:
    """Intervals an earlier run of this operator already cleared (restart after a crash)."""
    return {b.header.interval for b in ledger.blocks()
            if b.header.interval and any(t.kind.value == "clearing" for t in b.transactions)}


class OperatorService:
    """``Operator`` + sockets + timetable. ``run`` until the last interval settles or
    ``stop`` is called (from a signal handler)."""

    def __init__(self, config: ServiceConfig, scenario: Scenario | None = None) -> None:
        self.config = config
        self.scenario = scenario or default_neighbourhood(config.households, config.seed,
                                                          config.minutes)
        self.key = self.scenario.operator
        self.intervals = self._intervals()
        self.counters = Counters()
        self.allow = AllowList()
        self.guard = ReplayGuard()
        self.members = {m.id: m for m in self.scenario.members}
        self.last_seen: dict[str, float] = {}
        self.revoked: set[str] = set()
        self.pending_revocations: set[str] = set()
        self.open_gates: set[str] = set()
        self.closed_gates: set[str] = set()
        self.reading_windows: set[str] = set()
        self._event_seq = 0
        self._stopping = False
        self.clock: Clock | None = None
        self.ledger = self._open_ledger()
        skip = _cleared_intervals(self.ledger)
        self.closed_gates |= skip
        self.intervals = [iv for iv in self.intervals if iv.id not in skip]
        for member_id in sorted(self.members):
            self.allow.allow(member_id)
        self.context = zmq.Context()
        self.auth = start_authenticator(self.context, self.allow)
        self.router = self.context.socket(zmq.ROUTER)
        self.pub = self.context.socket(zmq.PUB)
        for sock in (self.router, self.pub):
            sock.linger = 0
            sock.sndhwm = HIGH_WATER_MARK
            sock.rcvhwm = HIGH_WATER_MARK
            make_server(sock, self.key)
        self.router.router_mandatory = True
        self.router.bind(config.router)
        self.pub.bind(config.pub)

    def _intervals(self) -> list[Interval]:
        cfg = self.config
        length = timedelta(minutes=cfg.minutes)
        if cfg.start is None:
            now = datetime.now(UTC)
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            first = midnight + length * (int((now - midnight) / length) + 2)
        else:
            first = cfg.start.astimezone(UTC)
        return [Interval(start=first + length * i, minutes=cfg.minutes)
                for i in range(cfg.intervals)]

    def _open_ledger(self) -> Ledger:
        path = self.config.ledger
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"cannot create {path.parent}: {exc.strerror}",
                               code="bad-output") from None
        fresh = not path.exists()
        opening = (self.intervals[0].start if self.intervals else datetime.now(UTC)).isoformat()
        ledger = Ledger.open(path, self.key, fund=self.scenario.fund, time=opening,
                             genesis_supply_micro=GENESIS_SUPPLY_MICRO)
        self.operator = Operator(self.scenario.grid, ledger)
        # The core keeps its registry in memory: a restarted operator registers again
        # (one more registration block), but pays the opening allowance only once.
        self.operator.register(list(self.scenario.participants), time=opening,
                               allowance_micro=OPENING_ALLOWANCE_MICRO if fresh else 0)
        return ledger

    # -- events -----------------------------------------------------------------------

    def publish(self, topic: EventType, body: dict[str, Any]) -> None:
        self._event_seq += 1
        payload = canonical_bytes({"v": PROTOCOL_VERSION, "type": topic.value,
                                   "seq": self._event_seq, "body": body})
        try:
            self.pub.send_multipart([topic.value.encode(), payload], flags=zmq.NOBLOCK)
            self.counters.events += 1
        except zmq.Again:
            self.counters.hwm_overflow += 1

    def _publish_block(self) -> None:
        block = self.ledger.block(self.ledger.height)
        self.publish(EventType.BLOCK, block.model_dump(mode="json"))

    # -- the timetable ----------------------------------------------------------------

    def run_phase(self, phase: Phase, interval: Interval) -> None:
        """Do what the timetable says for ``interval`` now."""
        iid = interval.id
        if phase is Phase.OPEN_GATE:
            self._apply_revocations()
            self.open_gates.add(iid)
            closes = self.config.timetable.at(interval, Phase.CLOSE_GATE)
            self.publish(EventType.GATE_OPEN, {"interval": iid, "minutes": interval.minutes,
                                               "closes_at": closes.isoformat(),
                                               "closes_at_wall": self._wall(closes)})
        elif phase is Phase.CLOSE_GATE:
            self.open_gates.discard(iid)
            self.closed_gates.add(iid)
            self.publish(EventType.GATE_CLOSED, {"interval": iid})
            result = self.operator.close_gate(interval)
            self.publish(EventType.CLEARING, {
                "interval": iid, "status": result.status.value, "welfare_eur": result.welfare_eur,
                "prices_eur_per_kwh": result.prices_eur_per_kwh, "trades": len(result.trades),
                "grid_import_kwh": result.grid_import_kwh,
                "grid_export_kwh": result.grid_export_kwh, "block": self.ledger.height})
            self._publish_block()
        elif phase is Phase.DELIVERED:
            self.reading_windows.add(iid)
            due = self.config.timetable.at(interval, Phase.SETTLE)
            self.publish(EventType.DELIVERY, {"interval": iid, "readings_until": due.isoformat(),
                                              "readings_until_wall": self._wall(due)})
        elif phase is Phase.SETTLE:
            self.reading_windows.discard(iid)
            self.operator.settle(interval)
            self._publish_block()

    def _wall(self, instant: datetime) -> float:
        return round(self.clock.wall_at(instant), 3) if self.clock else 0.0

    def revoke(self, participant: str) -> None:
        """Refuse ``participant`` from the next interval on (transport and application)."""
        self.pending_revocations.add(participant)

    def _apply_revocations(self) -> None:
        for participant in sorted(self.pending_revocations):
            self.allow.revoke(participant)
            self.revoked.add(participant)
        self.pending_revocations.clear()

    # -- requests ---------------------------------------------------------------------

    def handle(self, payload: bytes, curve_user: str | None) -> bytes:
        """The one reply to one request frame; never raises for anything a peer sends."""
        self.counters.received += 1
        seq: int | None = None
        try:
            envelope = parse_envelope(payload)
            seq = envelope.seq
            self._check_sender(envelope, curve_user)
            envelope.check_signature()
            cached = self.guard.check(envelope)
            if cached is not None:
                self.counters.resends += 1
                return cached
        except VoisinError as exc:
            self.counters.rejected[exc.code] += 1
            return reject(seq, exc.code, exc.message)
        self.last_seen[envelope.sender] = time.monotonic()
        try:
            reply = ack(seq, self._dispatch(envelope))
            self.counters.accepted += 1
        except VoisinError as exc:
            self.counters.rejected[exc.code] += 1
            reply = reject(seq, exc.code, exc.message)
        self.guard.remember(envelope, reply)
        return reply

    def _check_sender(self, envelope: Envelope, curve_user: str | None) -> None:
        if envelope.sender not in self.members:
            raise InvalidInput("sender is not a registered participant", code="unknown-sender")
        if envelope.sender in self.revoked:
            raise InvalidInput("sender's key was revoked", code="revoked")
        if curve_user is not None and self.allow.owner(curve_user) != envelope.sender:
            raise InvalidInput("sender key does not match the connection's CURVE key",
                               code="wrong-curve-key")

    def _dispatch(self, envelope: Envelope) -> dict[str, Any]:
        body = envelope.body
        if envelope.type is MessageType.BID:
            return self._bid(envelope.sender, body.get("bid"))
        if envelope.type is MessageType.READING:
            return self._reading(envelope.sender, body.get("reading"))
        if envelope.type is MessageType.QUERY:
            return self._query(body)
        if envelope.type is MessageType.HELLO:
            return self._hello(envelope.sender)
        return {"height": self.ledger.height}

    def _hello(self, sender: str) -> dict[str, Any]:
        member = self.members[sender]
        first = self.intervals[0].start if self.intervals else None
        return {"operator": self.key.public_hex, "participant": sender, "bus": member.bus,
                "meter": member.meter_key.public_hex, "minutes": self.config.minutes,
                "first_interval": first.isoformat() if first else None,
                "intervals": len(self.intervals), "speed": self.config.speed,
                "height": self.ledger.height, "heartbeat_s": HEARTBEAT_S}

    def _interval(self, interval_id: object) -> Interval:
        try:
            return Interval.parse(str(interval_id), self.config.minutes)
        except ValueError:
            raise InvalidInput(f"{str(interval_id)[:32]!r} is not an interval id",
                               code="bad-interval") from None

    def _bid(self, sender: str, data: object) -> dict[str, Any]:
        bid = parse(Bid, data, "bid")
        if bid.participant != sender:
            raise InvalidInput("a bid must be sent by its own participant",
                               code="wrong-participant")
        if bid.interval not in self.open_gates:
            closed = bid.interval in self.closed_gates or any(
                bid.interval <= c for c in self.closed_gates)
            raise InvalidInput(f"gate for {bid.interval} is {'closed' if closed else 'not open'}",
                               code="gate-closed" if closed else "gate-not-open")
        self.operator.submit_bid(bid, self._interval(bid.interval))
        return {"bid_id": bid.bid_id, "interval": bid.interval}

    def _reading(self, sender: str, data: object) -> dict[str, Any]:
        reading = parse(MeterReading, data, "meter reading")
        if reading.participant != sender:
            raise InvalidInput("a reading must be sent by its own participant",
                               code="wrong-participant")
        if reading.interval not in self.reading_windows:
            raise InvalidInput(f"readings for {reading.interval} are not being taken",
                               code="readings-closed")
        self.operator.submit_reading(reading)
        return {"interval": reading.interval}

    def _query(self, body: dict[str, Any]) -> dict[str, Any]:
        what = body.get("what")
        if what == QueryKind.STATUS:
            return self.status()
        if what == QueryKind.BLOCK:
            height = body.get("height")
            if type(height) is not int or not 0 <= height <= self.ledger.height:
                raise InvalidInput(f"no block at height {height!r}", code="no-block")
            return self.ledger.block(height).model_dump(mode="json")
        raise InvalidInput(f"unknown query {str(what)[:32]!r}", code="unknown-query")

    def status(self) -> dict[str, Any]:
        return {"height": self.ledger.height, "head": self.ledger.head_hash,
                "open_gates": sorted(self.open_gates), "alive": len(self.alive()),
                "counters": self.counters.as_dict(self.allow),
                "market_rejections": dict(sorted(self.operator.rejections.by_code.items()))}

    def alive(self) -> list[str]:
        """Agents heard from within the last few heartbeats (wall time, any speed)."""
        limit = time.monotonic() - HEARTBEAT_S * GONE_AFTER_HEARTBEATS
        return sorted(p for p, t in self.last_seen.items() if t >= limit)

    def _mark_gone(self) -> None:
        limit = time.monotonic() - HEARTBEAT_S * GONE_AFTER_HEARTBEATS
        for participant in sorted(p for p, t in self.last_seen.items() if t < limit):
            del self.last_seen[participant]
            self.counters.gone += 1
            self.publish(EventType.AGENT_GONE, {"participant": participant})

    # -- the loop ---------------------------------------------------------------------

    def _send(self, frames: list[Any]) -> None:
        try:
            self.router.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self.counters.hwm_overflow += 1
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self.counters.unroutable += 1

    def serve_once(self, timeout_ms: int) -> None:
        """Answer the requests that arrive within ``timeout_ms`` (tests drive it directly)."""
        self._serve(timeout_ms)

    def _serve(self, timeout_ms: int) -> None:
        if not self.router.poll(timeout_ms, zmq.POLLIN):
            return
        for _ in range(DRAIN_BATCH):
            try:
                frames = self.router.recv_multipart(flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            last = frames[-1]
            user = last.get("User-Id") if self.router.curve_server else None
            self._send([*frames[:-1], self.handle(last.bytes, user)])

    def _wait_for_agents(self) -> None:
        want = self.config.wait_agents
        if not want:
            return
        deadline = time.monotonic() + self.config.wait_timeout_s
        while not self._stopping and len(self.last_seen) < want and time.monotonic() < deadline:
            self._serve(50)
        log.info("%d of %d agents said hello", len(self.last_seen), want)

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> None:
        """Serve until the timetable is done or ``stop``; closes everything on the way out."""
        try:
            self._wait_for_agents()
            if self.intervals:
                first = self.config.timetable.at(self.intervals[0], Phase.OPEN_GATE)
                origin = first if self.config.start is not None else datetime.now(UTC)
                self.clock = self.clock or Clock(origin, self.config.speed)
            steps = self.config.timetable.plan(self.intervals)
            index = 0
            while not self._stopping and index < len(steps):
                due_wall = self.clock.wall_at(steps[index][0])
                wait = due_wall - self.clock.wall()
                if wait <= 0:
                    _, phase, interval = steps[index]
                    self.run_phase(phase, interval)
                    index += 1
                    continue
                self._serve(max(1, min(int(wait * 1000), 100)))
                self._mark_gone()
            if not self._stopping:
                self.publish(EventType.END, {"height": self.ledger.height,
                                             "head": self.ledger.head_hash})
                self._serve(200)
        finally:
            self.close()

    def close(self) -> None:
        self.router.close(0)
        self.pub.close(0)
        self.auth.stop()
        self.context.term()
        self.ledger.close()
