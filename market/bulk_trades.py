"""The trade split ``clear`` uses for large books: preferences, then ``netting``.

Small books keep ``trades.allocate`` (every buyer sorts every seller by proximity);
above ``NETTED_SPLIT_BIDS`` bids that costs seconds, so the split becomes:

0. Green-only buyers first: their preferences, then ``netting.net_split`` for them
   and every seller, keeping only the peer-to-peer pieces.
1. Preferences, exactly as ``trades.allocate`` step 1 (buyers in ``bid_id`` order take
   from sellers they prefer or that prefer them, nearest first), but only the bids
   named in a preference are looked at, through dictionaries.
2. ``netting.net_split`` for what is left: same bus, then along the feeder's
   depth-first walk, then the grid.

Which split ran depends only on the number of bids, never on the solver backend, so
both backends give identical trades whenever they clear identical quantities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from voisin.market.feeder import Feeder
from voisin.market.netting import GRID_PARTY, NettedSplit, net_split
from voisin.market.network import Network
from voisin.market.pricing import clean
from voisin.market.trades import ENERGY_DECIMALS, SLIVER_KWH, Allocation
from voisin.protocol import Bid, Grid, Side

NETTED_SPLIT_BIDS = 500
"""Books with more bids than this use the netted split (see docs/clearing.md, "Scale")."""


def _preferred_first(
    ordered: Sequence[Bid], left: dict[str, float], feeder: Feeder, *, green: bool
) -> list[Allocation]:
    """Step 1 of ``trades.allocate`` for the green-only buyers (``green``) or the others;
    updates ``left`` (kWh still to place per bid)."""
    sellers = [b for b in ordered if b.side is Side.SELL and left[b.bid_id] >= SLIVER_KWH]
    by_participant: dict[str, list[Bid]] = defaultdict(list)
    naming: dict[str, list[Bid]] = defaultdict(list)
    for seller in sellers:
        by_participant[seller.participant].append(seller)
        for name in seller.preferred:
            naming[name].append(seller)
    out: list[Allocation] = []
    for buyer in ordered:
        if buyer.side is not Side.BUY or left[buyer.bid_id] < SLIVER_KWH:
            continue
        if buyer.green_only is not green:
            continue
        found = {s.bid_id: s for s in naming.get(buyer.participant, ())}
        for name in buyer.preferred:
            found.update((s.bid_id, s) for s in by_participant.get(name, ()))
        candidates = sorted(
            found.values(),
            key=lambda s: (
                int(s.participant == buyer.participant),
                feeder.hops(buyer.bus, s.bus),
                s.participant,
                s.bid_id,
            ),
        )
        for seller in candidates:
            if left[buyer.bid_id] < SLIVER_KWH:
                break
            if left[seller.bid_id] < SLIVER_KWH:
                continue
            energy = clean(min(left[buyer.bid_id], left[seller.bid_id]), ENERGY_DECIMALS)
            left[buyer.bid_id] = clean(left[buyer.bid_id] - energy, ENERGY_DECIMALS)
            left[seller.bid_id] = clean(left[seller.bid_id] - energy, ENERGY_DECIMALS)
            out.append(Allocation(seller.bid_id, buyer.bid_id, energy))
    return out


def allocate_netted(
    bids: Sequence[Bid], cleared_kwh: Mapping[str, float], grid: Grid
) -> list[Allocation]:
    """Bid-level split for large books: preferences, same bus, feeder walk, grid."""
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    left = {b.bid_id: cleared_kwh[b.bid_id] for b in ordered}
    out: list[Allocation] = []
    prefers = any(b.preferred for b in ordered)
    feeder = Feeder.of(grid) if prefers else None
    net = Network.of(grid)
    index = {bus: i for i, bus in enumerate(net.buses)}
    bus = np.array([index[b.bus] for b in ordered], dtype=np.int64)
    sell = np.array([b.side is Side.SELL for b in ordered], dtype=bool)
    green = np.array([b.green_only for b in ordered], dtype=bool)
    ids = [b.bid_id for b in ordered]

    def place(split: NettedSplit, *, peers_only: bool) -> None:
        for seller, buyer, energy in zip(
            split.seller.tolist(), split.buyer.tolist(), split.energy_kwh.tolist(), strict=True
        ):
            if peers_only and GRID_PARTY in (seller, buyer):
                continue
            if peers_only:
                left[ids[seller]] = clean(left[ids[seller]] - energy, ENERGY_DECIMALS)
                left[ids[buyer]] = clean(left[ids[buyer]] - energy, ENERGY_DECIMALS)
            out.append(
                Allocation(
                    None if seller == GRID_PARTY else ids[seller],
                    None if buyer == GRID_PARTY else ids[buyer],
                    energy,
                )
            )

    def amounts(mask: np.ndarray) -> np.ndarray:
        kwh = np.array([left[i] for i in ids], dtype=float)
        return np.where(mask & (kwh >= SLIVER_KWH), kwh, 0.0)

    if green.any():  # green-only buyers first: preferences, then peers by the walk
        if feeder is not None:
            out.extend(_preferred_first(ordered, left, feeder, green=True))
        place(net_split(bus, sell, amounts(green | sell), net), peers_only=True)
    if feeder is not None:
        out.extend(_preferred_first(ordered, left, feeder, green=False))
    place(net_split(bus, sell, amounts(np.ones(len(ids), dtype=bool)), net), peers_only=False)
    return out
