"""Calibration tables for docs/neighbourhood.md (not a timing benchmark).

1. Monthly PV yield (kWh/kWp, south 30 deg) of the seeded weather at the Mannheim TRY
   station, mean of SEEDS years, against pvlib's ModelChain on the TRY itself; and the
   same model at Lyon (Lyon's sun, Mannheim's clouds; no offline source for Lyon).
2. The default neighbourhood's households over a year: annual energy against the
   configured consumption, and the distribution of their annual 15-minute peaks.

Run: python benchmarks/calibration.py
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from voisin.agents import default_neighbourhood
from voisin.meters import LYON
from voisin.meters.calibration import seasonal_yields
from voisin.meters.homes import Home

SEEDS = range(10)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def pv_table() -> None:
    station = seasonal_yields("mannheim", SEEDS)
    lyon = seasonal_yields("mannheim", SEEDS, site=LYON)
    print("| month | TRY Mannheim (source) | model, Mannheim | ratio | model, Lyon |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = zip(MONTHS, station.source_kwh_per_kwp, station.model_mean, lyon.model_mean, strict=True)
    for month, src, mod, ly in rows:
        print(f"| {month} | {src:.1f} | {mod:.1f} | {mod / src:.2f} | {ly:.1f} |")
    src, mod, ly = (
        station.source_kwh_per_kwp.sum(),
        station.model_mean.sum(),
        lyon.model_mean.sum(),
    )
    spread = station.model_kwh_per_kwp.sum(axis=1)
    print(
        f"| year | {src:.0f} | {mod:.0f} (seeds {spread.min():.0f}-{spread.max():.0f}) "
        f"| {mod / src:.2f} | {ly:.0f} |"
    )


def household_table() -> None:
    scenario = default_neighbourhood()
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    peaks, errors = [], []
    for member in scenario.members:
        if member.load_profile != "h0":
            continue
        home = Home(member.annual_kwh, 7, member.stream)
        kw = np.concatenate([home.minute_kw(d) for d in days])
        errors.append(kw.sum() / 60 / member.annual_kwh - 1)
        peaks.append(kw.reshape(-1, 15).mean(axis=1).max())
    q = np.percentile(peaks, [0, 10, 50, 90, 100])
    print(
        f"\n{len(peaks)} homes, 2026: annual energy off by at most "
        f"{max(abs(e) for e in errors):.2%} of the configured consumption"
    )
    print("| annual 15-min peak | min | p10 | median | p90 | max |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print("| kW | " + " | ".join(f"{v:.1f}" for v in q) + " |")


if __name__ == "__main__":
    pv_table()
    household_table()
