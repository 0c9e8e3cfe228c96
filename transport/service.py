"""The operator service: the market core behind ZeroMQ, CurveZMQ and the signed envelope.

One thread owns the sockets and the ``Operator``: a ROUTER answers every request with an
ack or a reasoned rejection, a PUB announces each phase of each interval, and the clock's
timetable says when gates open and close, when readings are due and when intervals
settle. The market core never sees a socket; this module never decides a price.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import zmq

from voisin.agents import default_neighbourhood
from voisin.errors import InvalidInput, VoisinError
from voisin.ledger import Ledger
from voisin.ledger.journal import Journal
from voisin.ledger.sealed import SEALED_FILE, SealedStore
from voisin.market.community import OPENING_ALLOWANCE_MICRO, Community, genesis_supply_micro
from voisin.market.intake import Counters, Intake
from voisin.market.operator import Operator
from voisin.protocol import Interval, canonical_bytes
from voisin.protocol.clock import Clock, Phase, Timetable
from voisin.protocol.wire import (
    GONE_AFTER_HEARTBEATS,
    HEARTBEAT_S,
    HIGH_WATER_MARK,
    PROTOCOL_VERSION,
    EventType,
)
from voisin.transport.curve import AllowList, make_server, start_authenticator

log = logging.getLogger("voisin.operator")

"""After the awaited agents said hello, how long before the first gate opens."""

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
    observers: tuple[str, ...] = ()
    """Ed25519 ids of read-only keys (dashboards): events and ``query``, nothing else."""
    wait_timeout_s: float = 30.0
    timetable: Timetable = field(default_factory=Timetable)


class OperatorService:
    """``Operator`` + sockets + timetable. ``run`` until the last interval settles or
    ``stop`` is called (from a signal handler)."""

    def __init__(self, config: ServiceConfig, community: Community | None = None) -> None:
        self.config = config
        self.community = community or Community.of(
            default_neighbourhood(config.households, config.seed)
        )
        self.key = self.community.operator
        self.intervals = self._intervals()
        self.allow = AllowList()
        self.members = {p.participant_id: p for p in self.community.participants}
        self.pending_revocations: set[str] = set()
        self._event_seq = 0
        self._users: dict[bytes, str] = {}
        self._stopping = False
        self._closed = False
        self.clock: Clock | None = None
        self.ledger = self._open_ledger()
        self.intervals = self._owed()
        self.steps = config.timetable.plan(self.intervals, self._phases)
        first = self.intervals[0] if self.intervals else None
        span = (
            (self.intervals[-1].start - first.start) // timedelta(minutes=config.minutes) + 1
            if first
            else 0
        )
        self.intake = Intake(
            self.operator,
            self.ledger,
            self.members,
            self.allow,
            {
                "operator": self.key.public_hex,
                "minutes": config.minutes,
                "first_interval": first.start.isoformat() if first else None,
                "intervals": span,
                "speed": config.speed,
            },
            frozenset(config.observers),
        )
        self.intake.closed_gates |= self.operator.cleared
        for member_id in sorted({*self.members, *config.observers}):
            self.allow.allow(member_id)
        self.context = zmq.Context()
        self.auth = start_authenticator(self.context, self.allow)
        self.router = self.context.socket(zmq.ROUTER)
        # XPUB, not PUB: every subscription reaches the service as a frame, so it knows
        # when a subscriber can hear its events instead of waiting a fixed grace period.
        self.pub = self.context.socket(zmq.XPUB)
        self.pub.setsockopt(zmq.XPUB_VERBOSER, 1)  # each (un)subscription, not only the first
        for sock in (self.router, self.pub):
            sock.linger = 0
            sock.sndhwm = HIGH_WATER_MARK
            sock.rcvhwm = HIGH_WATER_MARK
            make_server(sock, self.key)
        self.router.router_mandatory = True
        try:
            self.router.bind(config.router)
            self.pub.bind(config.pub)
        except zmq.ZMQError as exc:
            self.close()
            raise InvalidInput(
                f"cannot listen on {config.router} / {config.pub}: {exc}", code="bad-endpoint"
            ) from None

    def _intervals(self) -> list[Interval]:
        cfg = self.config
        length = timedelta(minutes=cfg.minutes)
        if cfg.start is None:
            now = datetime.now(UTC)
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            first = midnight + length * (int((now - midnight) / length) + 2)
        else:
            first = cfg.start.astimezone(UTC)
        return [
            Interval(start=first + length * i, minutes=cfg.minutes) for i in range(cfg.intervals)
        ]

    def _open_ledger(self) -> Ledger:
        path = self.config.ledger
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(
                f"cannot create {path.parent}: {exc.strerror}", code="bad-output"
            ) from None
        opening = (self.intervals[0].start if self.intervals else datetime.now(UTC)).isoformat()
        ledger = Ledger.open(
            path,
            self.key,
            fund=self.community.fund,
            time=opening,
            genesis_supply_micro=genesis_supply_micro(len(self.community.participants)),
        )
        try:
            self.journal = Journal(path)
            # A restarted operator resumes from its ledger and journal: members already
            # registered are not registered (or paid an allowance) again, the books it
            # acknowledged are open again, and an interval cleared but not settled gets
            # its delivery window back (``_owed``) before it settles.
            self.operator = Operator.resume(
                self.community.grid,
                ledger,
                journal=self.journal,
                sealed=SealedStore(path.parent / SEALED_FILE, self.key.public_hex),
            )
            # A restart registers members new to the community at the later of the
            # opening and the newest stamp: a block is never stamped before that.
            newest = ledger.time
            if newest is not None and datetime.fromisoformat(newest) > datetime.fromisoformat(
                opening
            ):
                opening = newest
            self.operator.register(
                list(self.community.participants),
                time=opening,
                allowance_micro=OPENING_ALLOWANCE_MICRO,
            )
        except BaseException:
            ledger.close()
            raise
        return ledger

    def _owed(self) -> list[Interval]:
        """The configured intervals not yet cleared and settled, plus any interval an
        earlier run left with an open book or unsettled (a restart, or a real-time
        operator whose intervals moved on), in time order."""
        op = self.operator
        owed = {
            iv.id: iv for iv in self.intervals if iv.id not in op.cleared or iv.id in op.unsettled
        }
        for interval_id in [*op.unsettled, *op.open_books]:
            owed.setdefault(interval_id, Interval.parse(interval_id, self.config.minutes))
        return [owed[k] for k in sorted(owed)]

    def _phases(self, interval: Interval) -> tuple[Phase, ...]:
        """What is still to do for ``interval``: everything, or for one cleared before a
        restart, its delivery window and settlement."""
        if interval.id in self.operator.cleared:
            return (Phase.DELIVERED, Phase.SETTLE)
        return tuple(Phase)

    # -- events -----------------------------------------------------------------------

    def publish(self, topic: EventType, body: dict[str, Any]) -> None:
        self._event_seq += 1
        payload = canonical_bytes(
            {"v": PROTOCOL_VERSION, "type": topic.value, "seq": self._event_seq, "body": body}
        )
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
        """Do what the timetable says for ``interval`` now. A phase that fails (a clearing
        or settlement the ledger refused, storage that cannot be written, a bug) leaves
        the operator serving: the operator core kept what it had and recorded why, the
        clearing event says so, and the next phase runs on time."""
        try:
            self._run_phase(phase, interval)
        except Exception as exc:  # the service outlives any one interval
            if phase is Phase.CLOSE_GATE:
                code = exc.code if isinstance(exc, VoisinError) else "internal-error"
                self.publish(
                    EventType.CLEARING, {"interval": interval.id, "status": "failed", "code": code}
                )
            if not isinstance(exc, VoisinError):
                log.exception("%s of %s failed", phase.name, interval.id)

    def _run_phase(self, phase: Phase, interval: Interval) -> None:
        iid = interval.id
        if phase is Phase.OPEN_GATE:
            self._apply_revocations()
            self.intake.open_gates.add(iid)
            closes = self.config.timetable.at(interval, Phase.CLOSE_GATE)
            self.intake.gate_closes_wall[iid] = self._wall(closes)
            self.publish(
                EventType.GATE_OPEN,
                {
                    "interval": iid,
                    "minutes": interval.minutes,
                    "closes_at": closes.isoformat(),
                    "closes_at_wall": self._wall(closes),
                },
            )
        elif phase is Phase.CLOSE_GATE:
            self.intake.open_gates.discard(iid)
            self.intake.gate_closes_wall.pop(iid, None)
            self.intake.closed_gates.add(iid)
            self.publish(EventType.GATE_CLOSED, {"interval": iid})
            self.operator.commit()  # nothing in flight: every reply already went out
            result = self.operator.close_gate(interval)
            self.publish(
                EventType.CLEARING,
                {
                    "interval": iid,
                    "status": result.status.value,
                    "welfare_eur": result.welfare_eur,
                    "prices_eur_per_kwh": result.prices_eur_per_kwh,
                    "trades": len(result.trades),
                    "grid_import_kwh": result.grid_import_kwh,
                    "grid_export_kwh": result.grid_export_kwh,
                    "block": self.ledger.height,
                },
            )
            self._publish_block()
        elif phase is Phase.DELIVERED:
            self.intake.reading_windows.add(iid)
            due = self.config.timetable.at(interval, Phase.SETTLE)
            self.publish(
                EventType.DELIVERY,
                {
                    "interval": iid,
                    "readings_until": due.isoformat(),
                    "readings_until_wall": self._wall(due),
                },
            )
        elif phase is Phase.SETTLE:
            self.intake.reading_windows.discard(iid)
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
            self.intake.revoked.add(participant)
        self.pending_revocations.clear()

    # -- requests ---------------------------------------------------------------------

    @property
    def counters(self) -> Counters:
        return self.intake.counters

    def handle(self, payload: bytes, curve_user: str | None) -> bytes:
        """One request frame in, one reply out (see ``Intake.handle``)."""
        return self.intake.handle(payload, curve_user)

    def status(self) -> dict[str, Any]:
        return self.intake.status()

    def _mark_gone(self) -> None:
        limit = time.monotonic() - HEARTBEAT_S * GONE_AFTER_HEARTBEATS
        for participant in sorted(p for p, t in self.intake.last_seen.items() if t < limit):
            del self.intake.last_seen[participant]
            self.counters.gone += 1
            self.publish(EventType.AGENT_GONE, {"participant": participant})

    # -- the loop ---------------------------------------------------------------------

    def _send(self, frames: list[Any]) -> None:
        try:
            self.router.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.counters.hwm_overflow += 1
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self.counters.unroutable += 1

    def serve_once(self, timeout_ms: int) -> None:
        """Answer the requests that arrive within ``timeout_ms`` (tests drive it directly)."""
        self._serve(timeout_ms)

    def _read_subscriptions(self) -> None:
        """Count the XPUB subscription frames that arrived (1 = subscribe, 0 = unsubscribe,
        a subscriber's subscriptions also leave when it disconnects)."""
        while self.pub.poll(0, zmq.POLLIN):
            frame = self.pub.recv(zmq.NOBLOCK)
            if frame[:1] == b"\x01":
                self.intake.subscriptions += 1
            elif frame[:1] == b"\x00":
                self.intake.subscriptions -= 1

    def _serve(self, timeout_ms: int) -> None:
        self._read_subscriptions()
        if not self.router.poll(timeout_ms, zmq.POLLIN):
            return
        batch: list[tuple[list[bytes], bytes, str | None]] = []
        for _ in range(DRAIN_BATCH):
            try:
                batch.append(self._recv_request())
            except zmq.Again:
                break
        replies = self.intake.handle_batch([(payload, user) for _, payload, user in batch])
        for (routing, _, _), reply in zip(batch, replies, strict=True):
            self._send([*routing, reply])

    def _recv_request(self) -> tuple[list[bytes], bytes, str | None]:
        """Routing frames, the request frame and the CURVE user of its connection.

        The user (the client's Z85 key, set by ZAP) is read from a zero-copy frame once
        per connection and remembered by routing id, which ROUTER never reuses; the hot
        path then receives plain bytes, several times cheaper for small frames.
        """
        sock = self.router
        routing = [sock.recv(zmq.NOBLOCK)]
        user = self._users.get(routing[0])
        while True:
            if user is None:
                frame = sock.recv(copy=False)
                user = self._users[routing[0]] = cast(str, frame.get("User-Id"))
                data = frame.bytes
            else:
                data = sock.recv()
            if not sock.rcvmore:
                return routing, data, user
            routing.append(data)

    def _wait_for_agents(self) -> None:
        """Until ``wait_agents`` agents said hello and subscribed to the events (the XPUB
        frames say so), or the timeout: the first gate then opens to every one of them."""
        want = self.config.wait_agents
        if not want:
            return
        deadline = time.monotonic() + self.config.wait_timeout_s
        seen = self.intake.last_seen
        while (
            not self._stopping
            and (len(seen) < want or self.intake.subscriptions < want)
            and time.monotonic() < deadline
        ):
            self._serve(50)
        log.info(
            "%d of %d agents said hello, %d subscriptions",
            len(seen),
            want,
            self.intake.subscriptions,
        )

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> None:
        """Serve until the timetable is done or ``stop``; closes everything on the way out."""
        try:
            self._wait_for_agents()
            steps = self.steps
            if steps:
                origin = steps[0][0] if self.config.start is not None else datetime.now(UTC)
                self.clock = self.clock or Clock(origin, self.config.speed)
            index = 0
            while not self._stopping and index < len(steps):
                assert self.clock is not None  # set above: there are steps
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
                self.publish(
                    EventType.END, {"height": self.ledger.height, "head": self.ledger.head_hash}
                )
                self._serve(200)
        finally:
            self.close()

    def close(self) -> None:
        """Close sockets, the authenticator and the ledger (once; safe to call again)."""
        if self._closed:
            return
        self._closed = True
        self.router.close(0)
        self.pub.close(0)
        self.auth.stop()
        self.context.term()
        self.journal.close()
        self.ledger.close()
