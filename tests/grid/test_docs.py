"""docs/grid.md's example grid file loads as written and runs through both power flows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from voisin.grid import ac_check, lindistflow
from voisin.protocol import Grid

DOC = Path(__file__).resolve().parents[2] / "docs" / "grid.md"


def test_the_documented_grid_file_is_a_physical_grid() -> None:
    (block,) = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    raw = json.loads(block)
    grid = Grid.model_validate(raw)
    assert grid.physical
    written = grid.model_dump(mode="json", by_alias=True)
    assert Grid.model_validate(written) == grid
    # Fields at their default are left out; transformer_capacity_kwh is written as null
    # (transport files carry it so, and their bytes are kept).
    assert {k: v for k, v in written.items() if k != "transformer_capacity_kwh"} == raw
    assert grid.band_pu("C") == (0.94, 1.06)
    state = {"B": (-8.0, -2.6), "C": (12.0, 0.0)}
    result = ac_check(grid, state, lindistflow(grid, state).vm_pu)
    # The tap of -2.5 % on a 1.02 pu upstream leaves the feeder near 0.995 pu.
    assert result.vm_pu["T"] == pytest.approx(1.02 * 0.975, abs=2e-3)
    assert result.violations == ()
    assert result.voltage_error is not None
    assert result.voltage_error.max_abs_pu < 1e-3
