"""The clearing LP, once: every variable and constraint family, from a book and a grid.

Units: energy in kWh per interval (a power P kW over ``hours`` is P * hours kWh),
prices EUR/kWh, welfare EUR. Sense: maximise. The families, in column order:

    q            bid segments, 0 <= q <= kWh offered (0 for inflexible ones in a city:
                 ``Conditions.inflexible_by_price``); +limit (buy) / -limit - local
                 charge (sell)
    sell_rest    per bus: inflexible offers left unsold, exported by the sellers'
                 retailer at their feed-in tariff (outside the market, cost 0)
    curtail      per bus: inflexible PV left unproduced, at -curtailment price
    buy_rest     per bus: inflexible needs left unbought, imported by the buyers'
                 retailer (outside the market, cost 0)
    shed         per bus: inflexible need not served, at -shedding price (last resort)
    flow         per line, P from ``from`` to ``to`` (transport: within +-capacity;
                 a fee line's forward part, 0..capacity, at -fee)
    flow_back    per fee line (transport): the backward part, 0..capacity, at -fee
    flow_q       per line (physical): reactive flow Q, kvarh
    trafo        the transformer, P from the upstream grid into the root
    trafo_q      the transformer's Q (physical)
    grid_import  the market's purchase from the upstream grid, at -import price
    grid_export  the market's sale to the upstream grid, at +export price + local charge
    grid_served  per buy segment owing more than the reference local charge (only with
                 per-buyer charges; not green-only ones): the part bought from the
                 upstream grid, at +excess
    voltage      per bus (physical): squared voltage magnitude u (pu^2), in the band
    theta        per bus (meshed): voltage angle, the root's fixed at 0

and rows:

    balance      per bus: injected - withdrawn + inflow - outflow (+ trafo at the
                 root) - losses = - base injection                    ["balance"]
    upstream     the upstream node: grid_import - grid_export + buy_rest - sell_rest
                 - trafo = sum of base injections                      ["balance"]
    balance_q    per bus (physical), the same for reactive power       ["loss"]
    sold_out     per bus: inflexible offers sold + sell_rest + curtail = offered
    bought_in    per bus: inflexible needs bought + buy_rest + shed = needed
    green        green-only bought <= sold
    kirchhoff    per line (meshed transport): flow = (theta_from - theta_to) / x
    angle        per line (meshed physical): theta_from - theta_to = (x P - r Q) / vn^2
    drop         per line (physical): u_to - u_from + 2 (r P + x Q) / vn^2 = 0
                 (P, Q in MW, Mvar)                                    ["voltage"]
    drop_root    (physical): u_root + 2 (r_t P + x_t Q) / vn^2 = source voltage^2
    thermal      per line and polygon side k (physical): cos(a_k) P + sin(a_k) Q
                 <= S_max * hours, a regular polygon inscribed in the circle
                 |S| <= S_max (an inner approximation: at most 1 - cos(pi/K) below it)
    trafo_limit  the same for the transformer's rating
    served       per ``grid_served`` column: grid_served - q <= 0
    import_credit  sum of grid_served - grid_import <= 0

The local charge (``Network.local_charge_eur_per_kwh``: network charges at the local
rate and levies, owed on energy traded between neighbours, not on energy exported) is
one wedge between a local buyer's and its seller's price. Charged on every kWh sold in
the market and refunded on the market's export, it costs the objective exactly
``charge x (sold - exported)``, the energy that stayed local; so a trade clears only
when the buyer's limit covers the seller's plus the charge, and a seller receives its
dual value less the charge (``protocol.trades.trade_prices``).

Per-buyer charges (``SegmentBook.charge_eur_per_kwh``): the consumer's connection owes
the charge on the energy it takes from the community (a withdrawal component of TURPE in
French collective self-consumption, Code de l'energie L315-2; the consumer's network
charges under German energy sharing, section 42c EnWG; docs/economics.md, "Who pays"),
so the charges may differ between buyers. The wedge above is then the reference, the
lowest charge any buyer owes, and each buy segment pays its excess over the reference
on what it bought less ``grid_served``, the part the upstream grid supplied, which owes
no local charge. The ``served`` rows keep that part within what the segment bought and
``import_credit`` all of them within the market's import (green-only segments get no
such column: the clearing serves them from peers only, so all they buy owes their own
charge). Without losses sold -
exported = bought - imported, so the objective charges reference x (bought - imported)
+ the sum of excess x (bought - grid_served): each buyer's own charge on its local
energy, the grid's energy going first to the buyers who owe the most (every excess is
>= 0, so the LP credits the import in full as far as they bought). With equal charges
no excess is left, the new columns and rows vanish and the LP is the one above, column
for column. At the optimum a buy segment's marginal value is its bus price plus
min(excess, y), y the ``import_credit`` dual (the excess of the marginal grid-served
buyer), for its local and its grid energy alike, so a buyer pays its seller's price
plus its own charge on local energy; an import is paid the root price plus y, and the
money balances (``tests/market/test_buyer_charges.py``).

Why inflexible bids need ``sell_rest`` and ``buy_rest``: a household's forecast
surplus is produced whether or not a neighbour buys it, and its need is consumed
whether or not a neighbour sells. What the market does not match still flows through
the feeder, to or from the transformer, settled by each participant's retailer. So
every physical flow is limited, not only the traded part, and the only ways to relieve
a limit are curtailment (priced, explicit) and flexible bids. A flexible bid (the
classic double auction's, the default) is energy that is produced or used only if it
clears.

LinDistFlow is the linearised branch flow model of Baran and Wu (1989), "Optimal
sizing of capacitors placed on a radial distribution system", IEEE Trans. Power
Delivery 4(1): the quadratic loss terms of DistFlow are dropped from the voltage
equation. Losses enter the balances through loss factors linearised around a known
flow (``LossPoint``; ``losses.py`` iterates): each line's loss r (P^2 + Q^2) / vn^2 is
split half to each end, as in the marginal-loss DLMP of Bai, Wang, Wang, Hao and
Chen (2018), "Distribution locational marginal pricing (DLMP) for congestion
management and voltage support", IEEE Trans. Power Systems 33(4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voisin.errors import InvalidInput
from voisin.market.lp import Constraints, Program, Terms, Variables
from voisin.market.network import Network
from voisin.market.segments import SegmentBook

POLYGON_SIDES = 12
"""Sides of the polygon that stands for each apparent-power circle."""
BOX_FACTOR = 1.02
"""Each line's P and Q are boxed at this many times its rating (outside the circle)."""


@dataclass(frozen=True, eq=False)
class LossPoint:
    """Flows (kWh, kvarh per interval) the losses are linearised around: per line, and
    for the transformer. All zero gives the lossless LinDistFlow."""

    line_p: np.ndarray
    line_q: np.ndarray
    trafo_p: float = 0.0
    trafo_q: float = 0.0

    @classmethod
    def lossless(cls, lines: int) -> LossPoint:
        return cls(np.zeros(lines), np.zeros(lines))


@dataclass(frozen=True, eq=False)
class Conditions:
    """What the clearing knows besides bids and grid.

    ``base_p_kwh``/``base_q_kvarh`` are each bus's forecast net injection that is not in
    the book (non-participants, inflexible PV and load not offered), positive into the
    bus. ``curtailment_eur_per_kwh`` is what curtailing one kWh of PV costs (paid to its
    owner); ``shedding_eur_per_kwh`` the value of lost load, a last resort that keeps
    the LP feasible. ``voltage_limits=False`` drops the voltage band (the voltages are
    still computed), to show what the band changes; ``voltage_margin_pu`` narrows it on
    both sides. ``loss_passes`` LPs are solved on a physical grid (``engine``).
    ``thermal_sides`` (keys ``line * polygon_sides + side``, in the order they were
    added) are the line polygon sides written as rows; None writes them all
    (``engine`` adds only those an optimum would cross: the others cannot bind).
    """

    hours: float = 0.25
    base_p_kwh: np.ndarray | None = None
    base_q_kvarh: np.ndarray | None = None
    curtailment_eur_per_kwh: float = 0.0
    shedding_eur_per_kwh: float = 3.0
    losses: LossPoint | None = None
    voltage_limits: bool = True
    voltage_margin_pu: float = 0.0
    polygon_sides: int = POLYGON_SIDES
    thermal_sides: np.ndarray | None = None
    loss_passes: int = 2
    retailer_takes_rest: bool = True
    """False in a city (``voisin.city``): the unmatched part of inflexible positions is
    no longer sold to or bought from a retailer at the feeder's edge; it stays in the
    market's own exchange (``grid_import``/``grid_export``), so everything that crosses
    the transformer is priced at the upstream prices and the feeder meets the rest of the
    city through that one number (the ``upstream`` row loses its rest terms)."""
    exchange_kwh: float | None = None
    """Pins the net purchase at the upstream node (kWh; import positive), the ``exchange``
    row: a feeder re-clearing at the city's price takes exactly the city's allocation."""
    inflexible_by_price: bool = False
    """True in a city (its residual curves, its city-wide LP, its feeders'
    re-clearings): an inflexible position takes no part in the LP's matching (its
    segments' bound is 0, so all its energy is rest, curtailed or shed), and its bid's
    limit moves no flow, no curve and no city price: the energy flows anyway, and what
    a limit says is only whether its owner trades it in the market or through its
    supplier. ``publish`` then matches each inflexible bid in full (what of it is not
    cut) where its limit is on the right side of its bus price (``market.upstream``)."""


def _per_bus(net: Network, values: np.ndarray | None) -> np.ndarray:
    return np.zeros(net.bus_count) if values is None else np.asarray(values, dtype=float)


@dataclass(frozen=True, eq=False)
class _Layout:
    """Index maps shared by the families: which buses have inflexible offers or needs."""

    sell_buses: np.ndarray
    buy_buses: np.ndarray
    sell_row: np.ndarray
    """Per segment: row of ``sold_out`` it counts in (-1 if flexible or a buy)."""
    buy_row: np.ndarray
    sell_kwh: np.ndarray
    buy_kwh: np.ndarray

    @classmethod
    def of(cls, book: SegmentBook, net: Network) -> _Layout:
        firm = book.inflexible
        rows = []
        for side in (book.sell, ~book.sell):
            chosen = firm & side
            buses = np.unique(book.bus[chosen])
            position = np.full(net.bus_count, -1, dtype=np.int64)
            position[buses] = np.arange(len(buses))
            row = np.where(chosen, position[book.bus], -1)
            total = np.bincount(row[chosen], book.energy_kwh[chosen], minlength=len(buses))
            rows.append((buses, row, total))
        (sb, sr, sk), (bb, br, bk) = rows
        return cls(sb, bb, sr, br, sk, bk)


def position_buses(book: SegmentBook, net: Network) -> tuple[np.ndarray, np.ndarray]:
    """The bus of each row of ``sold_out`` and of ``bought_in`` (and of each
    ``sell_rest``/``curtail`` and ``buy_rest``/``shed`` column), in order."""
    layout = _Layout.of(book, net)
    return layout.sell_buses, layout.buy_buses


def build_program(book: SegmentBook, net: Network, conditions: Conditions | None = None) -> Program:
    """The clearing LP for ``book`` on ``net`` (``formulation`` module docstring)."""
    cond = conditions or Conditions()
    reference, excess = book.local_charges(net.local_charge_eur_per_kwh)
    gap = net.import_price_eur_per_kwh - net.export_price_eur_per_kwh
    if reference + float(excess.max(initial=0.0)) > gap + 1e-12:
        raise InvalidInput(
            "a buyer's local charge above the gap between import and export prices",
            code="bad-book",
        )
    layout = _Layout.of(book, net)
    variables = _variables(book, net, cond, layout)
    constraints = _constraints(book, net, cond, layout)
    return Program(tuple(variables), tuple(constraints))


def _variables(
    book: SegmentBook, net: Network, cond: Conditions, layout: _Layout
) -> list[Variables]:
    lines, buses = len(net.line_from), net.bus_count
    fee = net.line_fee_eur_per_kwh
    cap = net.line_capacity_kwh
    kappa = cond.curtailment_eur_per_kwh
    reference, excess = book.local_charges(net.local_charge_eur_per_kwh)
    out = [
        Variables.of(
            "q",
            book.segment_count,
            lower=0.0,
            upper=np.where(book.inflexible, 0.0, book.energy_kwh)
            if cond.inflexible_by_price
            else book.energy_kwh,
            cost=book.value_eur_per_kwh - reference * book.sell - excess,
            doc="bid segments (kWh)",
        ),
        Variables.of(
            "sell_rest",
            len(layout.sell_buses),
            lower=0.0,
            doc="inflexible offers unsold, to the retailer (kWh)",
        ),
        Variables.of(
            "curtail",
            len(layout.sell_buses),
            lower=0.0,
            cost=-kappa,
            doc="inflexible offers curtailed (kWh)",
        ),
        Variables.of(
            "buy_rest",
            len(layout.buy_buses),
            lower=0.0,
            doc="inflexible needs unbought, from the retailer (kWh)",
        ),
        Variables.of(
            "shed",
            len(layout.buy_buses),
            lower=0.0,
            cost=-cond.shedding_eur_per_kwh,
            doc="inflexible need not served (kWh)",
        ),
    ]
    physics = net.physics
    if physics is None:
        out.append(
            Variables.of(
                "flow",
                lines,
                lower=np.where(fee > 0, 0.0, -cap),
                upper=cap,
                cost=-fee,
                doc="line flow from -> to (kWh)",
            )
        )
        fee_lines = net.fee_lines
        out.append(
            Variables.of(
                "flow_back",
                len(fee_lines),
                lower=0.0,
                upper=cap[fee_lines],
                cost=-fee[fee_lines],
                doc="fee line flow to -> from (kWh)",
            )
        )
        limit = net.transformer_capacity_kwh
        out.append(
            Variables.of("trafo", 1, lower=-limit, upper=limit, doc="upstream -> root (kWh)")
        )
    else:
        # A box a little outside each circle: never binding once the polygon sides that
        # matter are rows, it keeps an LP without them bounded.
        box = BOX_FACTOR * physics.line_s_max_kva * cond.hours
        out.append(
            Variables.of("flow", lines, lower=-box, upper=box, doc="line P from -> to (kWh)")
        )
        out.append(
            Variables.of("flow_q", lines, lower=-box, upper=box, doc="line Q from -> to (kvarh)")
        )
        out.append(Variables.of("trafo", 1, doc="transformer P upstream -> root (kWh)"))
        out.append(Variables.of("trafo_q", 1, doc="transformer Q upstream -> root (kvarh)"))
    out.append(
        Variables.of(
            "grid_import",
            1,
            lower=0.0,
            cost=-net.import_price_eur_per_kwh,
            doc="bought from the upstream grid (kWh)",
        )
    )
    out.append(
        Variables.of(
            "grid_export",
            1,
            lower=0.0,
            cost=net.export_price_eur_per_kwh + reference,
            doc="sold to the upstream grid (kWh)",
        )
    )
    served = book.grid_servable(net.local_charge_eur_per_kwh)
    if len(served):
        out.append(
            Variables.of(
                "grid_served",
                len(served),
                lower=0.0,
                upper=book.energy_kwh[served],
                cost=excess[served],
                doc="of a buy segment owing more than the reference charge: bought from "
                "the upstream grid, so owing no local charge (kWh)",
            )
        )
    if physics is not None:
        margin = cond.voltage_margin_pu
        low, high = (np.zeros(buses), np.full(buses, 4.0))
        if cond.voltage_limits:
            low, high = (physics.v_min_pu + margin) ** 2, (physics.v_max_pu - margin) ** 2
        out.append(
            Variables.of("voltage", buses, lower=low, upper=high, doc="squared voltage (pu^2)")
        )
    if net.meshed:
        theta_low = np.full(buses, -np.inf)
        theta_high = np.full(buses, np.inf)
        theta_low[net.root] = theta_high[net.root] = 0.0
        out.append(
            Variables.of(
                "theta", buses, lower=theta_low, upper=theta_high, doc="bus voltage angle (rad)"
            )
        )
    return out


def _loss_factors(
    r: np.ndarray, p0: np.ndarray, q0: np.ndarray, vn_kv: float, hours: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss r (P^2 + Q^2) / (1000 vn^2 hours) (kWh, P in kWh per interval) linearised at
    (p0, q0): returns (value at the point, d/dP, d/dQ)."""
    scale = r / (1000.0 * vn_kv**2 * hours)
    return scale * (p0**2 + q0**2), 2 * scale * p0, 2 * scale * q0


def _constraints(
    book: SegmentBook, net: Network, cond: Conditions, layout: _Layout
) -> list[Constraints]:
    lines, buses, root = len(net.line_from), net.bus_count, net.root
    n = book.segment_count
    seg = np.arange(n)
    sign = np.where(book.sell, 1.0, -1.0)
    base_p = _per_bus(net, cond.base_p_kwh)
    physics = net.physics
    sb, bb = layout.sell_buses, layout.buy_buses
    at_from, at_to = net.line_from, net.line_to
    line = np.arange(lines)
    balance = [
        Terms.of("q", book.bus, seg, sign),
        Terms.of("sell_rest", sb, np.arange(len(sb)), 1.0),
        Terms.of("buy_rest", bb, np.arange(len(bb)), -1.0),
        Terms.of("trafo", [root], [0], 1.0),
    ]
    rhs_p = -base_p.copy()
    exchange = [Terms.of("grid_import", [0], [0], 1.0), Terms.of("grid_export", [0], [0], -1.0)]
    if cond.retailer_takes_rest:
        exchange += [
            Terms.of("buy_rest", np.zeros(len(bb)), np.arange(len(bb)), 1.0),
            Terms.of("sell_rest", np.zeros(len(sb)), np.arange(len(sb)), -1.0),
        ]
    upstream = [*exchange, Terms.of("trafo", [0], [0], -1.0)]
    rhs_up = float(base_p.sum())
    out: list[Constraints] = []
    if physics is None:
        balance += [Terms.of("flow", at_from, line, -1.0), Terms.of("flow", at_to, line, 1.0)]
        fee_lines = net.fee_lines
        k = np.arange(len(fee_lines))
        balance += [
            Terms.of("flow_back", at_to[fee_lines], k, -1.0),
            Terms.of("flow_back", at_from[fee_lines], k, 1.0),
        ]
    else:
        loss = cond.losses or LossPoint.lossless(lines)
        vn, h = physics.vn_kv, cond.hours
        lp0, lp_dp, lp_dq = _loss_factors(physics.line_r_ohm, loss.line_p, loss.line_q, vn, h)
        lq0, lq_dp, lq_dq = _loss_factors(physics.line_x_ohm, loss.line_p, loss.line_q, vn, h)
        tr = np.array([physics.transformer_r_ohm])
        tx = np.array([physics.transformer_x_ohm])
        tp, tq = np.array([loss.trafo_p]), np.array([loss.trafo_q])
        tp0, tp_dp, tp_dq = _loss_factors(tr, tp, tq, vn, h)
        tq0, tq_dp, tq_dq = _loss_factors(tx, tp, tq, vn, h)
        # Half of each line's linearised loss is drawn at each end.
        balance += [
            Terms.of("flow", at_from, line, -1.0 - lp_dp / 2),
            Terms.of("flow", at_to, line, 1.0 - lp_dp / 2),
            Terms.of("flow_q", at_from, line, -lp_dq / 2),
            Terms.of("flow_q", at_to, line, -lp_dq / 2),
        ]
        balance[3] = Terms.of("trafo", [root], [0], 1.0 - tp_dp[0] / 2)
        balance.append(Terms.of("trafo_q", [root], [0], -tp_dq[0] / 2))
        upstream[-1] = Terms.of("trafo", [0], [0], -1.0 - tp_dp[0] / 2)
        upstream.append(Terms.of("trafo_q", [0], [0], -tp_dq[0] / 2))
        constant = (lp0 - lp_dp * loss.line_p - lp_dq * loss.line_q) / 2
        np.add.at(rhs_p, at_from, constant)
        np.add.at(rhs_p, at_to, constant)
        t_const = float((tp0 - tp_dp * tp - tp_dq * tq)[0]) / 2
        rhs_p[root] += t_const
        rhs_up += t_const
        out_q = _reactive_balance(
            book,
            net,
            cond,
            layout,
            (lq0, lq_dp, lq_dq),
            (float(tq0[0]), float(tq_dp[0]), float(tq_dq[0])),
            loss,
        )
    out.append(
        Constraints.of(
            "balance",
            buses,
            balance,
            lower=rhs_p,
            upper=rhs_p,
            component="balance",
            doc="nodal P balance (kWh)",
        )
    )
    out.append(
        Constraints.of(
            "upstream",
            1,
            upstream,
            lower=rhs_up,
            upper=rhs_up,
            component="balance",
            doc="the upstream grid node (kWh)",
        )
    )
    if cond.exchange_kwh is not None:
        pinned = float(cond.exchange_kwh)
        out.append(
            Constraints.of(
                "exchange",
                1,
                exchange,
                lower=pinned,
                upper=pinned,
                component="congestion",
                doc="net purchase at the upstream node, pinned (kWh)",
            )
        )
    if physics is not None:
        out.append(out_q)
    out += _positions(book, layout)
    if book.has_green:
        green = book.green | book.sell
        coef = np.where(book.sell[green], -1.0, 1.0)
        out.append(
            Constraints.of(
                "green",
                1,
                [Terms.of("q", np.zeros(int(green.sum())), seg[green], coef)],
                lower=-np.inf,
                upper=0.0,
                component="green",
                doc="green-only bought <= sold",
            )
        )
    out += _served_rows(book, net)
    if physics is not None:
        out += _voltage_rows(net, cond)
        if net.meshed:
            out.append(_angles(net, cond))
        out += _thermal_rows(net, cond)  # last: sides are added between solves
    elif net.meshed:
        out.append(_kirchhoff(net))
    return out


def _served_rows(book: SegmentBook, net: Network) -> list[Constraints]:
    """``grid_served`` segments take no more than they bought, and all of them together
    no more than the market imported (module docstring: per-buyer charges)."""
    served = book.grid_servable(net.local_charge_eur_per_kwh)
    if not len(served):
        return []
    k = np.arange(len(served))
    return [
        Constraints.of(
            "served",
            len(served),
            [Terms.of("grid_served", k, k, 1.0), Terms.of("q", k, served, -1.0)],
            lower=-np.inf,
            upper=0.0,
            component="energy",
            doc="grid-served <= bought, per segment (kWh)",
        ),
        Constraints.of(
            "import_credit",
            1,
            [
                Terms.of("grid_served", np.zeros(len(served)), k, 1.0),
                Terms.of("grid_import", [0], [0], -1.0),
            ],
            lower=-np.inf,
            upper=0.0,
            component="energy",
            doc="grid-served in all <= the market's import (kWh)",
        ),
    ]


def _angles(net: Network, cond: Conditions) -> Constraints:
    """The imaginary part of each line's voltage drop, theta_from - theta_to =
    (x P - r Q) / vn^2 (P, Q in MW, Mvar; linearised as the drop rows are). On a
    radial feeder the angles are free and these rows change nothing; around a loop the
    drops alone fix only one of the circulating P and Q, the angles fix the other."""
    physics = net.physics
    assert physics is not None
    lines = len(net.line_from)
    line = np.arange(lines)
    k = drop_coefficient(physics.vn_kv, cond.hours) / 2
    return Constraints.of(
        "angle",
        lines,
        [
            Terms.of("theta", line, net.line_from, 1.0),
            Terms.of("theta", line, net.line_to, -1.0),
            Terms.of("flow", line, line, -k * physics.line_x_ohm),
            Terms.of("flow_q", line, line, k * physics.line_r_ohm),
        ],
        component="congestion",
        doc="voltage angle drop per line (meshed)",
    )


def _reactive_balance(
    book: SegmentBook,
    net: Network,
    cond: Conditions,
    layout: _Layout,
    line_loss: tuple[np.ndarray, np.ndarray, np.ndarray],
    trafo_loss: tuple[float, float, float],
    loss: LossPoint,
) -> Constraints:
    """Q balance per bus: consumption draws Q at the load power factor, PV at its own;
    flows carry Q; reactive losses x (P^2 + Q^2) / vn^2 are split like the active ones."""
    physics = net.physics
    assert physics is not None
    lines, buses, root = len(net.line_from), net.bus_count, net.root
    n = book.segment_count
    line = np.arange(lines)
    tan = np.where(book.sell, physics.pv_tan_phi, physics.load_tan_phi)
    sb, bb = layout.sell_buses, layout.buy_buses
    q0, q_dp, q_dq = line_loss
    t0, t_dp, t_dq = trafo_loss
    terms = [
        Terms.of("q", book.bus, np.arange(n), -tan),
        Terms.of("sell_rest", sb, np.arange(len(sb)), -physics.pv_tan_phi),
        Terms.of("buy_rest", bb, np.arange(len(bb)), -physics.load_tan_phi),
        Terms.of("flow_q", net.line_from, line, -1.0 - q_dq / 2),
        Terms.of("flow_q", net.line_to, line, 1.0 - q_dq / 2),
        Terms.of("flow", net.line_from, line, -q_dp / 2),
        Terms.of("flow", net.line_to, line, -q_dp / 2),
        Terms.of("trafo_q", [root], [0], 1.0 - t_dq / 2),
        Terms.of("trafo", [root], [0], -t_dp / 2),
    ]
    rhs = -_per_bus(net, cond.base_q_kvarh)
    constant = (q0 - q_dp * loss.line_p - q_dq * loss.line_q) / 2
    np.add.at(rhs, net.line_from, constant)
    np.add.at(rhs, net.line_to, constant)
    rhs[root] += (t0 - t_dp * loss.trafo_p - t_dq * loss.trafo_q) / 2
    return Constraints.of(
        "balance_q",
        buses,
        terms,
        lower=rhs,
        upper=rhs,
        component="loss",
        doc="nodal Q balance (kvarh)",
    )


def _positions(book: SegmentBook, layout: _Layout) -> list[Constraints]:
    """Inflexible offers and needs: what is not matched still flows (or is curtailed,
    or as a last resort shed)."""
    seg = np.arange(book.segment_count)
    out = []
    for name, rows, rest, cut, total in (
        ("sold_out", layout.sell_row, "sell_rest", "curtail", layout.sell_kwh),
        ("bought_in", layout.buy_row, "buy_rest", "shed", layout.buy_kwh),
    ):
        if not len(total):
            continue
        counted = rows >= 0
        k = np.arange(len(total))
        out.append(
            Constraints.of(
                name,
                len(total),
                [
                    Terms.of("q", rows[counted], seg[counted], 1.0),
                    Terms.of(rest, k, k, 1.0),
                    Terms.of(cut, k, k, 1.0),
                ],
                lower=total,
                upper=total,
                component="congestion",
                doc="inflexible energy: matched + left to the retailer + cut = forecast",
            )
        )
    return out


def drop_coefficient(physics_vn_kv: float, hours: float) -> float:
    """2 / (1000 vn^2 hours): pu^2 of squared-voltage drop per ohm and kWh per interval."""
    return 2.0 / (1000.0 * physics_vn_kv**2 * hours)


def _voltage_rows(net: Network, cond: Conditions) -> list[Constraints]:
    physics = net.physics
    assert physics is not None
    lines = len(net.line_from)
    line = np.arange(lines)
    k = drop_coefficient(physics.vn_kv, cond.hours)
    drop = Constraints.of(
        "drop",
        lines,
        [
            Terms.of("voltage", line, net.line_to, 1.0),
            Terms.of("voltage", line, net.line_from, -1.0),
            Terms.of("flow", line, line, k * physics.line_r_ohm),
            Terms.of("flow_q", line, line, k * physics.line_x_ohm),
        ],
        component="voltage",
        doc="LinDistFlow voltage drop per line",
    )
    source = physics.source_vm_pu**2
    drop_root = Constraints.of(
        "drop_root",
        1,
        [
            Terms.of("voltage", [0], [net.root], 1.0),
            Terms.of("trafo", [0], [0], k * physics.transformer_r_ohm),
            Terms.of("trafo_q", [0], [0], k * physics.transformer_x_ohm),
        ],
        lower=source,
        upper=source,
        component="voltage",
        doc="voltage drop in the transformer",
    )
    return [drop, drop_root]


def polygon(sides: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (cos, sin) of a regular polygon inscribed in the unit circle with a
    vertex on the P axis: ``cos a P + sin a Q <= cos(pi / sides) S`` for each side."""
    angle = (np.arange(sides) + 0.5) * 2 * math.pi / sides
    return np.cos(angle), np.sin(angle)


def all_sides(net: Network, cond: Conditions) -> np.ndarray:
    """Every line's polygon sides as keys ``line * sides + side``."""
    return np.arange(len(net.line_from) * cond.polygon_sides)


def _thermal_rows(net: Network, cond: Conditions) -> list[Constraints]:
    """The transformer's polygon, then the chosen sides of the lines' polygons."""
    physics = net.physics
    assert physics is not None
    sides = cond.polygon_sides
    cos_a, sin_a = polygon(sides)
    inner = math.cos(math.pi / sides)
    out = []
    if math.isfinite(physics.transformer_s_max_kva):
        out.append(
            Constraints.of(
                "trafo_limit",
                sides,
                [
                    Terms.of("trafo", np.arange(sides), np.zeros(sides), cos_a),
                    Terms.of("trafo_q", np.arange(sides), np.zeros(sides), sin_a),
                ],
                lower=-np.inf,
                upper=physics.transformer_s_max_kva * cond.hours * inner,
                component="congestion",
                doc="transformer apparent power",
            )
        )
    keys = all_sides(net, cond) if cond.thermal_sides is None else cond.thermal_sides
    line, side = np.divmod(keys, sides)
    row = np.arange(len(keys))
    out.append(
        Constraints.of(
            "thermal",
            len(keys),
            [
                Terms.of("flow", row, line, cos_a[side]),
                Terms.of("flow_q", row, line, sin_a[side]),
            ],
            lower=-np.inf,
            upper=physics.line_s_max_kva[line] * cond.hours * inner,
            component="congestion",
            doc="line apparent power (polygon sides)",
        )
    )
    return out


def crossed_sides(
    net: Network, cond: Conditions, flow: np.ndarray, flow_q: np.ndarray
) -> np.ndarray:
    """Keys of every line polygon side the flows lie beyond (by more than 1e-9 kWh)."""
    physics = net.physics
    assert physics is not None
    sides = cond.polygon_sides
    cos_a, sin_a = polygon(sides)
    limit = physics.line_s_max_kva * cond.hours * math.cos(math.pi / sides)
    reach = np.outer(flow, cos_a) + np.outer(flow_q, sin_a)
    return np.flatnonzero((reach > limit[:, None] + 1e-9).reshape(-1))


def _kirchhoff(net: Network) -> Constraints:
    """DC flow on a meshed transport grid: net flow = angle difference / reactance."""
    lines = len(net.line_from)
    line = np.arange(lines)
    fee_lines = net.fee_lines
    susceptance = 1.0 / np.asarray(net.line_reactance_ohm, dtype=float)
    return Constraints.of(
        "kirchhoff",
        lines,
        [
            Terms.of("flow", line, line, 1.0),
            Terms.of("flow_back", fee_lines, np.arange(len(fee_lines)), -1.0),
            Terms.of("theta", line, net.line_from, -susceptance),
            Terms.of("theta", line, net.line_to, susceptance),
        ],
        component="congestion",
        doc="DC power flow on loops",
    )
