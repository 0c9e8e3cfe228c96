"""A heat pump that plans: heat when energy is expected to be cheap, within a comfort band.

A thermostat holds the house at its setpoint and so heats when the house loses heat,
which in winter is mostly at night and in the morning, when local energy is dear. The
house itself stores heat: a planning pump lets the indoor temperature move within
[T_min, T_max] and heats ahead into the cheap hours (the PV peak). At every gate its
agent solves one LP over the rolling horizon (``plan_lp``) against the prices the
neighbourhood's PV forecast leads it to expect (``battery_plan.expected_prices``) and
carries out the first interval (economic MPC of a heat pump over a thermal model, as
in Halvgaard, Poulsen, Madsen and Jørgensen 2012, "Economic model predictive control
for building climate control in a smart grid", IEEE PES ISGT).

Per interval t (kWh, h hours): pump electric energy p in [0, P_max h], import i and
export e of the home, indoor temperature T at the interval's end, heat vented v >= 0
(windows opened, the only way down) and a shortfall u >= 0 below the band:

    minimise   sum_t buy_t i_t - sell_t e_t + PENALTY u_t + VENT v_t  - terminal x T_end
    balance    i_t - e_t - p_t = load_t - pv_t
    house      T_t - a T_(t-1) - COP_t p_t / C + v_t / C = drift_t   (T_(-1) = T now)
    comfort    T_t + u_t >= T_min,   T_t <= T_max

with ``a`` and ``drift`` the one-node house of ``meters.heating.ThermalHouse`` (forward
Euler) and COP that of the pump at the interval's outdoor temperature. The shortfall is
only used when the pump cannot hold T_min at full power; venting costs a token so the
plan vents only what the band needs, as the house does when it is carried out. The heat
left in the house at the horizon's end is valued at what it would cost to put back at
the cheapest expected interval, less one interval's loss (``a C min_t buy_t / COP_t``
per kelvin), so a plan neither lets the house go cold at the horizon's end nor hoards
heat (as ``battery_plan`` values the energy left in a battery).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voisin.agents.battery_plan import Prices
from voisin.agents.plan_lp import solve
from voisin.meters.heating import ThermalHouse

SHORTFALL_EUR_PER_K = 100.0
"""Per kelvin below the band per interval: far above any energy price, so the plan only
falls short when the pump's power cannot keep up."""
VENT_EUR_PER_KWH = 1e-6
"""A token: venting is free, but never chosen when not needed."""


@dataclass(frozen=True)
class HeatingPlan:
    """The pump's electric energy (kWh) and the indoor temperature at the end (°C) of
    each interval of the horizon."""

    electric_kwh: np.ndarray
    indoor_c: np.ndarray


def plan_heating(
    net_need_kwh: np.ndarray,
    outdoor_c: np.ndarray,
    cop: np.ndarray,
    indoor_c: float,
    house: ThermalHouse,
    band_c: tuple[float, float],
    limit_kwh: float,
    hours: float,
    prices: Prices,
) -> HeatingPlan | None:
    """The cheapest heating that keeps the house in ``band_c`` over the horizon of
    ``net_need_kwh`` (the home's other load less its PV), at most ``limit_kwh`` per
    interval; None if HiGHS fails."""
    need = np.asarray(net_need_kwh, dtype=float)
    horizon = len(need)
    if horizon == 0:
        return HeatingPlan(np.zeros(0), np.zeros(0))
    low, high = band_c
    a = house.decay(hours)
    drift = house.drift_c(np.asarray(outdoor_c[:horizon], dtype=float), hours)
    gain = np.asarray(cop[:horizon], dtype=float) / house.capacitance_kwh_per_k
    # Columns per interval: p, i, e, T, u, v (in that order, interval by interval).
    n = 6 * horizon
    t = np.arange(horizon)
    col = {name: 6 * t + k for k, name in enumerate("pieTuv")}
    cost = np.zeros(n)
    cost[col["i"]] = prices.buy_eur_per_kwh[:horizon]
    cost[col["e"]] = -prices.sell_eur_per_kwh[:horizon]
    cost[col["u"]] = SHORTFALL_EUR_PER_K
    cost[col["v"]] = VENT_EUR_PER_KWH
    reheat = np.asarray(prices.buy_eur_per_kwh[:horizon], dtype=float) / np.asarray(
        cop[:horizon], dtype=float
    )
    cost[col["T"][-1]] -= a * house.capacitance_kwh_per_k * float(reheat.min())
    lower, upper = np.zeros(n), np.full(n, np.inf)
    upper[col["p"]] = limit_kwh
    lower[col["T"]], upper[col["T"]] = -np.inf, high
    rows: list[tuple[int, int, float]] = []  # (row, column, value)
    for k in range(horizon):
        b, h_row, c_row = k, horizon + k, 2 * horizon + k
        rows += [(b, col["i"][k], 1.0), (b, col["e"][k], -1.0), (b, col["p"][k], -1.0)]
        rows += [(h_row, col["T"][k], 1.0), (h_row, col["p"][k], -float(gain[k]))]
        rows += [(h_row, col["v"][k], 1.0 / house.capacitance_kwh_per_k)]
        if k > 0:
            rows.append((h_row, col["T"][k - 1], -a))
        rows += [(c_row, col["T"][k], 1.0), (c_row, col["u"][k], 1.0)]
    house_rhs = drift.copy()
    house_rhs[0] += a * indoor_c
    row_lower = np.concatenate([need, house_rhs, np.full(horizon, low)])
    row_upper = np.concatenate([need, house_rhs, np.full(horizon, np.inf)])
    x = solve(cost, lower, upper, rows, row_lower, row_upper)
    if x is None:
        return None
    electric = np.clip(x[col["p"]], 0.0, limit_kwh)
    return HeatingPlan(electric, x[col["T"]])


def hold_kwh(
    house: ThermalHouse,
    indoor_c: float,
    outdoor_c: float,
    cop: float,
    target_c: float,
    limit_kwh: float,
    hours: float,
) -> float:
    """A thermostat's electric energy for one interval: what brings the house back to
    ``target_c`` by its end, within [0, ``limit_kwh``] (the fallback when no plan)."""
    coasting = house.next_indoor_c(indoor_c, outdoor_c, 0.0, hours)
    heat = (target_c - coasting) * house.capacitance_kwh_per_k
    return float(min(limit_kwh, max(0.0, heat / cop)))


def carry_out(
    house: ThermalHouse,
    indoor_c: float,
    outdoor_c: float,
    heat_kwh: float,
    comfort_max_c: float,
    hours: float,
) -> float:
    """The indoor temperature after an interval that brought ``heat_kwh`` in, the
    windows opened if it would go above the band (what the plan's venting does)."""
    return min(comfort_max_c, house.next_indoor_c(indoor_c, outdoor_c, heat_kwh, hours))
