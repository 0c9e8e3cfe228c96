"""The trade split ``clear`` uses for large books: preferences, then ``netting``.

Small books keep ``trades.allocate`` (every buyer sorts every seller by proximity);
above ``NETTED_SPLIT_BIDS`` bids that costs seconds, so the split becomes:

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
from voisin.market.netting import GRID_PARTY, net_split
from voisin.market.network import Network
from voisin.market.pricing import clean
from voisin.market.trades import ENERGY_DECIMALS, SLIVER_KWH, Allocation
from voisin.protocol import Bid, Grid, Side

NETTED_SPLIT_BIDS = 500
"""Books with more bids than this use the netted split (see docs/clearing.md, "Scale")."""


def _preferred_first(
    ordered: Sequence[Bid], left: dict[str, float], feeder: Feeder
) -> list[Allocation]:
    """Step 1 of ``trades.allocate``; updates ``left`` (kWh still to place per bid)."""
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
    if any(b.preferred for b in ordered):
        out = _preferred_first(ordered, left, Feeder.of(grid))
    net = Network.of(grid)
    index = {bus: i for i, bus in enumerate(net.buses)}
    split = net_split(
        np.array([index[b.bus] for b in ordered], dtype=np.int64),
        np.array([b.side is Side.SELL for b in ordered], dtype=bool),
        np.array([left[b.bid_id] for b in ordered], dtype=float),
        net,
    )
    ids = [b.bid_id for b in ordered]
    for seller, buyer, energy in zip(
        split.seller.tolist(), split.buyer.tolist(), split.energy_kwh.tolist(), strict=True
    ):
        out.append(
            Allocation(
                None if seller == GRID_PARTY else ids[seller],
                None if buyer == GRID_PARTY else ids[buyer],
                energy,
            )
        )
    return out
