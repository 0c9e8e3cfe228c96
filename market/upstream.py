"""A feeder cleared under a city: its upstream price and the exchange it must take.

In a city (``voisin.city``, docs/city.md) the city market allocates each feeder a net
purchase ``x`` at its substation and prices it at ``lambda``, its MV bus's nodal price.
The feeder then re-clears with ``lambda`` as both its import and its export price, the
unmatched part of inflexible positions kept in that exchange (no retailer at the
feeder's edge) but settled outside the market by the members' suppliers, and must end
at exactly ``x``. Buying and selling at one price fixes the upstream node's price at
it, so the solver is first let free; only where it stops elsewhere on a piece of the
feeder's curve whose slope is ``lambda`` (the city's marginal feeder, indifferent over
a range) is the exchange pinned (the ``exchange`` row). The operator's clearing
(``market.clearing.clear``), the auditor's re-clearing and the city's array clearing
(``city.market.reclear``) all go through ``cleared_at``.

Inflexible positions take no part in the LP's matching there
(``Conditions.inflexible_by_price``), as in the residual curve, so the re-clearing's
flows and prices are the curve's at ``x`` whatever the bids' limits say; each
inflexible bid is then matched in full where its limit is on the right side of its
bus price, and what is left of it, the rest, is settled by the members' suppliers at
its bus's price (``ClearingResult.rest_eur``): the rest's money follows the flows.
Before 2026-12-04 the LP matched inflexible bids against a rest worth nothing, so every
inflexible buyer was matched whatever the price (paying its limit below what the
feeder paid the city: a deficit), and no inflexible seller asking above 0 ever was;
and the curve counted a matched buyer's limit as value beside the shedding it avoided,
so a city could price a feeder above its value of lost load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from voisin.market.engine import Outcome
from voisin.market.formulation import Conditions
from voisin.market.network import Network

EXCHANGE_TOL_KWH = 5e-7
"""A free optimum this close to the allocation takes it: half what the ledger's
``upstream`` rule allows (1e-6 kWh, ``ledger.interval_checks``). A physical feeder's
loss passes re-linearise around its own flows, so its free exchange misses a curve's
breakpoint by a few 1e-7 kWh; pinned there, the pin forced a micro-curtailment and
published every bus at the curtailment price (a review's SimBench case, 2e-7 kWh)."""


@dataclass(frozen=True)
class Upstream:
    """The city's allocation to one feeder for one interval (an ``upstream``
    transaction on the feeder's ledger). Units: EUR/kWh, kWh (import positive)."""

    price_eur_per_kwh: float
    exchange_kwh: float

    def network(self, net: Network) -> Network:
        """The feeder's network with the city price as its import and export price."""
        p = self.price_eur_per_kwh
        return replace(net, import_price_eur_per_kwh=p, export_price_eur_per_kwh=p)

    def body(self, interval: str) -> dict[str, Any]:
        return {
            "interval": interval,
            "price_eur_per_kwh": self.price_eur_per_kwh,
            "exchange_kwh": self.exchange_kwh,
        }


def exchange_of(outcome: Outcome) -> float:
    """The net purchase at the upstream node of a solved interval (kWh, + import)."""
    return float(outcome.values("grid_import").sum() - outcome.values("grid_export").sum())


def cleared_at(
    upstream: Upstream, conditions: Conditions, solve: Callable[[Conditions], Outcome]
) -> Outcome:
    """``solve`` free at the city price, then pinned to the allocation if it stopped
    elsewhere (module docstring)."""
    city = replace(conditions, retailer_takes_rest=False, inflexible_by_price=True)
    free = solve(city)
    if abs(exchange_of(free) - upstream.exchange_kwh) <= EXCHANGE_TOL_KWH:
        return free
    return solve(replace(city, exchange_kwh=upstream.exchange_kwh))
