"""The clearing LP of ``model.py``, assembled directly as a sparse matrix for highspy.

Same programme, same variable and row order as the Pyomo build, so an auditor can map
one onto the other::

    columns  q[0..n)        segment kWh, 0 <= q <= energy, value +p (buy) / -p (sell)
             f[0..L)        line flow from -> to, -cap <= f <= cap, value 0
             imp, exp       grid exchange at the root, 0 <= . <= transformer, value
                            -import price / +export price
    rows     balance[bus]   sold - bought + inflow - outflow (+ imp - exp) == 0

Every column has one or two non-zeros, so the column-wise (CSC) arrays are written
straight from the book with numpy, no per-bid Python. ``warm_basis`` gives HiGHS's
dual simplex a starting vertex from the network-free uniform price, which cuts its
iterations about tenfold on large books (see docs/clearing.md, "Scale").
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from voisin.errors import InvalidInput
from voisin.market.meshed_lp import with_angles
from voisin.market.network import Network


@dataclass(frozen=True, eq=False)
class SegmentBook:
    """A book as parallel arrays, one entry per segment (kWh, EUR/kWh).

    ``bid[s]`` numbers the bid that segment ``s`` belongs to (0..bids-1, in the order
    the caller wants results in, e.g. ``bid_id`` order); ``sell[s]`` is True for offers.
    """

    bus: np.ndarray
    sell: np.ndarray
    energy_kwh: np.ndarray
    price_eur_per_kwh: np.ndarray
    bid: np.ndarray
    green: np.ndarray | None = None
    """True for segments of green-only buy bids (all False when not given)."""

    def __post_init__(self) -> None:
        green = self.green
        n = len(self.energy_kwh)
        green = np.zeros(n, dtype=bool) if green is None else np.asarray(green, dtype=bool)
        if green.shape != (n,):
            raise InvalidInput("one green flag per segment", code="bad-book")
        if np.any(green & self.sell):
            raise InvalidInput("only buy bids may be green-only", code="bad-book")
        object.__setattr__(self, "green", green)

    @property
    def has_green(self) -> bool:
        """Whether the LP needs its green row (some green-only buy segment)."""
        return bool(np.any(self.green))

    @classmethod
    def of(
        cls,
        bus: np.ndarray,
        sell: np.ndarray,
        energy_kwh: np.ndarray,
        price_eur_per_kwh: np.ndarray,
        bid: np.ndarray | None = None,
        *,
        bus_count: int,
        green: np.ndarray | None = None,
    ) -> SegmentBook:
        """Validated arrays; ``bid`` defaults to one bid per segment."""
        n = len(energy_kwh)
        bus = np.asarray(bus, dtype=np.int64)
        sell = np.asarray(sell, dtype=bool)
        energy = np.asarray(energy_kwh, dtype=float)
        price = np.asarray(price_eur_per_kwh, dtype=float)
        owner = np.arange(n, dtype=np.int64) if bid is None else np.asarray(bid, dtype=np.int64)
        if not all(len(a) == n for a in (bus, sell, price, owner)):
            raise InvalidInput("book arrays must have one entry per segment", code="bad-book")
        if n and (bus.min() < 0 or bus.max() >= bus_count):
            raise InvalidInput("a segment names a bus outside the network", code="unknown-bus")
        if not (np.all(np.isfinite(energy)) and np.all(energy > 0) and np.all(np.isfinite(price))):
            raise InvalidInput("segment kWh must be finite and > 0, prices finite", code="bad-book")
        if n and (owner.min() < 0 or np.any(np.diff(owner) < 0)):
            raise InvalidInput(
                "segments must be grouped by bid, bids numbered from 0", code="bad-book"
            )
        same = owner[1:] == owner[:-1]
        if np.any(same & ((bus[1:] != bus[:-1]) | (sell[1:] != sell[:-1]))):
            raise InvalidInput("all segments of a bid share its bus and side", code="bad-book")
        return cls(bus, sell, energy, price, owner, green)

    @property
    def segment_count(self) -> int:
        return len(self.energy_kwh)

    @property
    def bid_count(self) -> int:
        return int(self.bid[-1]) + 1 if len(self.bid) else 0

    @property
    def value_eur_per_kwh(self) -> np.ndarray:
        """Objective coefficient: what one cleared kWh adds to welfare."""
        return np.where(self.sell, -self.price_eur_per_kwh, self.price_eur_per_kwh)


def build_lp(book: SegmentBook, net: Network) -> highspy.HighsLp:
    """The welfare-maximising LP as a ``HighsLp`` in column-wise form."""
    n, lines, buses = book.segment_count, len(net.line_from), net.bus_count
    fee = net.line_fee_eur_per_kwh
    fee_lines = net.fee_lines
    k = len(fee_lines)
    green_row = book.has_green
    rows = buses + int(green_row)
    cols = n + lines + 2 + k
    # Entries per column: a segment 1 (2 when it also enters the green row), a line 2
    # (leaves ``from``, enters ``to``), imp and exp 1 each, a backward fee part 2.
    in_green = (book.green | book.sell) if green_row else np.zeros(n, dtype=bool)
    counts = np.concatenate(
        [1 + in_green.astype(np.int32), np.full(lines, 2), [1, 1], np.full(k, 2)]
    ).astype(np.int32)
    start = np.zeros(cols + 1, dtype=np.int32)
    np.cumsum(counts, out=start[1:])
    nnz = int(start[-1])
    index = np.empty(nnz, dtype=np.int32)
    value = np.empty(nnz, dtype=float)
    first = start[:n]
    index[first] = book.bus
    value[first] = np.where(book.sell, 1.0, -1.0)
    second = first[in_green] + 1  # green buyers +1, sellers -1: green bought <= sold
    index[second] = buses
    value[second] = np.where(book.sell[in_green], -1.0, 1.0)
    at = start[n : n + lines]
    index[at], value[at] = net.line_from, -1.0  # outflow leaves ``from``
    index[at + 1], value[at + 1] = net.line_to, 1.0  # and enters ``to``
    at = start[n + lines : n + lines + 2]
    index[at] = net.root
    value[at] = (1.0, -1.0)  # imp injects, exp withdraws
    at = start[n + lines + 2 : cols]
    index[at], value[at] = net.line_to[fee_lines], -1.0  # the backward part runs to -> from
    index[at + 1], value[at + 1] = net.line_from[fee_lines], 1.0

    limit = net.transformer_capacity_kwh
    cap = net.line_capacity_kwh
    lp = highspy.HighsLp()
    lp.num_col_ = cols
    lp.num_row_ = rows
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = np.concatenate(
        [
            book.value_eur_per_kwh,
            -fee,
            [-net.import_price_eur_per_kwh, net.export_price_eur_per_kwh],
            -fee[fee_lines],
        ]
    )
    lp.col_lower_ = np.concatenate(
        [np.zeros(n), np.where(fee > 0, 0.0, -cap), [0.0, 0.0], np.zeros(k)]
    )
    lp.col_upper_ = np.concatenate([book.energy_kwh, cap, [limit, limit], cap[fee_lines]])
    lp.row_lower_ = np.concatenate([np.zeros(buses), [-np.inf] * int(green_row)])
    lp.row_upper_ = np.zeros(rows)
    if net.meshed:
        return with_angles(lp, start, index, value, net, first_row=rows)
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kColwise
    matrix.num_col_ = cols
    matrix.num_row_ = rows
    matrix.start_ = start
    matrix.index_ = index
    matrix.value_ = value
    return lp


def uniform_price(book: SegmentBook, net: Network) -> float:
    """The network-free market price (EUR/kWh) to within one step of the merit order:
    the first limit at which supply at or below it covers demand at or above it, the
    grid offering imports and taking exports at the root. A starting point only."""
    limit = net.transformer_capacity_kwh
    buy_total = float(book.energy_kwh[~book.sell].sum())
    sell_total = float(book.energy_kwh[book.sell].sum())
    price = np.append(
        book.price_eur_per_kwh, [net.import_price_eur_per_kwh, net.export_price_eur_per_kwh]
    )
    sell = np.append(book.sell, [True, False])
    energy = np.append(book.energy_kwh, [min(limit, buy_total + 1.0), min(limit, sell_total + 1.0)])
    order = np.argsort(price, kind="stable")
    p, s, q = price[order], sell[order], energy[order]
    supply = np.cumsum(np.where(s, q, 0.0))  # offered at or below p[k]
    demand_below = np.cumsum(np.where(s, 0.0, q))
    demand = demand_below[-1] - demand_below + np.where(s, 0.0, q)  # bid at or above p[k]
    crossed = np.flatnonzero(supply >= demand)
    return float(p[crossed[0]] if crossed.size else p[-1])


def fee_offsets(net: Network) -> np.ndarray:
    """Price of each bus minus the root's (EUR/kWh) when every line carries energy
    forward below its limit: the far end is dearer by the line's fee. Zeros without
    fees."""
    fee = net.line_fee_eur_per_kwh
    offset = np.zeros(net.bus_count)
    if not np.any(fee > 0):
        return offset
    up_line = np.empty(net.bus_count, dtype=np.int64)
    up_line[net.line_to] = np.arange(len(fee))
    down = net.parent[net.line_to] == net.line_from  # line runs parent -> bus
    up_line[net.line_from[~down]] = np.flatnonzero(~down)
    sign = np.ones(len(fee))
    sign[~down] = -1.0
    step = np.zeros(net.bus_count)
    children = np.flatnonzero(net.parent >= 0)
    step[children] = (sign * fee)[up_line[children]]
    parent, values = net.parent.tolist(), step.tolist()
    out = offset.tolist()
    for bus in net.preorder.tolist()[1:]:
        out[bus] = out[parent[bus]] + values[bus]
    return np.array(out)


def warm_basis(book: SegmentBook, net: Network) -> highspy.HighsBasis | None:
    """A dual-feasible starting basis: every line's forward part basic (one price across
    the tree, up to the lines' wheeling fees), plus the column priced nearest the
    uniform price; all else at the bound its sign favours (backward fee parts at 0).

    The line columns form a spanning tree, and one more single-entry column completes a
    non-singular basis of ``bus_count`` columns (the green row, if any, starts with its
    slack basic, i.e. no green premium). HiGHS then only repairs line limits. A meshed
    grid has more lines than a spanning tree: no warm basis (None), HiGHS starts cold.
    """
    if net.meshed:
        return None
    n, lines = book.segment_count, len(net.line_from)
    k = len(net.fee_lines)
    offset = fee_offsets(net)
    target = uniform_price(book, net)
    bus = np.append(book.bus, [net.root, net.root])
    cost = np.concatenate(
        [book.price_eur_per_kwh, [net.import_price_eur_per_kwh, net.export_price_eur_per_kwh]]
    )
    marginal = int(np.argmin(np.abs(cost - offset[bus] - target)))
    price = float(cost[marginal] - offset[bus[marginal]]) + offset  # per bus
    # Reduced cost at those prices: buyers gain p - price, sellers price - p.
    at = price[book.bus]
    gain = np.where(book.sell, at - book.price_eur_per_kwh, book.price_eur_per_kwh - at)
    finite = np.isfinite(net.transformer_capacity_kwh)
    root = price[net.root]
    grid_gain = np.array(
        [root - net.import_price_eur_per_kwh, net.export_price_eur_per_kwh - root]
    )
    codes = np.concatenate(
        [
            np.where(gain > 0, _UPPER, _LOWER),
            np.full(lines, _BASIC),
            np.where((grid_gain > 0) & finite, _UPPER, _LOWER),
            np.full(k, _LOWER),
        ]
    )
    codes[marginal if marginal < n else n + lines + (marginal - n)] = _BASIC
    basis = highspy.HighsBasis()
    basis.col_status = _STATUS[codes].tolist()
    basis.row_status = [highspy.HighsBasisStatus.kLower] * net.bus_count + [
        highspy.HighsBasisStatus.kBasic
    ] * int(book.has_green)
    basis.valid = True
    return basis


_LOWER, _BASIC, _UPPER = 0, 1, 2
_STATUS = np.array(
    [
        highspy.HighsBasisStatus.kLower,
        highspy.HighsBasisStatus.kBasic,
        highspy.HighsBasisStatus.kUpper,
    ],
    dtype=object,
)
