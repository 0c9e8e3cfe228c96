"""The trade split for large books: net each bus, then walk the feeder, then the grid.

``trades.allocate`` sorts every seller for every buyer (O(buyers x sellers x log)),
fine for a neighbourhood, hopeless for 10^5 bids. This split reads the same way but is
vectorised end to end (sorts and cumulative sums, O(n log n)):

1. **Same bus.** At each bus, buyers in bid order take from sellers in bid order, the
   k-th kWh bought from the k-th kWh sold, up to ``min(bought, sold)`` at that bus.
2. **Along the feeder.** What is left (each bus has only buyers or only sellers left)
   is matched the same way along a depth-first walk of the tree (``Network.preorder``,
   ties by bid order), so whole subtrees are contiguous and a buyer is served from the
   nearest leftover supply of that walk; k-th kWh to k-th kWh is the optimal matching
   for distances along a line.
3. **Grid.** Buyers' remainders are imports, sellers' remainders exports.

Every bid's pieces add up to its cleared kWh (to 1e-9), and the money does not depend
on the split, so every invariant of ``trades.allocate`` holds. Coordinates are kept in
``np.longdouble`` so that a million cumulative kWh still resolve 1e-12 kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voisin.market.network import Network
from voisin.market.trades import ENERGY_DECIMALS, SLIVER_KWH

GRID_PARTY = -1
"""Index standing for the upstream grid in ``NettedSplit.seller`` / ``.buyer``."""


@dataclass(frozen=True, eq=False)
class NettedSplit:
    """Pieces of energy (kWh) from ``seller[k]`` to ``buyer[k]`` (bid indices, or
    ``GRID_PARTY``): same-bus pieces first, then feeder pieces, imports, exports."""

    seller: np.ndarray
    buyer: np.ndarray
    energy_kwh: np.ndarray

    def __len__(self) -> int:
        return len(self.energy_kwh)


def _cover(
    group: np.ndarray, amount: np.ndarray, matched: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global [start, end) of each entry's matched part: entries sorted by group fill
    their group's ``matched`` volume in order; ``base`` is each group's offset.

    In-group ends are differences of the same prefix sums ``_group_sums`` takes, so the
    last entry of a group that is short ends exactly at its ``matched`` (recomputing the
    prefix before an entry as ``total - amount`` could leave it an ulp short, and the
    other side's cut would then point past the last entry)."""
    prefix = np.concatenate([[np.longdouble(0)], np.cumsum(amount, dtype=np.longdouble)])
    first = np.searchsorted(group, group, side="left")  # index of the group's first entry
    inside_end = prefix[1:] - prefix[first]
    inside_start = prefix[:-1] - prefix[first]
    cap = matched[group]
    return base[group] + np.minimum(inside_start, cap), base[group] + np.minimum(inside_end, cap)


def _group_sums(group: np.ndarray, amount: np.ndarray, groups: int) -> np.ndarray:
    """Sum of ``amount`` per group (``group`` sorted), in longdouble."""
    total = np.concatenate([[np.longdouble(0)], np.cumsum(amount, dtype=np.longdouble)])
    bounds = np.searchsorted(group, np.arange(groups + 1), side="left")
    return np.asarray(total[bounds[1:]] - total[bounds[:-1]])


def match_in_order(
    b_group: np.ndarray,
    b_amount: np.ndarray,
    s_group: np.ndarray,
    s_amount: np.ndarray,
    groups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pair buyers and sellers group by group, in entry order (both sorted by group).

    Returns (buyer entry, seller entry, kWh) per piece and what each buyer and seller
    entry matched (longdouble, so the remainders are exact enough to carry on).
    """
    demand = _group_sums(b_group, b_amount, groups)
    supply = _group_sums(s_group, s_amount, groups)
    matched = np.minimum(demand, supply)
    base = np.concatenate([[0], np.cumsum(matched)[:-1]]).astype(np.longdouble)
    b_start, b_end = _cover(b_group, b_amount.astype(np.longdouble), matched, base)
    s_start, s_end = _cover(s_group, s_amount.astype(np.longdouble), matched, base)
    cuts = np.union1d(b_end, s_end)
    cuts = cuts[cuts > 0]
    lower = np.concatenate([[np.longdouble(0)], cuts[:-1]])
    size = cuts - lower
    keep = size > 0
    cuts, size = cuts[keep], size[keep]
    buyer = np.searchsorted(b_end, cuts, side="left")
    seller = np.searchsorted(s_end, cuts, side="left")
    return buyer, seller, size.astype(float), b_end - b_start, s_end - s_start


def net_split(
    bus: np.ndarray,
    sell: np.ndarray,
    cleared_kwh: np.ndarray,
    net: Network,
    *,
    first: np.ndarray | None = None,
) -> NettedSplit:
    """Split cleared kWh per bid (arrays indexed by bid, in bid order) into pieces.

    Buyers flagged in ``first`` (green-only bids) are served before all others: the
    split runs once for them and every seller, its peer-to-peer pieces are kept, and
    the rest is split as usual. The clearing lets green-only buyers clear no more than
    sellers do, so none of them is left with an import.
    """
    cleared = np.asarray(cleared_kwh, dtype=float)
    sell = np.asarray(sell, dtype=bool)
    if first is None or not np.any(np.asarray(first, dtype=bool) & ~sell):
        return _split(bus, sell, cleared, net)
    head = _split(bus, sell, np.where(np.asarray(first) | sell, cleared, 0.0), net)
    peer = (head.seller != GRID_PARTY) & (head.buyer != GRID_PARTY)
    seller, buyer, energy = head.seller[peer], head.buyer[peer], head.energy_kwh[peer]
    used = np.bincount(seller, energy, minlength=len(cleared)) + np.bincount(
        buyer, energy, minlength=len(cleared)
    )
    rest = np.round(cleared - used, ENERGY_DECIMALS)
    tail = _split(bus, sell, np.where(rest >= SLIVER_KWH, rest, 0.0), net)
    return NettedSplit(
        seller=np.concatenate([seller, tail.seller]),
        buyer=np.concatenate([buyer, tail.buyer]),
        energy_kwh=np.concatenate([energy, tail.energy_kwh]),
    )


def _split(bus: np.ndarray, sell: np.ndarray, cleared_kwh: np.ndarray, net: Network) -> NettedSplit:
    """The three stages of the module docstring for one set of amounts."""
    bus = np.asarray(bus, dtype=np.int64)
    sell = np.asarray(sell, dtype=bool)
    cleared = np.asarray(cleared_kwh, dtype=float)
    active = cleared >= SLIVER_KWH
    buyers = np.flatnonzero(active & ~sell)
    sellers = np.flatnonzero(active & sell)
    # Stage 1: per bus. A stable sort by bus keeps bid order inside each bus.
    buyers = buyers[np.argsort(bus[buyers], kind="stable")]
    sellers = sellers[np.argsort(bus[sellers], kind="stable")]
    b_amount = cleared[buyers].astype(np.longdouble)
    s_amount = cleared[sellers].astype(np.longdouble)
    bi, si, kwh1, b_used, s_used = match_in_order(
        bus[buyers], b_amount, bus[sellers], s_amount, net.bus_count
    )
    pieces = [(sellers[si], buyers[bi], kwh1)]
    # Stage 2: leftovers along the depth-first walk (subtrees contiguous).
    b_left, s_left = b_amount - b_used, s_amount - s_used
    b_keep, s_keep = b_left >= SLIVER_KWH, s_left >= SLIVER_KWH
    position = np.empty(net.bus_count, dtype=np.int64)
    position[net.preorder] = np.arange(net.bus_count)
    b_ids, b_left = buyers[b_keep], b_left[b_keep]
    s_ids, s_left = sellers[s_keep], s_left[s_keep]
    b_order = np.lexsort((b_ids, position[bus[b_ids]]))
    s_order = np.lexsort((s_ids, position[bus[s_ids]]))
    b_ids, b_left = b_ids[b_order], b_left[b_order]
    s_ids, s_left = s_ids[s_order], s_left[s_order]
    bi, si, kwh2, _, _ = match_in_order(
        np.zeros(len(b_ids), dtype=np.int64),
        b_left,
        np.zeros(len(s_ids), dtype=np.int64),
        s_left,
        1,
    )
    pieces.append((s_ids[si], b_ids[bi], kwh2))

    seller = np.concatenate([p[0] for p in pieces])
    buyer = np.concatenate([p[1] for p in pieces])
    energy = np.round(np.concatenate([p[2] for p in pieces]), ENERGY_DECIMALS)
    keep = energy >= SLIVER_KWH
    seller, buyer, energy = seller[keep], buyer[keep], energy[keep]
    # Stage 3: whatever a bid has not traded with a peer goes to or comes from the grid.
    peer = np.bincount(seller, energy, minlength=len(cleared)) + np.bincount(
        buyer, energy, minlength=len(cleared)
    )
    rest = np.round(np.where(active, cleared - peer, 0.0), ENERGY_DECIMALS)
    imports = np.flatnonzero((rest >= SLIVER_KWH) & ~sell)
    exports = np.flatnonzero((rest >= SLIVER_KWH) & sell)
    grid_b = np.full(len(imports), GRID_PARTY, dtype=np.int64)
    grid_s = np.full(len(exports), GRID_PARTY, dtype=np.int64)
    return NettedSplit(
        seller=np.concatenate([seller, grid_b, exports]),
        buyer=np.concatenate([buyer, imports, grid_s]),
        energy_kwh=np.concatenate([energy, rest[imports], rest[exports]]),
    )
