"""Per-bus net injections: the one input every power flow of this package takes.

An injection is ``(p_kw, q_kvar)`` in the generator convention: positive into the grid
(PV, a discharging battery), negative out of it (a load). Buses not named inject nothing.
The root's own injection is allowed; the upstream grid (the slack) balances the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from voisin.errors import InvalidInput
from voisin.protocol import Grid

Injections = Mapping[str, tuple[float, float]]
"""Bus -> (p_kw, q_kvar), positive into the grid."""


def checked_injections(grid: Grid, injections: Injections) -> dict[str, tuple[float, float]]:
    """Every bus of ``grid`` with its finite injection (zero when not given).

    Raises ``InvalidInput`` for a bus the grid does not have or a non-finite value, so a
    power flow never runs on a silently dropped or NaN injection.
    """
    known = set(grid.buses)
    unknown = sorted(set(injections) - known)
    if unknown:
        raise InvalidInput(f"injection at unknown bus {unknown[0]!r}", code="bad-injection")
    out: dict[str, tuple[float, float]] = {}
    for bus in grid.buses:
        p_kw, q_kvar = injections.get(bus, (0.0, 0.0))
        if not (math.isfinite(p_kw) and math.isfinite(q_kvar)):
            raise InvalidInput(f"injection at bus {bus!r} is not finite", code="bad-injection")
        out[bus] = (float(p_kw), float(q_kvar))
    return out


def require_physical(grid: Grid, what: str) -> None:
    """Refuse a transport grid (energy limits only): there is no impedance to flow through."""
    if not grid.physical:
        raise InvalidInput(
            f"{what} needs a physical grid (lines with length and impedance); "
            "this one has transport lines (capacity_kwh)",
            code="not-physical",
        )
