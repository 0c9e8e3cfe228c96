"""LinDistFlow clearing worked by hand: a binding voltage limit, a binding cable,
curtailment.

Every feeder here is built so the arithmetic fits on paper: 0.4 kV, one-hour intervals
(kWh = kW), lines of 0.1 ohm and no reactance, unity power factor (so Q = 0 and only P
flows), no transformer (the root is the slack at 1.0 pu), lossless (one LP pass). Then
LinDistFlow's squared-voltage drop over a line carrying P kW from parent to child is

    u_child = u_parent - 2 r P / (1000 vn^2) = u_parent - 0.00125 P

and a line's apparent-power limit, on the polygon's vertex on the P axis, is exactly
sqrt(3) * vn * v_min * I_max. Grid: import 0.30, export 0.05 EUR/kWh; curtailment costs
the export price, 0.05.
"""

from __future__ import annotations

import math

import pytest

from voisin.market import MarketRules, clear
from voisin.protocol import Bid, Grid

INTERVAL = "2026-06-21T12:00Z"
LOSSLESS = MarketRules(loss_passes=1, voltage_margin_pu=0.0)
STRONG_KA = 1.0
WEAK_KA = 20.0 / (math.sqrt(3) * 0.4 * 0.95 * 1000)
"""Rated so that sqrt(3) * 0.4 kV * 0.95 pu * I = 20 kVA."""


def _grid(lines: list[tuple[str, str, float]]) -> Grid:
    buses = ["R", *sorted({b for _, b, _ in lines})]
    return Grid.model_validate(
        {
            "root": "R",
            "buses": buses,
            "lines": [
                {
                    "from": a,
                    "to": b,
                    "length_km": 1.0,
                    "r_ohm_per_km": 0.1,
                    "x_ohm_per_km": 0.0,
                    "max_i_ka": ka,
                }
                for a, b, ka in lines
            ],
            "import_price_eur_per_kwh": 0.30,
            "export_price_eur_per_kwh": 0.05,
            "load_power_factor": 1.0,
        }
    )


def _bid(
    bid_id: str, bus: str, side: str, kwh: float, price: float, *, inflexible: bool = False
) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant=f"p-{bid_id}",
        bus=bus,
        interval=INTERVAL,
        side=side,
        segments=({"energy_kwh": kwh, "price_eur_per_kwh": price},),
        inflexible=inflexible,
    )


def _voltages(result) -> dict[str, float]:  # noqa: ANN001
    assert result.physics is not None
    return result.physics.voltage_pu


def test_three_bus_voltage_rise_curtails_pv_and_prices_it() -> None:
    """R - A - B, 60 kW of inflexible PV at B asking 0.10, nobody buying.

    Injecting P at B lifts u_B by 0.0025 P (two lines), so u_B <= 1.05^2 = 1.1025 allows
    P <= 41 kW: 19 kWh are curtailed, 41 flow to the grid through the retailer (the ask
    is above the export price, so the market sells nothing). Duals: curtailment basic
    fixes the position dual at -0.05, the unsold energy basic makes
    price(B) = price(upstream) - 0.05; the voltage-drop duals are equal on both lines
    (u_A is free), so the 0.05 is spread 0.025 per line: price(A) = price(up) - 0.025.
    price(up) is bounded below by the idle export (>= 0.05) and above by the idle ask
    (<= 0.10): the rule takes 0.075. Voltages: u_A = 1 + 0.00125 * 41 = 1.05125."""
    grid = _grid([("R", "A", STRONG_KA), ("A", "B", STRONG_KA)])
    pv = _bid("pv", "B", "sell", 60.0, 0.10, inflexible=True)
    result = clear([pv], grid, INTERVAL, minutes=60, rules=LOSSLESS)

    assert result.cleared_kwh == {"pv": 0.0}
    assert result.curtailed_kwh == {"p-pv": pytest.approx(19.0, abs=1e-7)}
    assert result.curtailment_eur == pytest.approx(0.95, abs=1e-7)
    assert result.welfare_eur == pytest.approx(-0.95, abs=1e-7)
    assert result.prices_eur_per_kwh == pytest.approx({"R": 0.075, "A": 0.05, "B": 0.025}, abs=1e-9)
    parts = result.price_parts_eur_per_kwh
    assert parts["B"]["energy"] == pytest.approx(0.075, abs=1e-9)
    assert parts["B"]["voltage"] == pytest.approx(-0.05, abs=1e-9)
    assert parts["A"]["voltage"] == pytest.approx(-0.025, abs=1e-9)
    for bus, price in result.prices_eur_per_kwh.items():
        assert round(sum(parts[bus].values()), 9) == price
    # Matched inflexible energy settles at the bus price less the position dual:
    # 0.025 + 0.05, the upstream price.
    assert result.settlement_prices_eur_per_kwh == {"B": {"sell-inflexible": 0.075}}
    voltage = _voltages(result)
    assert voltage["B"] == pytest.approx(1.05, abs=1e-7)
    assert voltage["A"] == pytest.approx(math.sqrt(1.05125), abs=1e-7)
    assert voltage["R"] == pytest.approx(1.0, abs=1e-9)
    assert "voltage max B" in result.physics.binding  # type: ignore[union-attr]
    assert result.physics.injection_kw["B"] == pytest.approx(41.0, abs=1e-6)  # type: ignore[union-attr]


def test_without_the_voltage_band_the_same_pv_overshoots() -> None:
    """The same book with the band dropped: nothing is curtailed, and u_B = 1 + 0.0025 *
    60 = 1.15, v_B = 1.0724 pu, above EN 50160's 1.05 planning band."""
    grid = _grid([("R", "A", STRONG_KA), ("A", "B", STRONG_KA)])
    pv = _bid("pv", "B", "sell", 60.0, 0.10, inflexible=True)
    result = clear([pv], grid, INTERVAL, minutes=60, rules=LOSSLESS, voltage_limits=False)
    assert result.curtailed_kwh == {}
    assert _voltages(result)["B"] == pytest.approx(math.sqrt(1.15), abs=1e-7)


def test_five_bus_cable_limit_splits_prices() -> None:
    """R - A - B - C and A - D; the B-C cable carries at most 20 kW.

    A flexible seller at C offers 30 kWh at 0.08; buyers: 25 kWh at 0.20 at D and 10 kWh
    at 0.25 at R. Only 20 kWh can leave C: R's buyer takes 10, D's 10 (import at 0.30 is
    dearer than both bids). The partly accepted seller fixes price(C) = 0.08, the partly
    accepted buyer at D fixes 0.20 on the rest of the feeder. Welfare 0.25 * 10 + 0.20 *
    10 - 0.08 * 20 = 2.9; rent (0.20 - 0.08) * 20 = 2.4. Flows: C-B 20, B-A 20, A-D 10 to
    D, so R-A carries 10 out of the feeder: u_A = 1 + 0.00125 * 10 = 1.0125,
    u_D = 1.0125 - 0.0125 = 1.0, u_B = 1.0125 + 0.025 = 1.0375, u_C = 1.0625."""
    grid = _grid(
        [("R", "A", STRONG_KA), ("A", "B", STRONG_KA), ("B", "C", WEAK_KA), ("A", "D", STRONG_KA)]
    )
    bids = [
        _bid("s-C", "C", "sell", 30.0, 0.08),
        _bid("b-D", "D", "buy", 25.0, 0.20),
        _bid("b-R", "R", "buy", 10.0, 0.25),
    ]
    result = clear(bids, grid, INTERVAL, minutes=60, rules=LOSSLESS)
    assert result.cleared_kwh == pytest.approx({"s-C": 20.0, "b-D": 10.0, "b-R": 10.0}, abs=1e-7)
    assert result.welfare_eur == pytest.approx(2.9, abs=1e-7)
    assert result.congestion_rent_eur == pytest.approx(2.4, abs=1e-7)
    assert result.grid_import_kwh == result.grid_export_kwh == 0.0
    assert result.prices_eur_per_kwh == pytest.approx(
        {"R": 0.20, "A": 0.20, "B": 0.20, "C": 0.08, "D": 0.20}, abs=1e-9
    )
    assert result.price_parts_eur_per_kwh["C"]["congestion"] == pytest.approx(-0.12, abs=1e-9)
    voltage = _voltages(result)
    for bus, u in {"A": 1.0125, "D": 1.0, "B": 1.0375, "C": 1.0625}.items():
        assert voltage[bus] == pytest.approx(math.sqrt(u), abs=1e-7), bus
    assert result.physics.binding == ("thermal B-C",)  # type: ignore[union-attr]
    assert result.physics.line_p_kw[2] == pytest.approx(-20.0, abs=1e-7)  # type: ignore[union-attr]


def test_five_bus_cable_limit_curtails_inflexible_pv() -> None:
    """The same feeder; now 40 kWh of inflexible PV at C asking 0.10, and R's buyer (10
    kWh at 0.25). Whatever is not sold still flows, so C may inject only 20: 20 are
    curtailed. R's buyer takes 10 of it; the other 10 go to the grid via the retailer.
    Duals: curtailment basic (position dual -0.05), the unsold rest basic
    (price(C) = price(up) - 0.05), the partly sold offer basic (price(C) + 0.05 = 0.10):
    price(C) = 0.05, price(up) = 0.10 on the rest of the feeder. Welfare 0.25 * 10 - 0.10
    * 10 - 0.05 * 20 = 0.5. Flows: 20 out of C along C-B-A-R, 10 of them consumed at R:
    u_A = 1.025, u_B = 1.05, u_C = 1.075, u_D = u_A."""
    grid = _grid(
        [("R", "A", STRONG_KA), ("A", "B", STRONG_KA), ("B", "C", WEAK_KA), ("A", "D", STRONG_KA)]
    )
    bids = [
        _bid("pv", "C", "sell", 40.0, 0.10, inflexible=True),
        _bid("b-R", "R", "buy", 10.0, 0.25),
    ]
    result = clear(bids, grid, INTERVAL, minutes=60, rules=LOSSLESS)
    assert result.cleared_kwh == pytest.approx({"pv": 10.0, "b-R": 10.0}, abs=1e-7)
    assert result.curtailed_kwh == pytest.approx({"p-pv": 20.0}, abs=1e-7)
    assert result.welfare_eur == pytest.approx(0.5, abs=1e-7)
    assert result.prices_eur_per_kwh == pytest.approx(
        {"R": 0.10, "A": 0.10, "B": 0.10, "C": 0.05, "D": 0.10}, abs=1e-9
    )
    assert result.settlement_prices_eur_per_kwh == {"C": {"sell-inflexible": 0.1}}
    (trade,) = [t for t in result.trades if t.kind == "p2p"]
    assert (trade.seller_price_eur_per_kwh, trade.buyer_price_eur_per_kwh) == (0.1, 0.1)
    voltage = _voltages(result)
    for bus, u in {"A": 1.025, "B": 1.05, "C": 1.075, "D": 1.025}.items():
        assert voltage[bus] == pytest.approx(math.sqrt(u), abs=1e-7), bus
    assert result.physics.transformer_p_kw == pytest.approx(-10.0, abs=1e-7)  # type: ignore[union-attr]


def test_a_city_feeder_exports_its_rest_less_the_line_loss() -> None:
    """R - A, 10 kWh of inflexible PV at A asking 0.10 and nobody buying, on a city's
    feeder allocated an export of 9.9375 kWh at a city price of 0.20, two loss passes.
    The loss of 10 kW over the line is r P^2 / vn^2 = 0.1 * 10^2 / 0.4^2 W = 62.5 W
    over the squared voltage at A, which the export lifts to at most 1 + 0.00125 * 10:
    between 0.0617 and 0.0625 kWh. What reaches R less the loss is the allocation; what
    the feeder cannot send is curtailed (at the export price, 0.05), which prices A at
    -0.05: below the seller's ask, so all of it is unmatched (the rest, which its
    supplier settles at A's price). Welfare = 0.20 * 9.9375 - 0.05 * curtailed, the
    LP's objective (the losses once counted the rest a second time, and the welfare
    said 3.99)."""
    from voisin.market.upstream import Upstream

    result = clear(
        [_bid("pv", "A", "sell", 10.0, 0.10, inflexible=True)],
        _grid([("R", "A", STRONG_KA)]),
        INTERVAL,
        rules=MarketRules(loss_passes=2, voltage_margin_pu=0.0),
        minutes=60,
        upstream=Upstream(0.20, -9.9375),
    )
    curtailed = sum(result.curtailed_kwh.values())
    assert 0.0617 <= result.losses_kwh <= 0.0625
    assert result.grid_export_kwh - result.losses_kwh == pytest.approx(9.9375, abs=1e-9)
    assert -result.rest_kwh + curtailed == pytest.approx(10.0, abs=1e-9)
    assert result.grid_export_kwh == pytest.approx(-result.rest_kwh, abs=1e-9)
    assert result.prices_eur_per_kwh["A"] == -0.05
    assert result.trades == ()
    assert result.welfare_eur == pytest.approx(0.20 * 9.9375 - 0.05 * curtailed, abs=1e-8)
    assert result.rest_eur == pytest.approx(-0.05 * result.rest_kwh, abs=1e-8)  # A's price
