"""Every number of a scenario file is bounded and typed: a network charge, a tariff or
any other figure out of range (negative, NaN, infinite, huge, text or a boolean where a
number belongs) is one ``InvalidInput`` line naming the field, exit 2 from the CLI,
never a traceback; and a hypothesis property over every numeric field of a full file
(listed member with every device, custom grid) says any value loads or is refused so.
"""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.agents.scenario_build import build_scenario
from voisin.agents.scenario_file import read_scenario
from voisin.cli.main import main
from voisin.errors import InvalidInput

FULL: dict[str, Any] = {
    "generated": False,
    "run": {"seed": 7, "households": 2, "days": 1, "minutes": 60, "gift_share": 0.3},
    "site": {"latitude": 45.76, "longitude": 4.84, "altitude_m": 170.0},
    "grid": {
        "custom": {
            "root": "T",
            "buses": ["T", "H"],
            "lines": [{"from": "T", "to": "H", "capacity_kwh": 5.0}],
            "import_price_eur_per_kwh": 0.3,
            "export_price_eur_per_kwh": 0.05,
        }
    },
    "network": {
        "preset": "fr-acc",
        "local_network_eur_per_kwh": 0.03,
        "levies_eur_per_kwh": 0.03,
        "fixed_eur_per_day": 0.35,
    },
    "tariffs": {
        "household": {
            "import_eur_per_kwh": 0.28,
            "export_eur_per_kwh": 0.08,
            "local_network_eur_per_kwh": 0.02,
            "levies_eur_per_kwh": 0.03,
            "fixed_eur_per_day": 1.2,
        },
        "school": {"import_eur_per_kwh": 0.25, "export_eur_per_kwh": 0.08},
    },
    "members": [
        {
            "name": "home",
            "bus": "H",
            "annual_kwh": 4200.0,
            "base_share": 0.25,
            "pv_kwp": 6.0,
            "tilt_deg": 35.0,
            "azimuth_deg": 200.0,
            "battery": {
                "capacity_kwh": 10.0,
                "power_kw": 5.0,
                "efficiency": 0.9,
                "initial_soc_kwh": 1.0,
            },
            "water_heater": {"power_kw": 3.0, "kwh_per_day": 6.0, "start_hour": 22.0},
            "heat_pump": {
                "annual_heat_kwh": 8000.0,
                "max_power_kw": 3.0,
                "base_temperature_c": 15.0,
                "sink_temperature_c": 35.0,
                "comfort_min_c": 19.0,
                "comfort_max_c": 22.0,
                "setpoint_c": 20.0,
                "time_constant_h": 40.0,
            },
            "ev": {"kwh": 10.0, "power_kw": 7.4, "arrival_hour": 18.0, "deadline_hour": 7.0},
        }
    ],
}


def _literal(value: Any) -> str:
    """``value`` as a TOML literal (inline tables and arrays included)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "{ " + ", ".join(f'"{k}" = {_literal(v)}' for k, v in value.items()) + " }"


def _toml(data: dict[str, Any]) -> str:
    """Top-level keys, then each table (``grid.custom`` as a sub-table), then members."""
    lines = [f'"{k}" = {_literal(v)}' for k, v in data.items() if not isinstance(v, dict | list)]
    for name, table in data.items():
        if not isinstance(table, dict):
            continue
        subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
        lines.append(f'["{name}"]')
        lines += [f'"{k}" = {_literal(v)}' for k, v in table.items() if k not in subtables]
        for sub, values in subtables.items():
            lines.append(f'["{name}"."{sub}"]')
            lines += [f'"{k}" = {_literal(v)}' for k, v in values.items()]
    for member in data.get("members", []):
        lines.append('[["members"]]')
        lines += [f'"{k}" = {_literal(v)}' for k, v in member.items()]
    return "\n".join(lines) + "\n"


def _numbers(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every number in ``data``."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _numbers(v, (*at, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _numbers(v, (*at, i))]
    return [at] if isinstance(data, int | float) and not isinstance(data, bool) else []


def _with(data: dict[str, Any], changes: dict[tuple[Any, ...], Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for path, value in changes.items():
        place = out
        for key in path[:-1]:
            place = place[key]
        place[path[-1]] = value
    return out


def _load(folder: Path, data: dict[str, Any]) -> None:
    file = folder / "s.toml"
    file.write_text(_toml(data))
    build_scenario(read_scenario(file))


NUMBERS = _numbers(FULL)
ODD = st.one_of(
    st.floats(),  # NaN, infinities, subnormals, -0.0, 1e308
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1.0, 0.0, 1e3, 1e3 + 1e-9, 1e6, 1e30, 2.0**63, 1e-300]),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.floats(allow_nan=False), max_size=2),
)


def test_the_full_file_loads(tmp_path: Path) -> None:
    _load(tmp_path, FULL)
    assert len(NUMBERS) > 40


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(NUMBERS), ODD, min_size=1, max_size=3))
def test_any_number_anywhere_loads_or_is_one_invalid_input_line(
    changes: dict[tuple[Any, ...], Any],
) -> None:
    refused = ""
    with tempfile.TemporaryDirectory() as folder:
        try:
            _load(Path(folder), _with(FULL, changes))
        except InvalidInput as exc:  # anything else fails the test with its traceback
            refused = str(exc)
    assert "\n" not in refused, refused


NETWORK_FIELDS = [
    ("network", "local_network_eur_per_kwh"),
    ("network", "levies_eur_per_kwh"),
    ("network", "fixed_eur_per_day"),
    ("tariffs", "household", "local_network_eur_per_kwh"),
    ("tariffs", "household", "levies_eur_per_kwh"),
    ("tariffs", "household", "fixed_eur_per_day"),
    ("tariffs", "household", "import_eur_per_kwh"),
    ("tariffs", "school", "export_eur_per_kwh"),
]


@pytest.mark.parametrize("field", NETWORK_FIELDS, ids=".".join)
@pytest.mark.parametrize(
    "value", [-0.01, math.nan, math.inf, -math.inf, 1e308, 1001, "0.1", True, [0.1]], ids=repr
)
def test_a_charge_or_tariff_out_of_range_names_its_field(
    tmp_path: Path, field: tuple[str, ...], value: object
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _load(tmp_path, _with(FULL, {field: value}))
    assert ".".join(field) in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (  # each within the bound, together beyond it
            {("network", "local_network_eur_per_kwh"): 600, ("network", "levies_eur_per_kwh"): 600},
            "network: Value error, local_network_eur_per_kwh + levies_eur_per_kwh = 1200",
        ),
        (  # the tariff's own levies over the preset's network charge
            {
                ("tariffs", "household", "local_network_eur_per_kwh"): 999,
                ("tariffs", "household", "levies_eur_per_kwh"): 999,
            },
            "tariffs.household: local_network_eur_per_kwh + levies_eur_per_kwh = 1998",
        ),
        (  # within every bound, but wider than the feeder's price gap
            {("network", "levies_eur_per_kwh"): 0.5},
            "network: local charge 0.5300 EUR/kWh",
        ),
        (
            {("tariffs", "household", "levies_eur_per_kwh"): 0.5},
            "tariffs.household: local charge 0.5200 EUR/kWh",
        ),
        (  # bands in the wrong order: feed-in above retail
            {("tariffs", "school", "export_eur_per_kwh"): 0.3},
            "tariffs.school: Value error, feed-in tariff above the retail tariff",
        ),
    ],
)
def test_charges_that_do_not_fit_together_are_named(
    tmp_path: Path, changes: dict[tuple[Any, ...], Any], says: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _load(tmp_path, _with(FULL, changes))
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_simulate_refuses_a_bad_charge_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(_toml(_with(FULL, {("network", "fixed_eur_per_day"): 1e308})))
    out = tmp_path / "out"
    assert main(["simulate", "--scenario", str(scenario), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "network.fixed_eur_per_day" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not out.exists()


AT_THE_CONNECTION = {  # feeds 200 + 200 kW, draws 200 + 100 + 50 + 50 kW: 400 each
    ("members", 0, "pv_kwp"): 200.0,
    ("members", 0, "battery", "power_kw"): 200.0,
    ("members", 0, "battery", "capacity_kwh"): 800.0,
    ("members", 0, "ev", "power_kw"): 100.0,
    ("members", 0, "heat_pump", "max_power_kw"): 50.0,
    ("members", 0, "water_heater", "power_kw"): 50.0,
}


def _simulate(tmp_path: Path, changes: dict[tuple[Any, ...], Any]) -> tuple[int, Path]:
    scenario = tmp_path / "s.toml"
    scenario.write_text(_toml(_with(FULL, changes)))
    out = tmp_path / "out"
    return main(["simulate", "--scenario", str(scenario), "--out", str(out), "--quiet"]), out


@pytest.mark.slow
def test_a_member_at_its_connection_runs_and_is_billed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Devices that together feed in and draw exactly the largest connection
    (``scenario_file.MAX_MEMBER_KW``, 400 kW): the day runs, every reading is accepted
    (none estimated), the ledger verifies, and no bid count goes negative (a refused
    reading was once counted as a refused bid: "-24 / 48")."""
    code, out = _simulate(tmp_path, AT_THE_CONNECTION)
    said = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "estimated meter readings │ 0 " in said
    accepted = said.split("bids accepted / rejected │ ")[1].split(" /")[0]
    assert int(accepted.replace(",", "")) >= 0
    assert main(["ledger", "verify", str(out)]) == 0


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({("members", 0, "pv_kwp"): 1e308}, "members.0.pv_kwp"),
        ({**AT_THE_CONNECTION, ("members", 0, "pv_kwp"): 200.5}, "PV and battery feed in"),
        ({**AT_THE_CONNECTION, ("members", 0, "ev", "power_kw"): 101.0}, "its devices draw"),
        # within every field's bound, but its appliances draw megawatts: refused when its
        # meter reads it, not settled as estimated (it paid nothing)
        ({("members", 0, "annual_kwh"): 3_504_000.0}, "beyond-rating"),
    ],
    ids=["huge", "feeds", "draws", "annual use"],
)
def test_a_member_beyond_its_connection_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[tuple[Any, ...], Any],
    says: str,
) -> None:
    code, out = _simulate(tmp_path, changes)
    err = capsys.readouterr().err
    assert code == 2
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not out.exists()
