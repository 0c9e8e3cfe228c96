"""The AC check: Baran-Wu's published AC voltages and losses, and two-bus feeders whose
exact AC solution is worked out on paper (the receiving-end quadratic), through a line
and through the transformer with its tap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.grid import grid_from_branch_list, lindistflow, source_vm_pu
from voisin.grid.ac_check import AcModel, ac_check
from voisin.grid.pandapower_net import pandapower_net
from voisin.protocol import Grid

DISTFLOW = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "distflow"
PRICES = {"import_price_eur_per_kwh": 0.3, "export_price_eur_per_kwh": 0.05}


def receiving_end_kv(
    v_send_kv: float, r_ohm: float, x_ohm: float, p_mw: float, q_mvar: float
) -> float:
    """Exact voltage at a load (p, q) fed through r + jx from v_send (three-phase, line to
    line): V^4 + (2 (r p + x q) - Vs^2) V^2 + (r^2 + x^2)(p^2 + q^2) = 0, larger root."""
    a = v_send_kv**2 - 2.0 * (r_ohm * p_mw + x_ohm * q_mvar)
    c = (r_ohm**2 + x_ohm**2) * (p_mw**2 + q_mvar**2)
    return math.sqrt((a + math.sqrt(a * a - 4.0 * c)) / 2.0)


def two_bus(**extra: object) -> Grid:
    """R - A, 0.5 km of 0.2 + j0.1 ohm/km (r = 0.1, x = 0.05 ohm), rated 90 A, 0.4 kV."""
    return Grid.model_validate(
        {
            "root": "R",
            "buses": ["R", "A"],
            "lines": [
                {
                    "from": "R",
                    "to": "A",
                    "length_km": 0.5,
                    "r_ohm_per_km": 0.2,
                    "x_ohm_per_km": 0.1,
                    "max_i_ka": 0.09,
                }
            ],
            **PRICES,
            **extra,
        }
    )


def test_baran_wu_33_ac_voltages_and_losses() -> None:
    data = json.loads((DISTFLOW / "baran-wu-33.json").read_text())
    expect = data["expect"]
    grid, injections = grid_from_branch_list(data)
    predicted = lindistflow(grid, injections).vm_pu
    result = ac_check(grid, injections, predicted)
    for bus, vm in expect["ac_vm_pu"].items():
        assert result.vm_pu[bus] == pytest.approx(vm, abs=1e-4), bus
    assert result.losses_kw == pytest.approx(expect["ac_losses_kw"], abs=0.1)
    assert result.min_vm_pu == pytest.approx(expect["ac_min_vm_pu"]["vm_pu"], abs=1e-4)
    # Lossless LinDistFlow overestimates every voltage of a loaded feeder: 0.0028 pu at
    # the far end (the testdata's stated gap), never below AC.
    error = result.voltage_error
    assert error is not None
    assert error.worst_bus == "b18"
    assert error.max_abs_pu == pytest.approx(0.0028, abs=1e-4)
    assert not error.below_ac
    # Every bus under the default 0.95 pu planning limit is flagged, and only those.
    low = {v.element for v in result.violations if v.kind == "voltage-low"}
    assert low == {b for b, vm in expect["ac_vm_pu"].items() if vm < 0.95}
    assert {v.kind for v in result.violations} == {"voltage-low"}


def test_two_bus_line_matches_the_exact_solution_and_flags_its_limits() -> None:
    grid = two_bus(bus_band_pu={"A": (0.96, 1.05)})
    result = ac_check(grid, {"A": (-60.0, -20.0)})
    v_kv = receiving_end_kv(0.4, 0.1, 0.05, 0.06, 0.02)
    assert result.vm_pu["A"] == pytest.approx(v_kv / 0.4, abs=1e-9)
    assert result.losses_kw == pytest.approx(1000 * 0.1 * (0.06**2 + 0.02**2) / v_kv**2, abs=1e-6)
    assert result.import_p_kw == pytest.approx(60.0 + result.losses_kw, abs=1e-6)
    current_ka = math.hypot(0.06, 0.02) / (math.sqrt(3) * v_kv)
    assert result.line_loading_percent[0] == pytest.approx(100 * current_ka / 0.09, abs=1e-6)
    assert result.transformer_loading_percent is None
    kinds = {(v.kind, v.element, v.limit) for v in result.violations}
    assert kinds == {("voltage-low", "A", 0.96), ("line-overload", "R-A", 100.0)}


def test_transformer_tap_is_a_shift_of_the_no_load_voltage_and_its_impedance_lv_side() -> None:
    trafo = {
        "sn_kva": 100,
        "vn_hv_kv": 20,
        "vn_lv_kv": 0.4,
        "vk_percent": 4,
        "vkr_percent": 1.5,
        "tap_percent": -2.5,
    }
    grid = two_bus(transformer=trafo, slack_vm_pu=1.02)
    assert source_vm_pu(grid) == pytest.approx(1.02 * 0.975)
    idle = ac_check(grid, {})
    assert idle.vm_pu["R"] == pytest.approx(1.02 * 0.975, abs=1e-9)
    assert idle.losses_kw == pytest.approx(0.0, abs=1e-9)
    # A load at the root alone sees only the transformer: the same quadratic from the
    # shifted no-load voltage through Transformer.impedance_ohm().
    r_t, x_t = grid.transformer.impedance_ohm()  # type: ignore[union-attr]
    loaded = ac_check(grid, {"R": (-120.0, -30.0)})
    v_kv = receiving_end_kv(0.4 * 1.02 * 0.975, r_t, x_t, 0.12, 0.03)
    assert loaded.vm_pu["R"] == pytest.approx(v_kv / 0.4, abs=1e-9)
    current_ka = math.hypot(0.12, 0.03) / (math.sqrt(3) * v_kv)
    rated_ka = 0.1 / (math.sqrt(3) * 0.4)
    assert loaded.transformer_loading_percent == pytest.approx(
        100 * current_ka / rated_ka, rel=1e-6
    )
    assert ("transformer-overload", "transformer") in {
        (v.kind, v.element) for v in loaded.violations
    }


def test_lindistflow_is_the_first_order_of_ac_on_a_lightly_loaded_feeder() -> None:
    grid = two_bus(transformer={"std_type": "0.4 MVA 20/0.4 kV", "tap_percent": 2.5})
    for injection in ((-20.0, -6.0), (30.0, 0.0)):
        state = {"A": injection}
        result = ac_check(grid, state, lindistflow(grid, state).vm_pu)
        assert result.voltage_error is not None
        assert result.voltage_error.max_abs_pu < 5e-4
        assert not result.voltage_error.below_ac


def test_a_reused_model_forgets_the_previous_state() -> None:
    grid = two_bus()
    model = AcModel(grid)
    model.check({"A": (-60.0, -20.0)})
    again = model.check({"A": (25.0, 5.0)})
    assert again.vm_pu == pytest.approx(ac_check(grid, {"A": (25.0, 5.0)}).vm_pu, abs=1e-12)
    net = model.net
    assert float(net.load.p_mw.sum()) == 0.0
    assert float(net.sgen.p_mw.sum()) == pytest.approx(0.025)


_STATE = st.tuples(st.floats(-80.0, 80.0), st.floats(-30.0, 30.0))


@settings(max_examples=10, deadline=None)
@given(
    st.booleans(),
    st.lists(st.tuples(_STATE, _STATE, st.booleans()), min_size=1, max_size=4),
)
def test_a_reused_model_gives_each_state_exactly_a_fresh_runs_result(
    with_transformer: bool, states: list[tuple[tuple[float, float], tuple[float, float], bool]]
) -> None:
    """Every state after the first reuses pandapower's case (``recycle``) from a flat
    start: bit for bit what a fresh network gives, also after a state that diverged."""
    trafo = {"std_type": "0.4 MVA 20/0.4 kV", "tap_percent": 2.5}  # shifted 150 degrees
    grid = two_bus(transformer=trafo, slack_vm_pu=1.02) if with_transformer else two_bus()
    model = AcModel(grid)
    for at_a, at_r, diverge in states:
        if diverge:
            with pytest.raises(InvalidInput, match="did not converge"):
                model.check({"A": (-5000.0, 0.0)})
        state = {"A": at_a, "R": at_r}
        assert model.check(state) == ac_check(grid, state)


def test_the_net_layout_maps_back_to_the_grid() -> None:
    grid = two_bus(transformer={"std_type": "0.25 MVA 20/0.4 kV"})
    net = pandapower_net(grid, {"A": (-3.0, -1.0)})
    assert list(net.bus.name) == ["R", "A", "R (HV side)"]
    assert list(net.line.name) == ["R-A"]
    assert float(net.trafo.sn_mva.iloc[0]) == 0.25
    assert int(net.ext_grid.bus.iloc[0]) == 2
    assert float(net.load.p_mw.iloc[1]) == pytest.approx(0.003)


def test_bad_states_are_refused() -> None:
    grid = two_bus()
    with pytest.raises(InvalidInput, match="did not converge"):
        ac_check(grid, {"A": (-5000.0, 0.0)})
    with pytest.raises(InvalidInput, match="no predicted voltage for bus 'R'"):
        ac_check(grid, {}, {"A": 1.0})


@pytest.mark.parametrize(
    ("r", "x", "message"), [(0.0, 0.0, "has no impedance"), (0.5, 1e-172, "failed numerically")]
)
def test_degenerate_impedances_are_one_line_errors(r: float, x: float, message: str) -> None:
    # Found by the property below: pandapower's admittance matrix raises numpy's
    # FloatingPointError on a zero (or subnormal) impedance, a traceback in the CLI.
    grid = Grid.model_validate(
        {
            "root": "R",
            "buses": ["R", "A"],
            **PRICES,
            "lines": [
                {
                    "from": "R",
                    "to": "A",
                    "length_km": 0.25,
                    "r_ohm_per_km": r,
                    "x_ohm_per_km": x,
                    "max_i_ka": 0.3,
                }
            ],
        }
    )
    with pytest.raises(InvalidInput, match=message):
        ac_check(grid, {"A": (-5.0, 0.0)})
    assert lindistflow(grid, {"A": (-5.0, 0.0)}).vm_pu["A"] <= 1.0


@st.composite
def loaded_feeders(draw: st.DrawFn) -> tuple[Grid, dict[str, tuple[float, float]]]:
    """A random radial LV feeder without line capacitance, maybe with a transformer, and
    injections of either sign."""
    count = draw(st.integers(2, 8))
    lines = [
        {
            "from": f"b{draw(st.integers(0, b - 1))}",
            "to": f"b{b}",
            "length_km": draw(st.floats(0.02, 0.3)),
            "r_ohm_per_km": draw(st.floats(0.1, 0.7)),
            "x_ohm_per_km": draw(st.floats(0.0, 0.3, allow_subnormal=False)),
            "max_i_ka": 0.3,
        }
        for b in range(1, count)
    ]
    extra: dict[str, object] = {}
    if draw(st.booleans()):
        extra["transformer"] = {
            "std_type": "0.4 MVA 20/0.4 kV",
            "tap_percent": draw(st.sampled_from([-2.5, 0.0, 2.5])),
        }
    grid = Grid.model_validate(
        {"root": "b0", "buses": [f"b{b}" for b in range(count)], "lines": lines, **PRICES, **extra}
    )
    power = st.floats(-25.0, 25.0)
    return grid, {f"b{b}": (draw(power), draw(power)) for b in range(1, count)}


@settings(max_examples=25, deadline=None)
@given(loaded_feeders())
def test_lindistflow_bounds_ac_from_above_without_shunts(case) -> None:
    # On a radial feeder with r, x >= 0 and no shunt, each line sends the lossless flow
    # plus the losses downstream (L >= 0), so the exact drop 2 Re(z* S) - |z|^2 l
    # = 2 Re(z* S_lossless) + 2 Re(z* L) - |z|^2 l is at least LinDistFlow's: AC voltages
    # never exceed LinDistFlow's, whatever the direction of flow (the argument of Gan,
    # Li, Topcu and Low, IEEE Trans. Automatic Control 60(1), 2015).
    grid, injections = case
    try:
        result = ac_check(grid, injections, lindistflow(grid, injections).vm_pu)
    except InvalidInput:  # a state beyond the feeder's power-flow solvability
        return
    assert result.voltage_error is not None
    assert not result.voltage_error.below_ac
    assert result.losses_kw >= 0.0
