"""SimBench LV grids as voisin grids: the conversion is faithful (our AC power flow of the
converted grid equals pandapower's on SimBench's own net), LinDistFlow stays within the
budget on a high-PV profile state, profiles read the right rows, and switches and
out-of-service elements are handled."""

from __future__ import annotations

import copy
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandapower as pp
import pytest
import simbench as sb

from voisin.errors import InvalidInput
from voisin.grid import ac_check, lindistflow
from voisin.grid.simbench_grids import feeder_from_net, simbench_code, simbench_feeder
from voisin.grid.simbench_net import simbench_net
from voisin.grid.simbench_profiles import (
    PROFILE_START,
    interval_energy_kwh,
    interval_starts,
    profile_day,
    profile_row,
)

CODES = ("1-LV-rural1--0-sw", "1-LV-rural2--0-sw", "1-LV-semiurb4--0-sw", "1-LV-urban6--0-sw")
SUNNY_DAY = date(2026, 5, 28)
"""A Thursday; it reads Thursday 2016-05-26, one of the sunniest days of SimBench's year."""


@pytest.fixture(scope="module")
def nets() -> dict[str, object]:
    return {code: simbench_net(code) for code in CODES}


def _sunniest_step(feeder) -> int:
    pv = [
        sum(u.energy_kwh[k] for u in feeder.units if u.kind == "pv")
        for k in range(len(feeder.interval_starts))
    ]
    return int(np.argmax(pv))


def test_days_map_onto_the_same_weekday_of_2016() -> None:
    assert profile_day(date(2026, 6, 22)) == date(2016, 6, 20)  # Monday -> Monday
    assert profile_day(SUNNY_DAY) == date(2016, 5, 26)
    assert profile_day(date(2026, 1, 1)) == date(2016, 1, 7)  # 2015-12-31 is out of range
    assert profile_day(date(2026, 12, 31)) == date(2016, 12, 29)
    for day in (date(2024, 2, 29), date(2027, 3, 14), date(2030, 10, 5)):
        mapped = profile_day(day)
        assert mapped.year == 2016
        assert mapped.weekday() == day.weekday()
        assert abs((mapped - date(2016, day.month, day.day)).days) <= 3


@pytest.mark.slow
def test_profile_rows_are_consecutive_quarter_hours_of_german_time(nets) -> None:
    labels = nets[CODES[0]].profiles["load"].time
    berlin = ZoneInfo("Europe/Berlin")
    # Across both DST switches of 2016 (27 March, 30 October) and the year's ends.
    for day in (
        date(2016, 1, 1),
        date(2016, 3, 27),
        date(2016, 6, 20),
        date(2016, 10, 30),
        date(2016, 12, 30),
    ):
        for start in interval_starts([day]):
            row = profile_row(start)
            assert row == (start - PROFILE_START) // timedelta(minutes=15)
            assert labels[row] == start.astimezone(berlin).strftime("%d.%m.%Y %H:%M")
    assert profile_row(datetime(2016, 12, 31, 23, 0, tzinfo=UTC)) == 0  # wraps


def test_energy_per_interval_sums_quarter_hours() -> None:
    power_mw = np.zeros((35136, 2))
    start = datetime(2026, 6, 22, 10, 0, tzinfo=UTC)
    first = profile_row(start)
    power_mw[first : first + 4] = [[0.004, 0.0], [0.008, 0.001], [0.0, 0.0], [0.004, 0.003]]
    hourly = interval_energy_kwh(power_mw, [start], minutes=60)
    # (4 + 8 + 0 + 4) kW * 0.25 h = 4 kWh; (1 + 3) kW * 0.25 h = 1 kWh.
    np.testing.assert_allclose(hourly, [[4.0, 1.0]])
    assert interval_energy_kwh(power_mw, [start + timedelta(hours=1)]).tolist() == [[0, 0]]
    assert len(interval_starts([date(2026, 6, 22)], minutes=30)) == 48
    for minutes in (10, 25, 0):
        with pytest.raises(InvalidInput, match="multiple of 15"):
            interval_starts([date(2026, 6, 22)], minutes=minutes)


@pytest.mark.slow
@pytest.mark.parametrize("code", CODES)
def test_grid_converts_and_matches_simbench_own_power_flow(code: str, nets) -> None:
    net = copy.deepcopy(nets[code])
    feeder = feeder_from_net(net, code, [SUNNY_DAY])
    grid = feeder.grid
    trafo = net.trafo.iloc[0]
    assert grid.root == net.bus.name[trafo.lv_bus]
    assert len(grid.buses) == int((net.bus.vn_kv < 1).sum())  # every LV bus, no MV bus
    assert len(grid.lines) == len(net.line)
    assert not grid.meshed
    assert grid.slack_vm_pu == float(net.ext_grid.vm_pu.iloc[0])
    assert grid.transformer is not None
    assert grid.transformer.rated("sn_kva") == pytest.approx(trafo.sn_mva * 1000)
    assert feeder.dropped_buses == ()
    assert len(feeder.units) == len(net.load) + len(net.sgen) + len(net.storage)

    step = _sunniest_step(feeder)
    row = profile_row(feeder.interval_starts[step])
    state = feeder.injections(step)
    absolute = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)
    pv_kwh = sum(u.energy_kwh[step] for u in feeder.units if u.kind == "pv")
    assert pv_kwh == pytest.approx(250 * absolute["sgen", "p_mw"].loc[row].sum())

    ours = ac_check(grid, state, lindistflow(grid, state).vm_pu)
    for (element, column), table in absolute.items():
        if len(table.columns):
            net[element].loc[table.columns, column] = table.loc[row].to_numpy()
    # voisin's transformer has no magnetising branch (no pfe_kw, i0_percent fields).
    exact = copy.deepcopy(net)
    exact.trafo[["pfe_kw", "i0_percent"]] = 0.0
    pp.runpp(exact, numba=False)
    theirs = dict(zip(exact.bus.name, exact.res_bus.vm_pu, strict=True))
    for bus in grid.buses:
        assert ours.vm_pu[bus] == pytest.approx(theirs[bus], abs=1e-6), bus
    np.testing.assert_allclose(ours.line_loading_percent, exact.res_line.loading_percent, atol=1e-4)
    assert ours.losses_kw == pytest.approx(
        1000 * (exact.res_line.pl_mw.sum() + exact.res_trafo.pl_mw.sum()), abs=1e-4
    )
    # With its no-load losses the transformer moves voltages by a few 1e-5 pu only.
    pp.runpp(net, numba=False)
    full = dict(zip(net.bus.name, net.res_bus.vm_pu, strict=True))
    assert max(abs(ours.vm_pu[b] - full[b]) for b in grid.buses) < 1e-4

    # LinDistFlow within budget on this high-PV state and on the idle feeder.
    assert ours.voltage_error is not None
    assert ours.voltage_error.max_abs_pu < 0.005
    idle = ac_check(grid, {}, lindistflow(grid, {}).vm_pu)
    assert idle.voltage_error is not None
    assert idle.voltage_error.max_abs_pu < 1e-4


def test_switches_and_out_of_service_elements(nets) -> None:
    net = copy.deepcopy(nets["1-LV-rural1--0-sw"])
    degree = np.bincount(np.r_[net.line.from_bus, net.line.to_bus])
    # A house at the end of a feeder: drop its line by opening its switch.
    leaf = next(int(b) for b in net.load.bus if degree[b] == 1)
    line = int(net.line.index[(net.line.from_bus == leaf) | (net.line.to_bus == leaf)][0])
    net.switch.loc[(net.switch.et == "l") & (net.switch.element == line), "closed"] = False
    base = feeder_from_net(nets["1-LV-rural1--0-sw"], "rural1", [SUNNY_DAY])
    cut = feeder_from_net(net, "rural1", [SUNNY_DAY])
    name = net.bus.name[leaf]
    assert cut.dropped_buses == (name,)
    assert name not in cut.grid.buses
    assert len(cut.grid.lines) == len(base.grid.lines) - 1
    assert {u.name for u in base.units} - {u.name for u in cut.units} == set(
        net.load.name[net.load.bus == leaf]
    ) | set(net.sgen.name[net.sgen.bus == leaf])
    # The same by taking the line out of service; a load out of service disappears too.
    net.switch["closed"] = True
    net.line.loc[line, "in_service"] = False
    assert feeder_from_net(net, "rural1").dropped_buses == (name,)
    other = net.load.index[net.load.bus != leaf][0]
    net.load.loc[other, "in_service"] = False
    units = {u.name for u in feeder_from_net(net, "rural1").units}
    assert units == {u.name for u in cut.units} - {net.load.name[other]}


def test_loops_make_a_meshed_grid_and_bad_nets_are_refused(nets) -> None:
    net = copy.deepcopy(nets["1-LV-rural1--0-sw"])
    lv = [int(b) for b in net.bus.index if net.bus.vn_kv[b] < 1]
    pp.create_line(net, lv[0], lv[-1], 0.05, "NAYY 4x150 SE")
    feeder = feeder_from_net(net, "loop")
    assert feeder.grid.meshed
    with pytest.raises(InvalidInput, match="meshed"):
        lindistflow(feeder.grid, {})
    pp.create_switch(net, lv[0], lv[1], et="b", closed=True)
    with pytest.raises(InvalidInput, match="bus-bus switches"):
        feeder_from_net(net, "loop")
    net = copy.deepcopy(nets["1-LV-rural1--0-sw"])
    net.switch.loc[net.switch.et == "t", "closed"] = False
    with pytest.raises(InvalidInput, match="exactly one transformer"):
        feeder_from_net(net, "open")


def test_codes_and_a_missing_simbench(monkeypatch: pytest.MonkeyPatch) -> None:
    assert simbench_code("simbench:1-LV-rural1--0-sw") == "1-LV-rural1--0-sw"
    with pytest.raises(InvalidInput, match="needs a code"):
        simbench_code("simbench:")
    with pytest.raises(InvalidInput, match="unknown SimBench code"):
        simbench_feeder("simbench:1-LV-nowhere--0-sw")
    monkeypatch.setitem(sys.modules, "simbench", None)
    with pytest.raises(InvalidInput, match=r"install voisin\[simbench\]"):
        simbench_feeder("simbench:1-LV-rural1--0-sw")
