"""Clearing at scale: numpy arrays in, numpy arrays out, HiGHS through its matrix API.

``clear_arrays`` is the low-level entry point for large books (no pydantic object per
bid on the hot path): build (``matrix``), solve (``highs_direct``), prices (the rule
``clear`` uses: the midpoint of each bus's range, ``price_rule``), the netted split
(``netting``).
``solve_book`` is the thin wrapper ``clear(..., backend="highs")`` uses for ``Bid``
sequences; ``allocate_netted`` is the split ``clear`` uses for large books.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from voisin.errors import ClearingError
from voisin.market.highs_direct import MatrixOutcome, solve_lp
from voisin.market.matrix import SegmentBook, build_lp, warm_basis
from voisin.market.model import SegmentKey
from voisin.market.netting import NettedSplit, net_split
from voisin.market.network import Network
from voisin.market.price_rule import Dispatch, nodal_prices
from voisin.market.pricing import PRICE_DECIMALS
from voisin.market.solve import SolveOutcome, SolveStatus
from voisin.protocol import Bid, Grid, Side

CLEARED_DECIMALS = 9
"""Cleared kWh per bid are rounded to 1e-9, as in ``clearing``."""


@dataclass(frozen=True, eq=False)
class ArrayClearing:
    """One interval cleared from arrays. Units: kWh, EUR/kWh, EUR, seconds.

    ``cleared_kwh[i]`` is bid ``i``'s accepted energy, ``prices_eur_per_kwh[b]`` bus
    ``b``'s nodal price; ``split`` says who supplied whom (bid indices).
    """

    cleared_kwh: np.ndarray
    prices_eur_per_kwh: np.ndarray
    grid_import_kwh: float
    grid_export_kwh: float
    welfare_eur: float
    split: NettedSplit
    solver: str
    iterations: int
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each stage: build, solve, prices, split."""
    green_premium_eur_per_kwh: float = 0.0
    """Paid by green-only buyers and received by sellers on top of their bus prices."""


def _solved(
    book: SegmentBook, net: Network, warm_start: bool
) -> tuple[MatrixOutcome, dict[str, float]]:
    began = time.perf_counter()
    lp = build_lp(book, net)
    basis = warm_basis(book, net) if warm_start else None
    built = time.perf_counter()
    outcome = solve_lp(lp, book, net, basis=basis)
    seconds = {"build": built - began, "solve": time.perf_counter() - built}
    if outcome.status is not SolveStatus.OPTIMAL:
        raise ClearingError(f"HiGHS ended {outcome.status.value}")
    return outcome, seconds


def clear_arrays(book: SegmentBook, net: Network, *, warm_start: bool = True) -> ArrayClearing:
    """Clear a ``SegmentBook`` on a ``Network``; raises ``ClearingError`` if HiGHS fails."""
    outcome, seconds = _solved(book, net, warm_start)
    began = time.perf_counter()
    segment = np.clip(outcome.segment_kwh, 0.0, book.energy_kwh)
    bids = book.bid_count
    first = np.searchsorted(book.bid, np.arange(bids))
    cleared = np.round(np.bincount(book.bid, segment, minlength=bids), CLEARED_DECIMALS)
    cleared = np.minimum(cleared, np.bincount(book.bid, book.energy_kwh, minlength=bids))
    sell = book.sell[first]
    net_import = round(float(cleared[~sell].sum() - cleared[sell].sum()), CLEARED_DECIMALS)
    tolerance = 1e-6 + 1e-7 * net.bus_count  # HiGHS's feasibility tolerance per row
    if abs(net_import - (outcome.import_kwh - outcome.export_kwh)) > tolerance:
        raise ClearingError("solver grid exchange disagrees with the cleared bids")
    grid_import, grid_export = max(net_import, 0.0), max(-net_import, 0.0)
    fees = float(net.line_fee_eur_per_kwh @ np.abs(outcome.flow_kwh))
    welfare = float(
        book.value_eur_per_kwh @ np.round(segment, CLEARED_DECIMALS)
        - net.import_price_eur_per_kwh * grid_import
        + net.export_price_eur_per_kwh * grid_export
        - fees
    )
    prices, premium = nodal_prices(book, net, Dispatch.of(outcome, segment),
                                   outcome.balance_duals, outcome.green_dual)
    seconds["prices"] = time.perf_counter() - began
    began = time.perf_counter()
    split = net_split(book.bus[first], sell, cleared, net, first=book.green[first])
    seconds["split"] = time.perf_counter() - began
    return ArrayClearing(
        cleared_kwh=cleared,
        prices_eur_per_kwh=prices,
        grid_import_kwh=grid_import,
        grid_export_kwh=grid_export,
        welfare_eur=round(welfare, PRICE_DECIMALS) + 0.0,
        split=split,
        solver=outcome.solver,
        iterations=outcome.iterations,
        seconds=seconds,
        green_premium_eur_per_kwh=premium,
    )


def book_of(ordered: Sequence[Bid], net: Network) -> tuple[SegmentBook, tuple[SegmentKey, ...]]:
    """Arrays for ``Bid``s already in ``bid_id`` order, and the segment keys the Pyomo
    build would use (same variable order)."""
    index = {bus: i for i, bus in enumerate(net.buses)}
    rows = [
        (number, index[bid.bus], bid.side is Side.SELL, seg.energy_kwh, seg.price_eur_per_kwh,
         bid.green_only)
        for number, bid in enumerate(ordered)
        for seg in bid.segments
    ]
    keys = tuple(
        SegmentKey(bid.bid_id, position) for bid in ordered for position in range(len(bid.segments))
    )
    table = np.array(rows, dtype=float).reshape(len(rows), 6)
    book = SegmentBook.of(
        table[:, 1].astype(np.int64),
        table[:, 2] > 0,
        table[:, 3],
        table[:, 4],
        table[:, 0].astype(np.int64),
        bus_count=net.bus_count,
        green=table[:, 5] > 0,
    )
    return book, keys


def solve_book(bids: Sequence[Bid], grid: Grid) -> tuple[tuple[SegmentKey, ...], SolveOutcome]:
    """The matrix path behind ``clear(..., backend="highs")``: the same ``SolveOutcome``
    the Pyomo path gives, so the rest of ``clear`` is shared."""
    net = Network.of(grid)
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    book, keys = book_of(ordered, net)
    outcome = solve_lp(build_lp(book, net), book, net, basis=warm_basis(book, net))
    if outcome.status is not SolveStatus.OPTIMAL:
        return keys, SolveOutcome(outcome.status, (), (), 0.0, 0.0, {}, np.nan, outcome.solver)
    return keys, SolveOutcome(
        status=outcome.status,
        segment_kwh=tuple(outcome.segment_kwh.tolist()),
        flow_kwh=tuple(outcome.flow_kwh.tolist()),
        import_kwh=outcome.import_kwh,
        export_kwh=outcome.export_kwh,
        balance_duals=dict(zip(net.buses, outcome.balance_duals.tolist(), strict=True)),
        objective_eur=outcome.objective_eur,
        solver=outcome.solver,
        green_dual=outcome.green_dual,
    )
