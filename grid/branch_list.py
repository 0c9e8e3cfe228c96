"""Feeders written as a plain branch list (the field's test-feeder format) as voisin grids.

The known-answer feeders in ``shared/testdata/distflow`` (Baran-Wu 33 and the like) give
each line's *total* series resistance and reactance in ohm, a slack bus and its voltage,
and loads in kW/kvar. A voisin physical line has per-km values and a length, so each
branch becomes a 1 km line with per-km values equal to its totals; lines marked
``in_service: false`` (open tie switches) are dropped, and the thermal rating, which the
format does not give, is set so high that it never binds. The voltage band is voisin's
default planning band (the format states none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from voisin.errors import InvalidInput
from voisin.protocol import Grid

UNBOUNDED_I_KA = 100.0
"""Thermal rating given to lines whose rating the format leaves out (never binds)."""


def grid_from_branch_list(
    data: Mapping[str, Any],
    *,
    import_price_eur_per_kwh: float = 0.30,
    export_price_eur_per_kwh: float = 0.05,
) -> tuple[Grid, dict[str, tuple[float, float]]]:
    """The grid and its loads as injections (bus -> (p_kw, q_kvar), loads negative).

    ``data`` holds ``vn_kv``, ``slack_bus``, ``slack_vm_pu`` (default 1.0), ``lines``
    (``from``, ``to``, ``r_ohm``, ``x_ohm``, optional ``in_service``) and ``loads``
    (``bus``, ``p_kw``, ``q_kvar``). The slack bus is the root; there is no transformer.
    """
    try:
        lines = [ln for ln in data["lines"] if ln.get("in_service", True)]
        buses: list[str] = [data["slack_bus"]]
        for line in lines:
            for end in (line["from"], line["to"]):
                if end not in buses:
                    buses.append(end)
        grid = Grid.model_validate(
            {
                "root": data["slack_bus"],
                "buses": buses,
                "lines": [
                    {
                        "from": ln["from"],
                        "to": ln["to"],
                        "length_km": 1.0,
                        "r_ohm_per_km": ln["r_ohm"],
                        "x_ohm_per_km": ln["x_ohm"],
                        "max_i_ka": UNBOUNDED_I_KA,
                    }
                    for ln in lines
                ],
                "vn_kv": data["vn_kv"],
                "slack_vm_pu": data.get("slack_vm_pu", 1.0),
                "import_price_eur_per_kwh": import_price_eur_per_kwh,
                "export_price_eur_per_kwh": export_price_eur_per_kwh,
            }
        )
        injections: dict[str, tuple[float, float]] = {}
        for load in data.get("loads", []):
            p_kw, q_kvar = injections.get(load["bus"], (0.0, 0.0))
            injections[load["bus"]] = (p_kw - float(load["p_kw"]), q_kvar - float(load["q_kvar"]))
    except (KeyError, TypeError, ValueError) as exc:  # ValidationError is a ValueError
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else repr(exc)
        raise InvalidInput(f"not a branch-list feeder: {detail}", code="bad-grid") from exc
    return grid, injections
