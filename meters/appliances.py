"""A home's appliances: which it owns, how often each runs and how much it draws.

The appliance table is Richardson et al. 2010 ("Domestic electricity use: a
high-resolution energy demand model", Energy and Buildings 42, 1878-1887), as shipped
with the ``richardsonpy`` package (``inputs/Appliances.csv``): per appliance the share
of dwellings that own it, cycles per year, mean cycle length (min), mean cycle power and
standby power (W). We read the table only. Water and space heating rows are left out:
voisin models those as their own devices (:mod:`voisin.meters.heating`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

_SKIPPED_CATEGORIES = ("Water heating", "Electric Space Heating")
_COLD = "Cold"


@dataclass(frozen=True)
class Appliance:
    name: str
    owned_share: float
    cycles_per_year: float
    cycle_minutes: float
    power_kw: float
    standby_kw: float
    cold: bool
    """Fridges and freezers cycle all day, whatever the household does."""

    @property
    def cycle_kwh(self) -> float:
        return self.power_kw * self.cycle_minutes / 60.0


@lru_cache(maxsize=1)
def appliance_table() -> tuple[Appliance, ...]:
    path = files("richardsonpy") / "inputs" / "Appliances.csv"
    out = []
    category = ""
    with path.open(newline="", encoding="utf-8") as handle:  # type: ignore[call-overload]  # a real Path: takes newline
        rows = csv.reader(handle, delimiter=";")
        next(rows)
        for row in rows:
            category = row[0] or category
            if category in _SKIPPED_CATEGORIES:
                continue
            out.append(
                Appliance(
                    name=row[1],
                    owned_share=float(row[3]),
                    cycles_per_year=float(row[4]),
                    cycle_minutes=float(row[5]),
                    power_kw=float(row[6]) / 1000.0,
                    standby_kw=float(row[7]) / 1000.0,
                    cold=category == _COLD,
                )
            )
    return tuple(out)


def owned_appliances(rng: np.random.Generator) -> tuple[Appliance, ...]:
    """A home's appliance set: each owned with the table's share of dwellings; at least
    one cold appliance (every home has a fridge)."""
    table = appliance_table()
    owned = [a for a in table if rng.random() < a.owned_share]
    if not any(a.cold for a in owned):
        owned.append(next(a for a in table if a.name == "Fridge freezer"))
    return tuple(owned)
