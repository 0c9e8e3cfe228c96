"""The Baran-Wu 33-bus feeder through the clearing LP: its LinDistFlow voltages.

With nothing in the book, the LP's physical columns are forced by the loads alone (the
base injections), so its squared voltages must be the LinDistFlow solution the shared
test data gives, to 1e-7 pu (lossless: one pass; band opened wide)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from voisin.market.engine import run_interval
from voisin.market.formulation import Conditions
from voisin.market.network import Network
from voisin.market.segments import SegmentBook
from voisin.protocol import Grid

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "distflow"


def baran_wu() -> tuple[Grid, dict, dict[str, tuple[float, float]]]:
    """The feeder as a physical Grid (lines of 1 km at their total ohms, no thermal
    limit to speak of), its expected answers, and its loads (kW, kvar)."""
    case = json.loads((DATA / "baran-wu-33.json").read_text())
    lines = [ln for ln in case["lines"] if ln["in_service"]]
    buses = sorted(
        {ln["from"] for ln in lines} | {ln["to"] for ln in lines}, key=lambda b: int(b[1:])
    )
    grid = Grid.model_validate(
        {
            "root": case["slack_bus"],
            "buses": buses,
            "vn_kv": case["vn_kv"],
            "v_min_pu": 0.8,
            "v_max_pu": 1.2,
            "slack_vm_pu": case["slack_vm_pu"],
            "lines": [
                {
                    "from": ln["from"],
                    "to": ln["to"],
                    "length_km": 1.0,
                    "r_ohm_per_km": ln["r_ohm"],
                    "x_ohm_per_km": ln["x_ohm"],
                    "max_i_ka": 10.0,
                }
                for ln in lines
            ],
            "import_price_eur_per_kwh": 0.3,
            "export_price_eur_per_kwh": 0.05,
        }
    )
    loads = {ld["bus"]: (ld["p_kw"], ld["q_kvar"]) for ld in case["loads"]}
    return grid, case["expect"], loads


def test_lp_voltages_are_the_lindistflow_voltages() -> None:
    grid, expect, loads = baran_wu()
    net = Network.of(grid)
    index = {bus: i for i, bus in enumerate(grid.buses)}
    base_p, base_q = np.zeros(net.bus_count), np.zeros(net.bus_count)
    for bus, (p_kw, q_kvar) in loads.items():
        base_p[index[bus]] -= p_kw
        base_q[index[bus]] -= q_kvar
    empty = SegmentBook.of([], [], [], [], bus_count=net.bus_count)
    outcome = run_interval(
        empty, net, Conditions(hours=1.0, base_p_kwh=base_p, base_q_kvarh=base_q, loss_passes=1)
    )
    voltage = np.sqrt(outcome.values("voltage"))
    expected = np.array([expect["lindistflow_vm_pu"][bus] for bus in grid.buses])
    np.testing.assert_allclose(voltage, expected, atol=1e-7, rtol=0)
    # The substation supplies the whole load: 3715 kW, 2300 kvar.
    assert outcome.values("trafo")[0] == pytest.approx(sum(p for p, _ in loads.values()))
    assert outcome.values("trafo_q")[0] == pytest.approx(sum(q for _, q in loads.values()))
