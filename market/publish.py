"""From the solver's floats to the quantities a clearing publishes, limits kept exactly.

Cleared kWh per bid are the solver's values clipped to ``[0, offered]`` and rounded to
1e-9 kWh (a micro-watt-hour; below that is solver noise). Rounding n bids can move a
sum by up to n * 5e-10 kWh, which would break what docs/clearing.md states without
tolerance (the transformer limit, a green-only buyer never served by the grid, no grid
exchange the solver did not make). So two sums are then repaired, each by at most
``REPAIR_KWH`` on one bid: green-only bought may not exceed sold, and the grid
exchange (bought - sold) must equal the solver's, rounded, within the transformer
limit. A larger gap means the solver disagrees with itself and is an error.

In a city (``Conditions.inflexible_by_price``) the LP matches no inflexible bid; each is
matched here, after the prices, where its limit is on the right side of its bus price
(``market.upstream``), and its rest is valued at that price (``Published.rest_eur``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voisin.errors import ClearingError
from voisin.market.dc_flow import ptdf_of
from voisin.market.engine import Outcome
from voisin.market.formulation import position_buses
from voisin.market.network import Network
from voisin.market.pricing import clean
from voisin.market.segments import SegmentBook

ENERGY_DECIMALS = 9
"""Cleared kWh are rounded to 1e-9."""
REPAIR_KWH = 1e-6
"""The most a rounding repair may move one bid; beyond it the solve is inconsistent."""


@dataclass(frozen=True, eq=False)
class Published:
    """Per bid (bid order) and in total, as the result states them (kWh, EUR)."""

    cleared_kwh: np.ndarray
    grid_import_kwh: float
    grid_export_kwh: float
    welfare_eur: float
    wheeling_fees_eur: float
    curtailed_kwh: dict[int, float]
    shed_kwh: dict[int, float]
    curtailment_eur: float
    grid_served_kwh: np.ndarray
    """Per bid, what the upstream grid serves it so that it owes no excess charge
    (``formulation``, per-buyer charges; all 0 without them), rounded to 1e-9 kWh and
    within its cleared kWh: the split's imports go to these first."""
    rest_kwh: float = 0.0
    """Net kWh (import positive) of inflexible positions left unmatched inside the
    exchange: 0 while a retailer takes them (``rest_in_exchange``)."""
    rest_eur: float = 0.0
    """What the members' suppliers pay for that rest, each bus's at its price (EUR;
    negative: they are paid; ``Conditions.inflexible_by_price``)."""


STEP_KWH = 10.0**-ENERGY_DECIMALS


def _nudge(
    cleared: np.ndarray, raw: np.ndarray, offered: np.ndarray, chosen: np.ndarray, change: float
) -> bool:
    """Move ``change`` kWh (a whole number of 1e-9 steps; negative: take away) over the
    chosen bids, a step each, those that rounding moved furthest from the solver's
    value in the other direction first (round again if steps are left). Taking away
    never breaks individual rationality; adding is allowed only where the solver's
    quantity lies above the published one or strictly inside the bid (its next kWh is
    at the price), so no bid is moved into a segment it did not clear. False if the
    chosen bids cannot take it."""
    steps = round(abs(change) / STEP_KWH)
    sign = 1.0 if change > 0 else -1.0
    eligible = chosen
    if sign > 0:
        inside = (raw > STEP_KWH) & (raw < offered - STEP_KWH)
        eligible = chosen & ((raw - cleared > STEP_KWH / 2) | inside)
    while steps > 0:
        room = (offered - cleared) if sign > 0 else cleared
        candidates = np.flatnonzero(eligible & (room >= STEP_KWH * (1 - 1e-6)))
        if not len(candidates):
            return False
        owed = sign * (raw[candidates] - cleared[candidates])
        picked = candidates[np.argsort(-owed, kind="stable")[:steps]]
        cleared[picked] = np.round(cleared[picked] + sign * STEP_KWH, ENERGY_DECIMALS)
        steps -= len(picked)
    return True


def _rounded(raw: np.ndarray, offered: np.ndarray) -> np.ndarray:
    """Each value to 1e-9, never above what was offered (rounding down there, unless
    the offer is itself a 1e-9 multiple but for float noise, as 0.2 + 0.7 is)."""
    out = np.round(raw, ENERGY_DECIMALS)
    over = out > offered + 1e-12
    out[over] = np.floor(offered[over] * 10.0**ENERGY_DECIMALS) / 10.0**ENERGY_DECIMALS
    return out


def _cleared(book: SegmentBook, outcome: Outcome) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw and rounded kWh per bid, and each bid's offered energy."""
    bids = book.bid_count
    segment = np.clip(outcome.values("q"), 0.0, book.energy_kwh)
    raw = np.bincount(book.bid, segment, minlength=bids)
    offered = np.bincount(book.bid, book.energy_kwh, minlength=bids)
    return raw, _rounded(np.minimum(raw, offered), offered), offered


def publish(book: SegmentBook, net: Network, outcome: Outcome, interval: str) -> Published:
    """The published quantities of one solved interval (module docstring)."""
    raw, cleared, offered = _cleared(book, outcome)
    first = np.searchsorted(book.bid, np.arange(book.bid_count))
    sell = book.sell[first]
    green = book.green[first]
    if green.any():
        excess = round(float(cleared[green].sum() - cleared[sell].sum()), ENERGY_DECIMALS)
        if excess > REPAIR_KWH:
            raise ClearingError(f"interval {interval}: green-only buyers cleared beyond supply")
        if excess > 0 and not _nudge(cleared, raw, offered, green, -excess):
            raise ClearingError(f"interval {interval}: cannot round the green balance")
    solver = float(raw[~sell].sum() - raw[sell].sum())
    published = round(float(cleared[~sell].sum() - cleared[sell].sum()), ENERGY_DECIMALS)
    if abs(published - solver) > REPAIR_KWH:
        raise ClearingError(
            f"interval {interval}: solver grid exchange disagrees with the cleared bids"
        )
    # No exchange the solver did not make, none beyond the transformer's limit.
    # (In a city the unmatched inflexible energy shares the transformer with the bids,
    # so the bids' own exchange has no limit of its own.)
    limit = np.inf
    if net.physics is None and outcome.conditions.retailer_takes_rest:
        limit = net.transformer_capacity_kwh
    target = round(float(np.clip(solver, -limit, limit)), ENERGY_DECIMALS)
    if target == 0.0 or abs(published) > limit:
        residual = round(published - target, ENERGY_DECIMALS)
        # Taking away first: fewer buyers' kWh, or fewer sellers'.
        if residual > 0:
            repaired = _nudge(cleared, raw, offered, ~sell, -residual) or _nudge(
                cleared, raw, offered, sell, residual
            )
        else:
            repaired = _nudge(cleared, raw, offered, sell, residual) or _nudge(
                cleared, raw, offered, ~sell & ~green, -residual
            )
        if not repaired:
            raise ClearingError(f"interval {interval}: cannot round the grid exchange")
    net_import = round(
        float(cleared[~sell].sum() - cleared[sell].sum()) + rest_in_exchange(outcome),
        ENERGY_DECIMALS,
    )
    curtailed, shed = _cut(book, net, outcome, cleared, offered, first)
    value = _value(book, cleared, first)  # in a city before its inflexible matching
    rest_kwh, rest_eur = rest_in_exchange(outcome), 0.0
    if outcome.conditions.inflexible_by_price:
        matched = _matched_by_price(book, outcome, offered, first, {**curtailed, **shed})
        cleared = np.where(book.inflexible[first], matched, cleared)
        rest_kwh -= float(matched[~sell].sum() - matched[sell].sum())
        rest_eur = _rest_eur(book, net, outcome, matched, first)
    kappa = outcome.conditions.curtailment_eur_per_kwh if curtailed else 0.0
    voll = outcome.conditions.shedding_eur_per_kwh if shed else 0.0
    fees = _wheeling_fees(book, net, outcome, cleared, first)
    market_losses = round(  # the LP's exchange less what crosses it in bids and rest
        float(outcome.values("grid_import")[0] - outcome.values("grid_export")[0])
        - float(raw[~sell].sum() - raw[sell].sum())
        - rest_in_exchange(outcome),
        ENERGY_DECIMALS,
    )
    exchange = net_import + (market_losses if net.physics is not None else 0.0)
    # The local charge is owed on what sellers sold less what the market exported, at the
    # reference charge, plus each buyer's excess on what it bought less its grid share.
    local_kwh = max(float(cleared[sell].sum()) - max(-net_import, 0.0), 0.0)
    reference, above = book.local_charges(net.local_charge_eur_per_kwh)
    served = _grid_served(book, net, outcome, cleared)
    charges = reference * local_kwh + float(above[first] @ (cleared - served))
    welfare = (
        value
        - net.import_price_eur_per_kwh * max(exchange, 0.0)
        + net.export_price_eur_per_kwh * max(-exchange, 0.0)
        - fees
        - charges
        - kappa * sum(curtailed.values())
        - voll * sum(shed.values())
    )
    return Published(
        cleared_kwh=cleared,
        grid_import_kwh=clean(max(net_import, 0.0), ENERGY_DECIMALS),
        grid_export_kwh=clean(max(-net_import, 0.0), ENERGY_DECIMALS),
        welfare_eur=clean(welfare),
        wheeling_fees_eur=clean(fees),
        curtailed_kwh=curtailed,
        shed_kwh=shed,
        curtailment_eur=clean(kappa * sum(curtailed.values())),
        grid_served_kwh=served,
        rest_kwh=clean(rest_kwh, ENERGY_DECIMALS),
        rest_eur=clean(rest_eur),
    )


def _matched_by_price(
    book: SegmentBook,
    outcome: Outcome,
    offered: np.ndarray,
    first: np.ndarray,
    cut: dict[int, float],
) -> np.ndarray:
    """kWh per bid matched after the prices (``Conditions.inflexible_by_price``): each
    inflexible bid's segments whose limit is on the right side of its bus price (a
    buyer's at or above it, a seller's at or below), within what of the bid is not cut;
    0 for every other bid (the LP matched those).

    Green-only buyers are served from supply the LP's ``green`` row saw, and it sees no
    inflexible offer (their segments take no part in it), so where a book has one, no
    inflexible offer is matched after (the premium every seller receives would go to
    supply that did not set it), and no green-only inflexible need is either (it would
    be served by the grid): they stay rest, settled at their bus prices."""
    price = outcome.prices.bus_eur_per_kwh[book.bus]
    good = np.where(book.sell, book.price_eur_per_kwh <= price, book.price_eur_per_kwh >= price)
    in_money = np.bincount(book.bid, book.energy_kwh * good, minlength=book.bid_count)
    left = offered.copy()
    left[list(cut)] -= list(cut.values())
    matched = np.round(np.minimum(in_money, np.maximum(left, 0.0)), ENERGY_DECIMALS)
    chosen = book.inflexible[first] & ~book.green[first]
    if book.has_green:
        chosen &= ~book.sell[first]
    out: np.ndarray = np.where(chosen, matched, 0.0)
    return out


def _rest_eur(
    book: SegmentBook, net: Network, outcome: Outcome, matched: np.ndarray, first: np.ndarray
) -> float:
    """The rest at its buses' prices (EUR, import positive): each bus's unmatched
    inflexible need less its unmatched inflexible offer, as the LP left them less what
    was matched after, times the bus's price."""
    sell_buses, buy_buses = position_buses(book, net)
    rest = np.zeros(net.bus_count)
    np.add.at(rest, buy_buses, np.round(outcome.values("buy_rest"), ENERGY_DECIMALS))
    np.add.at(rest, sell_buses, -np.round(outcome.values("sell_rest"), ENERGY_DECIMALS))
    signed = np.where(book.sell[first], matched, -matched)
    np.add.at(rest, book.bus[first], signed)  # matched energy is no longer rest
    return float(outcome.prices.bus_eur_per_kwh @ rest)


def rest_in_exchange(outcome: Outcome) -> float:
    """kWh of unmatched inflexible positions that cross the upstream node inside the
    market's exchange: none while a retailer takes them (a lone feeder), all of them in
    a city (``Conditions.retailer_takes_rest``)."""
    if outcome.conditions.retailer_takes_rest:
        return 0.0
    return float(outcome.values("buy_rest").sum() - outcome.values("sell_rest").sum())


def _grid_served(
    book: SegmentBook, net: Network, outcome: Outcome, cleared: np.ndarray
) -> np.ndarray:
    """kWh per bid the upstream grid serves (``Published.grid_served_kwh``): the LP's
    ``grid_served`` summed per bid, rounded, never above what the bid cleared."""
    served = np.zeros(book.bid_count)
    if not outcome.program.has("grid_served"):
        return served
    columns = book.grid_servable(net.local_charge_eur_per_kwh)
    np.add.at(served, book.bid[columns], np.clip(outcome.values("grid_served"), 0.0, None))
    out: np.ndarray = np.minimum(np.round(served, ENERGY_DECIMALS), cleared)
    return out


def _value(book: SegmentBook, cleared: np.ndarray, first: np.ndarray) -> float:
    """Buyers' value minus sellers' cost (EUR) of the rounded per-bid quantities, each
    bid's segments filled best first, as the LP fills them."""
    order = np.lexsort(
        (np.where(book.sell, book.price_eur_per_kwh, -book.price_eur_per_kwh), book.bid)
    )
    energy = book.energy_kwh[order]
    owner = book.bid[order]
    before = np.cumsum(energy) - energy
    start = before[np.searchsorted(owner, owner)]
    used = np.clip(cleared[owner] - (before - start), 0.0, energy)
    return float(book.value_eur_per_kwh[order] @ used)


def _cut(
    book: SegmentBook,
    net: Network,
    outcome: Outcome,
    cleared: np.ndarray,
    offered: np.ndarray,
    first: np.ndarray,
) -> tuple[dict[int, float], dict[int, float]]:
    """Curtailment and shedding per bid: each bus's total shared among its inflexible
    bids on that side in proportion to what they left unmatched."""
    out: list[dict[int, float]] = []
    sell_buses, buy_buses = position_buses(book, net)
    firm = book.inflexible[first]
    for name, buses, side in (
        ("curtail", sell_buses, book.sell[first]),
        ("shed", buy_buses, ~book.sell[first]),
    ):
        per_bus = np.round(outcome.values(name), ENERGY_DECIMALS)
        found: dict[int, float] = {}
        for bus, amount in zip(buses.tolist(), per_bus.tolist(), strict=True):
            if amount <= 0:
                continue
            members = np.flatnonzero(firm & side & (book.bus[first] == bus))
            unmatched = offered[members] - cleared[members]
            total = float(unmatched.sum())
            for member, left in zip(members.tolist(), unmatched.tolist(), strict=True):
                share = round(amount * left / total, ENERGY_DECIMALS) if total > 0 else 0.0
                if share > 0:
                    found[member] = min(share, round(left, ENERGY_DECIMALS))
        out.append(found)
    return out[0], out[1]


def _wheeling_fees(
    book: SegmentBook, net: Network, outcome: Outcome, cleared: np.ndarray, first: np.ndarray
) -> float:
    """Fees (EUR) the lines charge on the energy they carry, either way. The flows follow
    from the published injections (on a tree directly, on a meshed grid by the DC
    model), so both backends charge the same."""
    fee = net.line_fee_eur_per_kwh
    if net.physics is not None or not np.any(fee > 0):
        return 0.0
    injection = np.bincount(
        book.bus[first], np.where(book.sell[first], cleared, -cleared), minlength=net.bus_count
    )
    sell_buses, buy_buses = position_buses(book, net)
    np.add.at(injection, sell_buses, np.round(outcome.values("sell_rest"), ENERGY_DECIMALS))
    np.add.at(injection, buy_buses, -np.round(outcome.values("buy_rest"), ENERGY_DECIMALS))
    if outcome.conditions.base_p_kwh is not None:
        injection += outcome.conditions.base_p_kwh
    injection[net.root] -= injection.sum()
    flows = ptdf_of(net) @ injection
    return float(fee @ np.abs(flows))
