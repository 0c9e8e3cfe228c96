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
        return cls(bus, sell, energy, price, owner)

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
    n, lines, rows = book.segment_count, len(net.line_from), net.bus_count
    cols = n + lines + 2
    nnz = n + 2 * lines + 2
    start = np.empty(cols + 1, dtype=np.int32)
    start[: n + 1] = np.arange(n + 1, dtype=np.int32)
    start[n + 1 : n + lines + 1] = n + 2 * np.arange(1, lines + 1, dtype=np.int32)
    start[cols - 1] = nnz - 1
    start[cols] = nnz
    index = np.empty(nnz, dtype=np.int32)
    value = np.empty(nnz, dtype=float)
    index[:n] = book.bus
    value[:n] = np.where(book.sell, 1.0, -1.0)
    index[n : n + 2 * lines : 2] = net.line_from  # outflow leaves ``from``
    value[n : n + 2 * lines : 2] = -1.0
    index[n + 1 : n + 2 * lines : 2] = net.line_to  # and enters ``to``
    value[n + 1 : n + 2 * lines : 2] = 1.0
    index[nnz - 2 :] = net.root
    value[nnz - 2 :] = (1.0, -1.0)  # imp injects, exp withdraws

    limit = net.transformer_capacity_kwh
    lp = highspy.HighsLp()
    lp.num_col_ = cols
    lp.num_row_ = rows
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = np.concatenate(
        [
            book.value_eur_per_kwh,
            np.zeros(lines),
            [-net.import_price_eur_per_kwh, net.export_price_eur_per_kwh],
        ]
    )
    lp.col_lower_ = np.concatenate([np.zeros(n), -net.line_capacity_kwh, [0.0, 0.0]])
    lp.col_upper_ = np.concatenate([book.energy_kwh, net.line_capacity_kwh, [limit, limit]])
    lp.row_lower_ = np.zeros(rows)
    lp.row_upper_ = np.zeros(rows)
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


def warm_basis(book: SegmentBook, net: Network) -> highspy.HighsBasis:
    """A dual-feasible starting basis: every line basic (one price across the tree), plus
    the column priced nearest the uniform price; all else at the bound its sign favours.

    The line columns form a spanning tree, and one more single-entry column completes a
    non-singular basis of ``bus_count`` columns. HiGHS then only repairs line limits.
    """
    n, lines = book.segment_count, len(net.line_from)
    target = uniform_price(book, net)
    cost = np.concatenate(
        [book.price_eur_per_kwh, [net.import_price_eur_per_kwh, net.export_price_eur_per_kwh]]
    )
    marginal = int(np.argmin(np.abs(cost - target)))
    price = float(cost[marginal])
    # Reduced cost at one uniform price: buyers gain p - price, sellers price - p.
    gain = np.where(book.sell, price - book.price_eur_per_kwh, book.price_eur_per_kwh - price)
    finite = np.isfinite(net.transformer_capacity_kwh)
    grid_gain = np.array(
        [price - net.import_price_eur_per_kwh, net.export_price_eur_per_kwh - price]
    )
    codes = np.concatenate(
        [
            np.where(gain > 0, _UPPER, _LOWER),
            np.full(lines, _BASIC),
            np.where((grid_gain > 0) & finite, _UPPER, _LOWER),
        ]
    )
    codes[marginal if marginal < n else n + lines + (marginal - n)] = _BASIC
    basis = highspy.HighsBasis()
    basis.col_status = _STATUS[codes].tolist()
    basis.row_status = [highspy.HighsBasisStatus.kLower] * net.bus_count
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
