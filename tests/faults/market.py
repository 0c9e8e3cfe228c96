"""A live market driven by hand for the fault suite: the real ``OperatorService`` (its
ledger, journal, intake and timetable), fed signed requests through ``handle_batch``
exactly as its ZeroMQ loop feeds them, by members that remember what was acknowledged.

``Members`` plays every agent: at a gate it sends one signed bid per member that has
no acknowledged bid for that interval yet, at delivery one meter-signed reading, each
request sometimes twice and batches shuffled (duplicated and reordered messages). It
keeps what the operator acknowledged (``acked``) and what it sent without learning the
outcome because the operator died first (``in_doubt``). ``Audit`` checks a ledger file
against both: every acknowledged message is in the restored books or in its block,
nothing is committed twice, and the chain verifies.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from voisin.agents import Scenario, default_neighbourhood
from voisin.cli.live import free_port
from voisin.ledger import SqliteStore, verify_ledger
from voisin.meters import Meter
from voisin.protocol import (
    Bid,
    Interval,
    PublicReading,
    Side,
    TxKind,
    canonical_bytes,
)
from voisin.protocol.clock import Phase
from voisin.protocol.envelope import decode_reply, seal, seal_bid, sign_bid
from voisin.protocol.merkle import root as merkle_root
from voisin.protocol.wire import MessageType
from voisin.transport.service import OperatorService, ServiceConfig

HOUSEHOLDS = 4
SEED = 3


def service(ledger: Path, intervals: int) -> OperatorService:
    port = free_port()
    return OperatorService(
        ServiceConfig(
            households=HOUSEHOLDS,
            seed=SEED,
            intervals=intervals,
            ledger=ledger,
            router=f"tcp://127.0.0.1:{port}",
            pub=f"tcp://127.0.0.1:{port + 1}",
        )
    )


Request = tuple[str, str, str, object, bytes]
"""(kind "bid"/"reading", interval, member id, the bid or reading, envelope bytes)."""


@dataclass
class Members:
    """Every member's agent, with its own sequence numbers and memory of replies."""

    scenario: Scenario = field(default_factory=lambda: default_neighbourhood(HOUSEHOLDS, SEED))
    rng: random.Random = field(default_factory=lambda: random.Random(20260622))
    acked: dict[tuple[str, str], dict[str, object]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """(kind, interval) -> member id -> the bid or reading the operator acknowledged."""
    in_doubt: list[Request] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seq: dict[str, int] = field(default_factory=dict)

    def _next(self, member: str) -> int:
        self.seq[member] = self.seq.get(member, 0) + 1
        return self.seq[member]

    def bids(self, interval: Interval) -> list[Request]:
        out = []
        for i, m in enumerate(self.scenario.members):
            if m.id in self.acked["bid", interval.id]:
                continue
            pick = random.Random(f"{interval.id}/{i}")
            side = Side.SELL if pick.random() < 0.5 else Side.BUY
            price = round(pick.uniform(0.06, 0.34), 3)
            bid = Bid(
                bid_id=f"{interval.id}/{m.id[:8]}",
                participant=m.id,
                bus=m.participant.bus,
                interval=interval.id,
                side=side,
                segments=(
                    {"energy_kwh": round(pick.uniform(0.2, 3.0), 3), "price_eur_per_kwh": price},
                ),
            )
            bid = sign_bid(m.keypair, bid, self._next(m.id))
            out.append(("bid", interval.id, m.id, bid, seal_bid(bid)))
        return out

    def readings(self, interval: Interval) -> list[Request]:
        out = []
        for i, m in enumerate(self.scenario.members):
            if m.id in self.acked["reading", interval.id]:
                continue
            pick = random.Random(f"reading/{interval.id}/{i}")
            reading = Meter(m.meter_key, m.id).read(
                interval.id, pick.uniform(0, 4), pick.uniform(0, 4)
            )
            body = {"reading": reading.model_dump(mode="json")}
            out.append(
                (
                    "reading",
                    interval.id,
                    m.id,
                    reading,
                    seal(m.keypair, MessageType.READING, self._next(m.id), body),
                )
            )
        return out

    def send(self, served: OperatorService, requests: list[Request]) -> None:
        """Shuffled batches, some requests twice; a batch the operator dies in stays
        in doubt (its replies never came)."""
        flow = [r for r in requests for _ in range(2 if self.rng.random() < 0.2 else 1)]
        self.rng.shuffle(flow)
        while flow:
            size = self.rng.randint(1, 6)
            batch, flow = flow[:size], flow[size:]
            self.in_doubt = batch + flow
            replies = served.intake.handle_batch([(r[4], None) for r in batch])
            self.in_doubt = []
            for (kind, interval, member, item, _), raw in zip(batch, replies, strict=True):
                reply = decode_reply(raw)
                if reply.ok:
                    self.acked[kind, interval][member] = item
                else:
                    self.refused[reply.code] += 1


def drive(served: OperatorService, members: Members) -> None:
    """Run ``served``'s owed timetable by hand, members answering every phase."""
    for _, phase, interval in served.steps:
        served.run_phase(phase, interval)
        if phase is Phase.OPEN_GATE:
            members.send(served, members.bids(interval))
        elif phase is Phase.DELIVERED:
            members.send(served, members.readings(interval))


@dataclass
class Seen:
    """The committed blocks an audit has read, up to ``height``."""

    height: int = -1
    top: int = 0
    registrations: int = 0
    clearings: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    settlements: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    readings: dict[str, dict[str, PublicReading]] = field(default_factory=lambda: defaultdict(dict))
    roots: dict[str, str] = field(default_factory=dict)
    checked_books: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The known bids whose root an earlier call matched, by interval."""


@dataclass
class Audit:
    """What the members know, checked against the file and a resumed operator."""

    members: Members
    kept: dict[tuple[str, str], dict[str, object]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """In-doubt messages a restart showed the operator had kept."""
    seen: Seen = field(default_factory=lambda: Seen())
    """What earlier calls of ``ledger`` read off the file."""

    @property
    def known(self) -> dict[tuple[str, str], dict[str, object]]:
        """Acknowledged messages, plus the in-doubt ones that were kept."""
        known: dict[tuple[str, str], dict[str, object]] = defaultdict(dict)
        for source in (self.kept, self.members.acked):
            for key, items in source.items():
                known[key].update(items)
        return known

    def after_restart(self, served: OperatorService, in_doubt: list[Request]) -> None:
        """Nothing acknowledged is missing from the resumed operator's open books and
        pending readings (or from a block); in-doubt messages it kept become known."""
        op = served.operator
        books = {i: {b.value.participant: b.value for b in op.book(i)} for i in op.open_books}
        for (kind, interval), items in self.known.items():
            if kind == "bid" and interval not in op.cleared:
                held = books.get(interval, {})
                for member, bid in items.items():
                    assert held.get(member) == bid, f"acknowledged bid lost: {interval}"
            if kind == "reading" and interval in op.unsettled:
                held = {r.value.participant: r.value for r in op.meters.held(interval)}
                for member, reading in items.items():
                    assert held.get(member) == reading, f"acknowledged reading lost: {interval}"
        for kind, interval, member, item, _ in in_doubt:
            kept = (
                books.get(interval, {}).get(member)
                if kind == "bid"
                else {r.value.participant: r.value for r in op.meters.held(interval)}.get(member)
            )
            if kept == item:
                self.kept[kind, interval][member] = item

    def ledger(self, path: Path, *, verify: bool = True) -> dict[str, int]:
        """The chain verifies (unless ``verify`` is False); each interval is cleared and
        settled at most once; every known bid is in its clearing's book (the committed
        Merkle root is exactly the known bids'), every known reading in its settlement.
        Returns counts.

        The blocks read by an earlier call are not decoded again (a committed block does
        not change; an edited one fails the next ``verify``), and a book's root is
        recomputed only when the known bids of its interval changed."""
        if verify:
            assert verify_ledger(path).balances_ok
        seen = self.seen
        with SqliteStore(path, read_only=True) as store:
            for height, _, kind, body, _ in store.raw_transactions():
                if height <= seen.height:
                    continue
                seen.top = max(seen.top, height)
                data = json.loads(body)
                if kind == TxKind.CLEARING.value:
                    seen.clearings[data["interval"]] += 1
                elif kind == TxKind.BID_DIGEST.value:
                    seen.roots[data["interval"]] = data["bids_root"]
                elif kind == TxKind.SETTLEMENT.value:
                    seen.settlements[data["interval"]].add(height)
                elif kind == TxKind.READING.value:
                    reading = PublicReading.model_validate(data)
                    seen.readings[data["interval"]][data["participant"]] = reading
                elif kind == TxKind.REGISTRATION.value:
                    seen.registrations += 1
        seen.height = seen.top
        assert seen.registrations == len(self.members.scenario.members), "registered twice"
        assert all(n == 1 for n in seen.clearings.values()), "an interval cleared twice"
        assert all(len(h) == 1 for h in seen.settlements.values()), "an interval settled twice"
        for (kind, interval), items in self.known.items():
            if kind == "bid" and interval in seen.roots:
                bids = sorted(items.values(), key=lambda b: b.bid_id)
                ids = tuple(b.bid_id for b in bids)
                if seen.checked_books.get(interval) != ids:
                    want = merkle_root([canonical_bytes(b) for b in bids]).hex()
                    assert seen.roots[interval] == want, (
                        f"the book of {interval} is not what was acked"
                    )
                    seen.checked_books[interval] = ids
            if kind == "reading" and interval in seen.settlements:
                public = {k: r.public() for k, r in items.items()}  # the ledger's part
                assert seen.readings[interval] == public, f"readings of {interval} differ"
        return {
            "height": seen.top,
            "clearings": len(seen.clearings),
            "settlements": len(seen.settlements),
        }
