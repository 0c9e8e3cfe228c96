"""The design's random market instance, shared by the benchmark and the scale tests.

DESIGN.md fixes it so figures compare across runs and machines: ``B = max(10, N/20)``
buses on a random tree (``parent[b] = floor(u * b)``), line limits uniform 5-50 kWh,
``N`` bids half buy half sell at random buses, 0.1-5 kWh at 0.05-0.40 EUR/kWh, grid
import 0.30 and export 0.05 at the root.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from voisin.market.network import Network, Physics
from voisin.market.segments import SegmentBook
from voisin.protocol import (
    Bid,
    Grid,
    Interval,
    KeyPair,
    Line,
    Participant,
    ParticipantKind,
    Segment,
    Side,
    Tariff,
    canonical_bytes,
)
from voisin.protocol.signed import Signed


def generate(n: int, seed: int) -> tuple[Network, SegmentBook]:
    """The instance of ``n`` bids for ``seed``, as arrays."""
    rng = np.random.default_rng(seed)
    buses = max(10, n // 20)
    parent = np.floor(rng.random(buses) * np.arange(buses)).astype(np.int64)
    net = Network.from_parents(
        parent,
        rng.uniform(5, 50, buses - 1),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )
    book = SegmentBook.of(
        rng.integers(0, buses, n),
        np.arange(n) >= n // 2,
        rng.uniform(0.1, 5, n),
        rng.uniform(0.05, 0.40, n),
        bus_count=buses,
    )
    return net, book


def generate_physical(n: int, seed: int, *, hours: float = 0.25) -> tuple[Network, SegmentBook]:
    """DESIGN's instance on a physical feeder: the same tree, book and tariffs, each
    line a 10-50 m length of NAYY 4x150 (0.208 + j0.080 ohm/km) rated so its apparent
    power limit over ``hours`` equals the transport instance's kWh limit, a 0.4 kV
    feeder with the root as slack at 1.0 pu and a 0.95-1.05 pu band on every bus."""
    net, book = generate(n, seed)
    rng = np.random.default_rng((seed, 0x9E7))
    lines = len(net.line_from)
    length_km = rng.uniform(0.01, 0.05, lines)
    s_max_kva = net.line_capacity_kwh / hours
    physics = Physics(
        vn_kv=0.4,
        line_r_ohm=0.208 * length_km,
        line_x_ohm=0.080 * length_km,
        line_s_max_kva=s_max_kva,
        v_min_pu=np.full(net.bus_count, 0.95),
        v_max_pu=np.full(net.bus_count, 1.05),
        source_vm_pu=1.0,
    )
    physical = Network.from_parents(
        net.parent,
        np.full(lines, np.inf),
        import_price_eur_per_kwh=net.import_price_eur_per_kwh,
        export_price_eur_per_kwh=net.export_price_eur_per_kwh,
        physics=physics,
    )
    return physical, book


@dataclass(frozen=True)
class SignedMarket:
    """DESIGN's instance as the operator receives it: a ``Grid``, its members and every
    bid signed by its member's key, as the wire bytes an agent sends (``Signed``)."""

    grid: Grid
    members: tuple[Participant, ...]
    bids: tuple[Signed[Bid], ...]
    interval: Interval


BIDS_PER_MEMBER = 10
"""Bids one member makes in the signed instance (same bus, same side: none crosses)."""


@dataclass(frozen=True, eq=False)
class SignedStream:
    """``SignedMarket`` with its bids signed on demand, in bid order (``bids``), so a
    benchmark of a million bids never holds them all (the operator's memory is then the
    operator's own). ``owner[i]`` is bid ``i``'s member, ``seq[i]`` its sequence number."""

    grid: Grid
    members: tuple[Participant, ...]
    keys: tuple[KeyPair, ...]
    book: SegmentBook
    owner: tuple[int, ...]
    seq: tuple[int, ...]
    interval: Interval

    def bids(self, start: int = 0, stop: int | None = None) -> Iterator[Signed[Bid]]:
        """Bids ``start`` to ``stop`` (all by default), each signed as it is made."""
        book, buses = self.book, self.grid.buses
        end = len(self.owner) if stop is None else min(stop, len(self.owner))
        width = len(str(max(len(self.owner) - 1, 0)))
        for i in range(start, end):
            member = self.owner[i]
            sell = bool(book.sell[i])
            bid = Bid(
                bid_id=f"b{i:0{width}d}",
                participant=self.members[member].participant_id,
                bus=buses[int(book.bus[i])],
                interval=self.interval.id,
                side=Side.SELL if sell else Side.BUY,
                segments=(
                    Segment(
                        energy_kwh=float(book.energy_kwh[i]),
                        price_eur_per_kwh=float(book.price_eur_per_kwh[i]),
                    ),
                ),
                seq=self.seq[i],
            )
            signature = self.keys[member].sign(canonical_bytes(bid.unsigned()))
            yield Signed.of(bid.model_copy(update={"signature": signature}))


def stream_signed(n: int, seed: int, interval: Interval) -> SignedStream:
    """``generate(n, seed)`` as members and bids to be signed (see ``generate_signed``)."""
    net, book = generate(n, seed)
    grid = Grid(
        root=net.buses[net.root],
        buses=net.buses,
        lines=tuple(
            Line(from_bus=net.buses[a], to_bus=net.buses[b], capacity_kwh=float(c))
            for a, b, c in zip(
                net.line_from.tolist(),
                net.line_to.tolist(),
                net.line_capacity_kwh.tolist(),
                strict=True,
            )
        ),
        import_price_eur_per_kwh=net.import_price_eur_per_kwh,
        export_price_eur_per_kwh=net.export_price_eur_per_kwh,
    )
    tariff = Tariff(import_eur_per_kwh=0.30, export_eur_per_kwh=0.05)
    members: list[Participant] = []
    keys: list[KeyPair] = []
    owners: list[int] = []
    seqs: list[int] = []
    owner: dict[tuple[int, bool], tuple[int, int]] = {}  # (bus, sell) -> (member, bids)
    for bus, sell in zip(book.bus.tolist(), book.sell.tolist(), strict=True):
        member, count = owner.get((bus, sell), (-1, BIDS_PER_MEMBER))
        if count == BIDS_PER_MEMBER:
            member, count = len(members), 0
            key = KeyPair.derive("instance", seed, member)
            keys.append(key)
            members.append(
                Participant(
                    participant_id=key.public_hex,
                    kind=ParticipantKind.HOUSEHOLD,
                    group="pv" if sell else "consumer",
                    bus=net.buses[bus],
                    tariff=tariff,
                )
            )
        owner[(bus, sell)] = (member, count + 1)
        owners.append(member)
        seqs.append(count + 1)
    return SignedStream(
        grid, tuple(members), tuple(keys), book, tuple(owners), tuple(seqs), interval
    )


def generate_signed(n: int, seed: int, interval: Interval) -> SignedMarket:
    """``generate(n, seed)`` as signed bids from registered members.

    Members are derived keys (``KeyPair.derive("instance", ...)``); bids at one bus and
    on one side are shared out ``BIDS_PER_MEMBER`` to a member, in bid order, each with
    the member's next sequence number. Bid ``i`` has id ``b<i>`` (zero-padded), so
    ``bid_id`` order is bid order and the book is the arrays' book.
    """
    stream = stream_signed(n, seed, interval)
    return SignedMarket(stream.grid, stream.members, tuple(stream.bids()), interval)
