"""Clearing at scale: numpy arrays in, numpy arrays out, HiGHS through its matrix API.

``clear_arrays`` is the low-level entry point for large books (no pydantic object per
bid on the hot path): the same programme, solve, price rule and published quantities
as ``clear`` (``engine``, ``publish``), then the netted split (``netting``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from voisin.market.engine import Outcome, run_interval
from voisin.market.formulation import Conditions
from voisin.market.netting import NettedSplit, net_split
from voisin.market.network import Network
from voisin.market.pairing import pair_by_price, trade_prices
from voisin.market.publish import publish
from voisin.market.segments import SegmentBook


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
    """Wall time of each stage: solve (build, solve and prices), publish, split."""
    green_premium_eur_per_kwh: float = 0.0
    """Paid by green-only buyers and received by sellers on top of their bus prices."""


def clear_arrays(
    book: SegmentBook, net: Network, conditions: Conditions | None = None
) -> ArrayClearing:
    """Clear a ``SegmentBook`` on a ``Network``; raises ``ClearingError`` if HiGHS fails."""
    began = time.perf_counter()
    return arrays_of(book, net, run_interval(book, net, conditions, backend="highs"), began)


def arrays_of(
    book: SegmentBook, net: Network, outcome: Outcome, began: float | None = None
) -> ArrayClearing:
    """A solved interval's published quantities and split, as arrays (``began``: when
    its solve started, for ``seconds``)."""
    solved = time.perf_counter()
    began = solved if began is None else began
    out = publish(book, net, outcome, "arrays")
    published = time.perf_counter()
    first = np.searchsorted(book.bid, np.arange(book.bid_count))
    premium = outcome.prices.green_premium_eur_per_kwh
    prices = outcome.prices.bus_eur_per_kwh
    split = pair_by_price(
        net_split(book.bus[first], book.sell[first], out.cleared_kwh, net, first=book.green[first]),
        trade_prices(
            prices[book.bus[first]],
            book.sell[first],
            book.green[first],
            premium,
        ),
        book.green[first],
    )
    done = time.perf_counter()
    return ArrayClearing(
        cleared_kwh=out.cleared_kwh,
        prices_eur_per_kwh=outcome.prices.bus_eur_per_kwh,
        grid_import_kwh=out.grid_import_kwh,
        grid_export_kwh=out.grid_export_kwh,
        welfare_eur=out.welfare_eur,
        split=split,
        solver=outcome.solution.solver,
        iterations=outcome.solution.iterations,
        seconds={"solve": solved - began, "publish": published - solved, "split": done - published},
        green_premium_eur_per_kwh=outcome.prices.green_premium_eur_per_kwh,
    )
