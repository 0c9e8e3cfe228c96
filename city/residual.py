"""A feeder's residual curve: its market's optimal welfare as a function of its exchange.

What one feeder offers the city is not a list of its unmatched bids but the **value
function** of its own clearing LP in the net purchase ``x`` at its substation (kWh,
import positive): ``V(x)`` = the feeder LP's optimal welfare with the exchange held at
``x`` and priced at zero. Parametric LP theory makes ``V`` concave and piecewise linear
in ``x`` (the optimal value of an LP is concave in a right-hand side; e.g. Bertsimas and
Tsitsiklis, *Introduction to Linear Optimization*, 1997, sec. 5.2), and its slopes are
the prices at which the feeder would buy or sell one more kWh at its substation.

``V`` is found exactly, by the Eisner-Severance method (Eisner and Severance, 1976,
"Mathematical techniques for efficient record segmentation in large shared databases",
J. ACM 23(4), the "sandwich" search for the breakpoints of a parametric optimum): the
feeder's market, priced at one exchange price ``p`` for both directions, answers with a
vertex ``(x, V(x))`` of ``V`` (it maximises ``V(x) - p x``). Starting from a price above
and below every slope, the two tangents of neighbouring vertices cross at a price
``s``; solving at ``s`` either confirms the chord between them is a piece of ``V`` or
finds the vertex in between. ``k`` breakpoints cost ``2k + 1`` solves. Confirming a
chord by the two vertices' bases' price ranges instead halves the solves, but the solves
left start from other bases and end on other doubles, which the city ledger records,
and it saved no CPU (docs/city.md, "The curve's solves").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import highspy
import numpy as np

from voisin.errors import ClearingError
from voisin.market.engine import loss_point, run_interval
from voisin.market.formulation import Conditions, build_program
from voisin.market.lp_highs import WARM_OPTIONS, Session, status_of
from voisin.market.network import Network
from voisin.market.segments import SegmentBook
from voisin.market.upstream import EXCHANGE_TOL_KWH  # two exchanges this close: one vertex

VALUE_TOL_EUR = 1e-7
"""A new vertex must lie this far above the chord (the solver's tolerance is 1e-7 kWh)."""


@dataclass(frozen=True, eq=False)
class FeederMarket:
    """One feeder's clearing inputs at array level, as ``market.bulk.clear_arrays``
    takes them. In a city, ``conditions.retailer_takes_rest`` is False."""

    name: str
    book: SegmentBook
    net: Network
    conditions: Conditions


@dataclass(frozen=True, eq=False)
class ResidualCurve:
    """``V`` by its breakpoints: ``exchange_kwh`` ascending, ``value_eur`` at each.

    Between breakpoints ``V`` is linear; ``slopes_eur_per_kwh`` decrease (concavity).
    Outside ``[exchange_kwh[0], exchange_kwh[-1]]`` the feeder cannot go.
    """

    exchange_kwh: np.ndarray
    value_eur: np.ndarray
    solves: int

    @property
    def slopes_eur_per_kwh(self) -> np.ndarray:
        return np.diff(self.value_eur) / np.diff(self.exchange_kwh)

    def value_at(self, exchange_kwh: float) -> float:
        """``V(x)`` by linear interpolation (``x`` within the curve's range)."""
        return float(np.interp(exchange_kwh, self.exchange_kwh, self.value_eur))


def exchange_of(market: FeederMarket, values: dict[str, np.ndarray]) -> float:
    """The net purchase at the upstream node from an optimum's variable values."""
    x = float(values["grid_import"].sum() - values["grid_export"].sum())
    if market.conditions.retailer_takes_rest:
        x += float(values["buy_rest"].sum() - values["sell_rest"].sum())
    return x


_NONE = np.zeros(0)
_NONE.flags.writeable = False
"""The values of a variable family the feeder's LP does not have."""


class Responder:
    """The feeder's optimum when it can buy and sell any amount at one price ``p``: a
    vertex ``(x, V(x))`` of its curve (``V`` = the optimum plus what the exchange cost).

    On a transport feeder the LP is the same at every price but for two costs, so one
    HiGHS instance (``lp_highs.Session``) is kept and only those costs change between
    solves, each starting from the last basis. A physical feeder's losses are
    linearised **once**, at the flows of its clearing's own loss passes at a reference
    price (the middle of its feed-in and retail prices), and every price then solves
    that one LP (with the clearing's cutting planes, which leave its optimum that of
    the LP with every side): its curve is one LP's value function, concave. Letting
    the loss passes run at each price made each vertex another LP's, and the "curve" of
    a SimBench feeder zig-zagged (docs/city.md)."""

    NAMES = ("grid_import", "grid_export", "buy_rest", "sell_rest")

    def __init__(self, market: FeederMarket) -> None:
        self.market = market
        self.session: Session | None = None
        self.conditions = market.conditions
        if market.net.physics is not None:
            net = market.net
            middle = (net.import_price_eur_per_kwh + net.export_price_eur_per_kwh) / 2
            at = replace(net, import_price_eur_per_kwh=middle, export_price_eur_per_kwh=middle)
            reference = run_interval(market.book, at, market.conditions)
            point = loss_point(reference.program, reference.solution)
            self.conditions = replace(reference.conditions, losses=point, loss_passes=1)
        else:
            self.program = build_program(market.book, market.net, market.conditions)
            self.session = Session(self.program)
            self.highs = self.session.highs
            self.columns = (
                self.program.cols("grid_import").start,
                self.program.cols("grid_export").start,
            )
            self.spans = {n: self.program.cols(n) for n in self.NAMES if self.program.has(n)}
            self.direct = not market.conditions.retailer_takes_rest and all(
                self.spans[n].stop - self.spans[n].start == 1 for n in self.NAMES[:2]
            )
            """The exchange is one import column less one export column: read those two
            values from HiGHS's list, not every column as an array."""
            self.warm = False

    def __call__(self, price_eur_per_kwh: float) -> tuple[float, float]:
        p = price_eur_per_kwh
        if self.session is None:
            net = replace(self.market.net, import_price_eur_per_kwh=p, export_price_eur_per_kwh=p)
            outcome = run_interval(self.market.book, net, self.conditions)
            values = {n: outcome.values(n) for n in self.NAMES}
            x = exchange_of(self.market, values)
            return x, float(outcome.solution.objective) + p * x
        return self._solve(p)

    def _solve(self, p: float) -> tuple[float, float]:
        """One warm solve on the kept instance, HiGHS called directly: a solve of these
        LPs takes about 0.1 ms, and building a ``Solution`` around it (its info, its
        point as an array, a dataclass) cost half as much again (docs/city.md). Only
        reads were dropped: the same runs from the same bases, so the same doubles."""
        highs = self.highs
        imported, exported = self.columns
        highs.changeColCost(imported, -p)
        highs.changeColCost(exported, p)
        highs.run()
        status = highs.getModelStatus()
        if status != _OPTIMAL:  # status_of raises KeyboardInterrupt for a Ctrl-C
            raise ClearingError(f"HiGHS ended {status_of(status).value}", code="clearing-failed")
        if not self.warm:
            for name, value in WARM_OPTIONS.items():
                highs.setOptionValue(name, value)
            self.warm = True
        col = highs.getSolution().col_value
        if self.direct:
            x = (0.0 + col[imported]) - (0.0 + col[exported])  # as numpy sums one value
        else:
            every = np.asarray(col, dtype=float)
            values = {n: every[self.spans[n]] if n in self.spans else _NONE for n in self.NAMES}
            x = exchange_of(self.market, values)
        return x, float(highs.getObjectiveValue()) + p * x


_OPTIMAL = highspy.HighsModelStatus.kOptimal


def price_bound(market: FeederMarket) -> float:
    """A price beyond every slope of ``V``: any slope is a sum of at most one bid limit,
    the curtailment and shedding prices and the fees along a path."""
    cond = market.conditions
    prices = market.book.price_eur_per_kwh
    top = float(np.abs(prices).max()) if len(prices) else 0.0
    fees = float(np.sum(market.net.line_fee_eur_per_kwh))
    kappa = abs(float(cond.curtailment_eur_per_kwh))
    return 1.0 + top + kappa + float(cond.shedding_eur_per_kwh) + fees


def residual_curve(market: FeederMarket) -> ResidualCurve:
    """``V`` exactly, by the Eisner-Severance search (module docstring)."""
    respond = Responder(market)
    bound = price_bound(market)
    high = respond(bound)  # exports all it can: the curve's left end
    low = respond(-bound)  # imports all it can: the right end
    vertices = {high[0]: high[1], low[0]: low[1]}
    solves = 2
    stack = [(low, high)]
    while stack:
        (x1, v1), (x2, v2) = stack.pop()
        if x1 - x2 <= EXCHANGE_TOL_KWH:
            continue
        slope = (v1 - v2) / (x1 - x2)
        x3, v3 = respond(slope)
        solves += 1
        if v3 - slope * x3 <= v1 - slope * x1 + VALUE_TOL_EUR:
            continue  # the chord is a piece of V
        if not x2 + EXCHANGE_TOL_KWH < x3 < x1 - EXCHANGE_TOL_KWH:
            continue  # an end again (the chord within the solver's tolerance)
        vertices[x3] = v3
        stack += [((x1, v1), (x3, v3)), ((x3, v3), (x2, v2))]
    xs = np.array(sorted(vertices))
    keep = np.concatenate([[True], np.diff(xs) > EXCHANGE_TOL_KWH])
    xs = xs[keep]
    return ResidualCurve(xs, np.array([vertices[x] for x in xs]), solves)
