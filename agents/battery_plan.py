"""A battery that plans: a rolling-horizon LP against the prices its owner expects.

The naive battery absorbs every surplus as it comes and is full before the PV peak, so
the midday surplus, when local energy is cheapest, goes out at the lowest prices while
the morning's, worth more, was stored. Planning instead solves, at every gate, one LP
over the rest of the horizon (economic model-predictive control of a home battery, as
in Parisio, Rikos and Glielmo 2014, "A model predictive control approach to microgrid
operation optimization", IEEE Trans. Control Systems Technology 22(5)) and carries out
its first interval only; the next gate plans again from the battery's projected state.

Per interval t (kWh, AC side): charge c, discharge d (each up to power x hours), import
i, export e, state of charge s in [0, capacity]:

    minimise   sum_t buy_t i_t - sell_t e_t  - terminal x s_T
    balance    i_t - e_t + d_t - c_t = load_t - pv_t
    soc        s_t - s_(t-1) - sqrt(eta) c_t + d_t / sqrt(eta) = 0   (s_(-1) = soc now)

with ``buy_t >= sell_t`` (no arbitrage through the meter) and the stored energy at the
end valued at the lowest expected sell price, so the plan neither dumps nor hoards.
Solved with HiGHS (``plan_lp.solve``); a failed solve falls back to the naive dispatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voisin.agents.plan_lp import solve
from voisin.protocol import Tariff


@dataclass(frozen=True)
class Prices:
    """What the owner expects a kWh bought (``buy``) and sold (``sell``) to be worth per
    interval of the horizon, EUR/kWh."""

    buy_eur_per_kwh: np.ndarray
    sell_eur_per_kwh: np.ndarray


def expected_prices(
    pv_forecast_kwh: np.ndarray, tariff: Tariff, charge_eur_per_kwh: float
) -> Prices:
    """Local prices as the owner expects them from its own PV forecast: the more the sun
    shines, the more the neighbourhood has to sell, so a local kWh is worth the feed-in
    tariff at the PV peak and the retail tariff when there is no sun, linearly between.
    A seller nets that less the grid's local charge, never below the feed-in tariff."""
    pv = np.clip(np.asarray(pv_forecast_kwh, dtype=float), 0.0, None)
    peak = float(pv.max()) if len(pv) else 0.0
    share = pv / peak if peak > 0 else np.zeros_like(pv)
    low, high = tariff.export_eur_per_kwh, tariff.import_eur_per_kwh
    local = high - (high - low) * share
    return Prices(local, np.maximum(low, local - charge_eur_per_kwh))


def plan_dispatch(
    net_need_kwh: np.ndarray,
    soc_kwh: float,
    capacity_kwh: float,
    power_kw: float,
    efficiency: float,
    hours: float,
    prices: Prices,
) -> np.ndarray | None:
    """The optimal battery energy per interval (AC side, + discharge, - charge) for the
    horizon of ``net_need_kwh`` (load - pv per interval), or None if HiGHS fails."""
    need = np.asarray(net_need_kwh, dtype=float)
    horizon = len(need)
    if horizon == 0:
        return np.zeros(0)
    eta = float(np.sqrt(efficiency))
    buy, sell = prices.buy_eur_per_kwh[:horizon], prices.sell_eur_per_kwh[:horizon]
    terminal = float(sell.min()) * eta
    # Columns per interval: c, d, i, e, s (in that order, interval by interval).
    n = 5 * horizon
    t = np.arange(horizon)
    col = {name: 5 * t + k for k, name in enumerate("cdies")}
    cost = np.zeros(n)
    cost[col["i"]] = buy
    cost[col["e"]] = -sell
    cost[col["s"][-1]] -= terminal
    upper = np.full(n, np.inf)
    upper[col["c"]] = upper[col["d"]] = power_kw * hours
    upper[col["s"]] = capacity_kwh
    rows: list[tuple[int, int, float]] = []  # (row, column, value)
    for k in range(horizon):
        b, s_row = k, horizon + k
        rows += [(b, col["i"][k], 1.0), (b, col["e"][k], -1.0)]
        rows += [(b, col["d"][k], 1.0), (b, col["c"][k], -1.0)]
        rows += [(s_row, col["s"][k], 1.0), (s_row, col["c"][k], -eta)]
        rows += [(s_row, col["d"][k], 1.0 / eta)]
        if k > 0:
            rows.append((s_row, col["s"][k - 1], -1.0))
    rhs = np.concatenate([need, np.zeros(horizon)])
    rhs[horizon] = soc_kwh
    x = solve(cost, np.zeros(n), upper, rows, rhs, rhs)
    if x is None:
        return None
    dispatch: np.ndarray = x[col["d"]] - x[col["c"]]
    return dispatch
