"""LinDistFlow: a hand-worked feeder, Baran-Wu 33 to 1e-7, and the closed form on random
trees (the voltage of a bus is the source minus the shared-path impedances times every
injection)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.grid import grid_from_branch_list, lindistflow, source_vm_pu
from voisin.protocol import Grid

DISTFLOW = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "distflow"
PRICES = {"import_price_eur_per_kwh": 0.3, "export_price_eur_per_kwh": 0.05}


def three_bus(tap_percent: float = 2.5) -> Grid:
    """R - A - B at 0.4 kV; line A-B written from B to A; a 400 kVA transformer with
    vk 5 %, vkr 3 %: z = 0.05 * 0.4^2 / 0.4 = 0.02 ohm, r = 0.012, x = 0.016."""
    return Grid.model_validate(
        {
            "root": "R",
            "buses": ["R", "A", "B"],
            "lines": [
                {
                    "from": "R",
                    "to": "A",
                    "length_km": 0.5,
                    "r_ohm_per_km": 0.2,
                    "x_ohm_per_km": 0.1,
                    "max_i_ka": 0.27,
                },
                {
                    "from": "B",
                    "to": "A",
                    "length_km": 0.25,
                    "r_ohm_per_km": 0.4,
                    "x_ohm_per_km": 0.08,
                    "max_i_ka": 0.27,
                },
            ],
            "transformer": {
                "sn_kva": 400,
                "vn_hv_kv": 20,
                "vn_lv_kv": 0.4,
                "vk_percent": 5,
                "vkr_percent": 3,
                "tap_percent": tap_percent,
            },
            **PRICES,
        }
    )


def test_three_bus_feeder_worked_by_hand() -> None:
    # A draws 20 kW / 5 kvar, B's PV exports 50 kW. Flows: R->A carries -30 kW, +5 kvar
    # (A's load minus B's export); B->A carries 50 kW; the root imports -30 kW, +5 kvar.
    # u_source = 1.025^2 = 1.050625; 2/(1000 vn^2) = 2/160 per ohm kW.
    #   transformer: 2 (0.012 * -30 + 0.016 * 5) / 160 = -0.0035     -> u_R = 1.054125
    #   R->A:        2 (0.1 * -30 + 0.05 * 5) / 160   = -0.034375   -> u_A = 1.0885
    #   A->B:        2 (0.1 * -50 + 0.02 * 0) / 160   = -0.0625     -> u_B = 1.151
    state = lindistflow(three_bus(), {"A": (-20.0, -5.0), "B": (50.0, 0.0)})
    assert state.line_p_kw == pytest.approx((-30.0, 50.0))
    assert state.line_q_kvar == pytest.approx((5.0, 0.0))
    assert (state.import_p_kw, state.import_q_kvar) == pytest.approx((-30.0, 5.0))
    expected = {"R": 1.054125, "A": 1.0885, "B": 1.151}
    for bus, u in expected.items():
        assert state.vm_pu[bus] == pytest.approx(math.sqrt(u), abs=1e-12), bus


def test_no_injection_leaves_the_no_load_voltage_everywhere() -> None:
    grid = three_bus(tap_percent=-2.5)
    assert source_vm_pu(grid) == pytest.approx(0.975)
    state = lindistflow(grid, {})
    assert list(state.vm_pu.values()) == pytest.approx([0.975] * 3)
    assert state.line_p_kw == (0.0, 0.0)


def test_baran_wu_33_matches_its_published_lindistflow_voltages() -> None:
    data = json.loads((DISTFLOW / "baran-wu-33.json").read_text())
    grid, injections = grid_from_branch_list(data)
    assert len(grid.buses) == 33
    assert len(grid.lines) == 32  # the five tie lines dropped
    state = lindistflow(grid, injections)
    expected = data["expect"]["lindistflow_vm_pu"]
    assert set(expected) == set(grid.buses)
    for bus, vm in expected.items():
        assert state.vm_pu[bus] == pytest.approx(vm, abs=1e-7), bus
    assert state.import_p_kw == pytest.approx(sum(ld["p_kw"] for ld in data["loads"]))


def test_bad_inputs_are_refused_in_one_line() -> None:
    grid = three_bus()
    with pytest.raises(InvalidInput, match="unknown bus 'Z'"):
        lindistflow(grid, {"Z": (1.0, 0.0)})
    with pytest.raises(InvalidInput, match="not finite"):
        lindistflow(grid, {"A": (math.nan, 0.0)})
    with pytest.raises(InvalidInput, match="falls to zero"):
        lindistflow(grid, {"B": (-50_000.0, 0.0)})
    transport = Grid.model_validate(
        {
            "root": "R",
            "buses": ["R", "A"],
            "lines": [{"from": "R", "to": "A", "capacity_kwh": 5}],
            **PRICES,
        }
    )
    with pytest.raises(InvalidInput, match="physical grid"):
        lindistflow(transport, {})


@st.composite
def feeders(draw: st.DrawFn) -> tuple[Grid, dict[str, tuple[float, float]], list[int]]:
    """A random radial feeder (parent[b] < b), random orientation, random injections."""
    count = draw(st.integers(2, 12))
    parent = [-1] + [draw(st.integers(0, b - 1)) for b in range(1, count)]
    lines = []
    for b in range(1, count):
        ends = (f"b{parent[b]}", f"b{b}")
        if draw(st.booleans()):
            ends = ends[::-1]
        lines.append(
            {
                "from": ends[0],
                "to": ends[1],
                "length_km": draw(st.floats(0.01, 0.5)),
                "r_ohm_per_km": draw(st.floats(0.05, 1.0)),
                "x_ohm_per_km": draw(st.floats(0.0, 0.4)),
                "max_i_ka": 0.3,
            }
        )
    grid = Grid.model_validate(
        {
            "root": "b0",
            "buses": [f"b{b}" for b in range(count)],
            "lines": lines,
            "slack_vm_pu": draw(st.floats(0.95, 1.05)),
            **PRICES,
        }
    )
    power = st.floats(-15.0, 15.0)
    injections = {f"b{b}": (draw(power), draw(power)) for b in range(count)}
    return grid, injections, parent


@settings(max_examples=60, deadline=None)
@given(feeders())
def test_voltages_follow_the_closed_form_on_random_trees(case) -> None:
    # u = u0 - 2 (R p + X q) / (1000 vn^2) with R[i, j] the resistance of the path that
    # buses i and j share towards the root (Baran and Wu's simplified DistFlow in matrix
    # form), a formulation independent of the recursive walk under test.
    grid, injections, parent = case
    count = len(grid.buses)
    r_up = np.zeros(count)
    x_up = np.zeros(count)
    for line in grid.lines:
        child = max(int(line.from_bus[1:]), int(line.to_bus[1:]))
        r_up[child], x_up[child] = line.r_ohm, line.x_ohm
    paths = []
    for b in range(count):
        path, at = set(), b
        while at > 0:
            path.add(at)
            at = parent[at]
        paths.append(path)
    r_shared = np.array(
        [[sum(r_up[k] for k in paths[i] & paths[j]) for j in range(count)] for i in range(count)]
    )
    x_shared = np.array(
        [[sum(x_up[k] for k in paths[i] & paths[j]) for j in range(count)] for i in range(count)]
    )
    p = np.array([injections[f"b{b}"][0] for b in range(count)])
    q = np.array([injections[f"b{b}"][1] for b in range(count)])
    u = grid.slack_vm_pu**2 + 2.0 * (r_shared @ p + x_shared @ q) / (1000.0 * grid.vn_kv**2)
    state = lindistflow(grid, injections)
    got = np.array([state.vm_pu[f"b{b}"] for b in range(count)])
    np.testing.assert_allclose(got, np.sqrt(u), atol=1e-12)
    # Every bus balances: what it injects leaves on its lines (file-orientation signs).
    for b, bus in enumerate(grid.buses):
        out = sum(
            f if ln.from_bus == bus else -f
            for ln, f in zip(grid.lines, state.line_p_kw, strict=True)
            if bus in (ln.from_bus, ln.to_bus)
        )
        supplied = state.import_p_kw if b == 0 else 0.0
        assert out == pytest.approx(injections[bus][0] + supplied, abs=1e-9)
