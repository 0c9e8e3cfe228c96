"""The grid data model: transport files keep their bytes, physical lines resolve their
cable types, and the two kinds never mix."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandapower as pp
import pytest
from pydantic import ValidationError

from voisin.market import grid_hash
from voisin.market.network import Network
from voisin.protocol import Grid
from voisin.protocol.cables import CABLE_TYPES, TRANSFORMER_TYPES

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "clearing"


def _physical(**extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "root": "R",
        "buses": ["R", "A", "B"],
        "lines": [
            {"from": "R", "to": "A", "length_km": 0.2, "std_type": "NAYY 4x150 SE"},
            {
                "from": "A",
                "to": "B",
                "length_km": 0.1,
                "r_ohm_per_km": 0.642,
                "x_ohm_per_km": 0.083,
                "max_i_ka": 0.142,
            },
        ],
        "import_price_eur_per_kwh": 0.3,
        "export_price_eur_per_kwh": 0.05,
        "transformer": {"std_type": "0.4 MVA 20/0.4 kV"},
    }
    data.update(extra)
    return data


def test_transport_files_keep_their_bytes_and_hash() -> None:
    for path in sorted(CASES.glob("*.json")):
        raw = json.loads(path.read_text())["grid"]
        grid = Grid.model_validate(raw)
        assert not grid.physical
        assert grid.model_dump(mode="json", by_alias=True) == raw, path.name
        assert grid_hash(Grid.model_validate(grid.model_dump(by_alias=True))) == grid_hash(grid)


def test_physical_lines_resolve_their_type_and_length() -> None:
    grid = Grid.model_validate(_physical())
    assert grid.physical
    first, second = grid.lines
    assert first.r_ohm == pytest.approx(0.208 * 0.2)
    assert first.x_ohm == pytest.approx(0.080 * 0.2)
    assert first.rated_i_ka == 0.270
    assert second.r_ohm == pytest.approx(0.642 * 0.1)
    physics = Network.of(grid).physics
    assert physics is not None
    # Rated at the band's lowest voltage, 0.95 pu of 0.4 kV: sqrt(3) * 0.38 kV * 270 A.
    assert physics.line_s_max_kva[0] == pytest.approx(math.sqrt(3) * 0.38 * 270)
    r, x = grid.transformer.impedance_ohm()  # type: ignore[union-attr]
    base = 0.4**2 / 0.4  # ohm on the LV side of a 400 kVA unit
    assert r == pytest.approx(0.01425 * base)
    assert math.hypot(r, x) == pytest.approx(0.06 * base)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "lines": [
                    {"from": "R", "to": "A", "capacity_kwh": 5},
                    {"from": "A", "to": "B", "length_km": 0.1, "std_type": "NAYY 4x50 SE"},
                ]
            },
            "must all be physical",
        ),
        (
            {
                "lines": [
                    {"from": "R", "to": "A", "length_km": 0.1, "std_type": "NAYY 9x9"},
                    {"from": "A", "to": "B", "length_km": 0.1, "std_type": "NAYY 4x50 SE"},
                ]
            },
            "unknown std_type",
        ),
        (
            {
                "lines": [
                    {"from": "R", "to": "A", "length_km": 0.1, "r_ohm_per_km": 0.2},
                    {"from": "A", "to": "B", "length_km": 0.1, "std_type": "NAYY 4x50 SE"},
                ]
            },
            "needs r_ohm_per_km",
        ),
        ({"transformer_capacity_kwh": 40}, "sn_kva"),
        ({"v_min_pu": 1.06}, "below v_max_pu"),
        ({"bus_band_pu": {"Z": [0.9, 1.1]}}, "unknown bus"),
        ({"vn_kv": 20.0}, "does not match"),
    ],
)
def test_inconsistent_grids_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Grid.model_validate(_physical(**change))


def test_cable_and_transformer_tables_agree_with_pandapower() -> None:
    net = pp.create_empty_network()
    lines = pp.available_std_types(net, "line")
    for name, cable in CABLE_TYPES.items():
        row = lines.loc[name]
        assert (cable.r_ohm_per_km, cable.x_ohm_per_km, cable.c_nf_per_km, cable.max_i_ka) == (
            pytest.approx(row.r_ohm_per_km),
            pytest.approx(row.x_ohm_per_km),
            pytest.approx(row.c_nf_per_km),
            pytest.approx(row.max_i_ka),
        ), name
    trafos = pp.available_std_types(net, "trafo")
    for name, unit in TRANSFORMER_TYPES.items():
        row = trafos.loc[name]
        assert unit.sn_kva == pytest.approx(row.sn_mva * 1000), name
        assert (
            unit.vn_hv_kv,
            unit.vn_lv_kv,
            unit.vk_percent,
            unit.vkr_percent,
            unit.tap_step_percent,
        ) == (
            pytest.approx(row.vn_hv_kv),
            pytest.approx(row.vn_lv_kv),
            pytest.approx(row.vk_percent),
            pytest.approx(row.vkr_percent),
            pytest.approx(row.tap_step_percent),
        ), name
