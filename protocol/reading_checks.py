"""What a meter reading must satisfy to be a measurement: the one rule, for every stage.

The meter (``meters.Meter``) signs readings that satisfy it; the operator refuses
those that do not (``Operator.submit_reading``), in the live market and in
``voisin simulate`` alike.
"""

from __future__ import annotations

import math

from voisin.errors import InvalidInput
from voisin.protocol.readings import MeterReading

RESOLUTION_KWH = 0.001
"""Meters register whole watt-hours; readings are rounded to this before signing."""
CONNECTION_MAX_KW = 400.0
"""The largest connection a member of a low-voltage feeder has (a 400 kW supply, above
any home, school or shop there): what no meter register can exceed over an interval."""


def reading_fault(reading: MeterReading, max_kwh: float = math.inf) -> InvalidInput | None:
    """Why ``reading`` cannot be what a meter measured in one interval, or None.

    Every value within ``max_kwh`` (the connection's rating over the interval), the
    flows at the connection point balancing what the house made, used and stored, energy
    crossing it one way only, and no export without PV or battery discharge to feed it
    (all to the meter's resolution). Codes: ``beyond-rating``, ``unbalanced-reading``,
    ``import-and-export``, ``export-without-source``.
    """
    values = {
        "pv_kwh": reading.pv_kwh,
        "load_kwh": reading.load_kwh,
        "battery_kwh": abs(reading.battery_kwh),
        "import_kwh": reading.import_kwh,
        "export_kwh": reading.export_kwh,
    }
    for name, value in values.items():
        if not value <= max_kwh:
            return InvalidInput(
                f"meter reading: {name} {value:.6g} is beyond the meter's "
                f"rating of {max_kwh:.6g} kWh per interval",
                code="beyond-rating",
            )
    slack = RESOLUTION_KWH + 1e-9
    if reading.import_kwh > slack and reading.export_kwh > slack:
        return InvalidInput(
            "meter reading: import and export in one interval", code="import-and-export"
        )
    if reading.export_kwh > reading.pv_kwh + max(reading.battery_kwh, 0.0) + slack:
        return InvalidInput(
            f"meter reading: export {reading.export_kwh:.6g} kWh exceeds PV plus battery discharge",
            code="export-without-source",
        )
    made = reading.pv_kwh + reading.battery_kwh - reading.load_kwh
    if abs(made - reading.net_export_kwh) > slack:
        return InvalidInput(
            f"meter reading: PV + battery - load = {made:.6g} kWh, but the "
            f"connection point saw {reading.net_export_kwh:.6g} kWh",
            code="unbalanced-reading",
        )
    return None
