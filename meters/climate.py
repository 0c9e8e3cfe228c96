"""Typical-year climates that ship offline, as hourly clear-sky index, temperature and wind.

The weather model (:mod:`voisin.meters.weather`) resamples days of a reference year, so
its statistics per month are those of a documented source. The sources that install
with voisin's dependencies:

- ``mannheim``: DWD Test Reference Year 2010, region 12 (Oberrheingraben), station
  Mannheim 49.52 N 8.55 E, "mittleres Jahr" built from observations 1988-2007;
- ``essen``: the same for region 5 (Niederrheinische Bucht), station Essen 51.40 N 6.97 E.

Both files come with the ``richardsonpy`` package (``inputs/weather/TRY2010_*_Jahr.dat``);
we only read them. Radiation in a TRY is the mean of the hour ending at ``HH`` in true
solar time, temperature and wind are at the hour ``HH`` (CET). The clear-sky index of an
hour is its global horizontal irradiance over pvlib's Ineichen clear sky at the station
(Ineichen and Perez 2002, Linke turbidity from pvlib's climatology).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np
import pandas as pd

from voisin.errors import InvalidInput
from voisin.meters.sky import Sky

HOURS = 8760
DAYS = 365
MIN_CLEAR_SKY_W_M2 = 20.0
"""Below this clear-sky irradiance an hour's index is noise; the day's mean replaces it."""
MAX_INDEX = 1.2
"""Cloud enhancement lifts an hour above the clear sky, rarely by more than this."""


@dataclass(frozen=True)
class Climate:
    """A reference year: per day (365) and solar hour (24) the clear-sky index, plus
    temperature (C) and wind (m/s) per day and clock hour (UTC)."""

    name: str
    source: str
    latitude: float
    longitude: float
    altitude_m: float
    index: np.ndarray
    """Clear-sky index [day, solar hour]: hour k is solar time k to k+1."""
    daily_index: np.ndarray
    """Clear-sky index of each day (its irradiation over the clear sky's)."""
    diffuse_fraction: np.ndarray
    """Diffuse share of global irradiance [day, solar hour] (measured beam/diffuse split)."""
    temperature_c: np.ndarray
    wind_m_s: np.ndarray

    def monthly_index(self) -> np.ndarray:
        """Mean daily clear-sky index of each month (12 values), the profile forecast's."""
        months = pd.date_range("2010-01-01", periods=DAYS, freq="D").month.to_numpy()
        return np.array([self.daily_index[months == m].mean() for m in range(1, 13)])


_SOURCES = {
    "mannheim": ("TRY2010_12_Jahr.dat", "DWD Test Reference Year 2010, region 12, Mannheim"),
    "essen": ("TRY2010_05_Jahr.dat", "DWD Test Reference Year 2010, region 5, Essen"),
}
CLIMATES = tuple(_SOURCES)


def _station(header: list[str]) -> tuple[float, float, float]:
    """Latitude, longitude and altitude from a TRY header line such as
    ``Lage: 49°31'N <- B.   8°33'O <- L.    96 Meter ueber NN``."""
    for line in header:
        if line.startswith("Lage:"):
            lat_d, lat_m, lon_d, lon_m, altitude = (int(n) for n in re.findall(r"\d+", line))
            return lat_d + lat_m / 60, lon_d + lon_m / 60, float(altitude)
    raise InvalidInput("TRY file has no 'Lage:' line with the station", code="bad-climate")


def read_dwd_try(text: str) -> tuple[tuple[float, float, float], np.ndarray]:
    """Station and the 8760 x 19 value table of a DWD TRY 2010 file (``.dat``)."""
    lines = text.splitlines()
    try:
        first = next(i for i, line in enumerate(lines) if line.split()[:2] == ["RG", "IS"])
    except StopIteration:
        raise InvalidInput(
            "TRY file has no 'RG IS MM ...' table header", code="bad-climate"
        ) from None
    rows = [line.split() for line in lines[first + 1 :] if line.strip() and line[:3] != "***"]
    table = np.array(rows, dtype=float)
    # The table opens with the hour before the year (31.12. 24:00); drop it.
    table = table[np.flatnonzero((table[:, 2] == 1) & (table[:, 3] == 1))[0] :]
    if table.shape != (HOURS, 19):
        raise InvalidInput(
            f"TRY table is {table.shape}, expected {HOURS} hours x 19", code="bad-climate"
        )
    return _station(lines[:first]), table


def _solar_hours_utc(longitude: float) -> pd.DatetimeIndex:
    """UTC midpoints of the 8760 true-solar-time hours of the reference year (2010)."""
    doy = np.repeat(np.arange(1, DAYS + 1), 24)
    solar_mid_h = np.tile(np.arange(24) + 0.5, DAYS)
    eot_min = _equation_of_time_min(doy)
    utc_h = (doy - 1) * 24 + solar_mid_h - longitude / 15.0 - eot_min / 60.0
    return pd.DatetimeIndex(pd.Timestamp("2010-01-01", tz="UTC") + pd.to_timedelta(utc_h, "h"))


def _equation_of_time_min(doy: np.ndarray) -> np.ndarray:
    import pvlib

    return np.asarray(pvlib.solarposition.equation_of_time_spencer71(doy), dtype=float)


@lru_cache(maxsize=8)
def climate(name: str) -> Climate:
    """The named reference year (cached; reading and indexing one takes about 0.1 s)."""
    if name not in _SOURCES:
        raise InvalidInput(
            f"unknown climate {name!r}; use one of {', '.join(CLIMATES)}", code="bad-climate"
        )
    filename, source = _SOURCES[name]
    path = files("richardsonpy") / "inputs" / "weather" / filename
    (lat, lon, alt), table = read_dwd_try(path.read_text(encoding="latin-1"))
    ghi = (table[:, 13] + table[:, 14]).reshape(DAYS, 24)
    sky = Sky(lat, lon, alt)
    clear = sky.clear_sky(_solar_hours_utc(lon))["ghi"].to_numpy().reshape(DAYS, 24)
    daily = ghi.sum(axis=1) / np.maximum(clear.sum(axis=1), 1e-9)
    hourly = np.where(clear >= MIN_CLEAR_SKY_W_M2, ghi / np.maximum(clear, 1e-9), daily[:, None])
    diffuse = table[:, 14].reshape(DAYS, 24)
    day_diffuse = diffuse.sum(axis=1) / np.maximum(ghi.sum(axis=1), 1e-9)
    fraction = np.where(
        ghi >= MIN_CLEAR_SKY_W_M2, diffuse / np.maximum(ghi, 1e-9), day_diffuse[:, None]
    )
    return Climate(
        name=name,
        source=source,
        latitude=lat,
        longitude=lon,
        altitude_m=alt,
        index=np.clip(hourly, 0.0, MAX_INDEX),
        daily_index=np.clip(daily, 0.0, MAX_INDEX),
        diffuse_fraction=np.clip(np.where(ghi.sum(axis=1)[:, None] > 0, fraction, 1.0), 0.0, 1.0),
        temperature_c=table[:, 8].reshape(DAYS, 24),
        wind_m_s=table[:, 7].reshape(DAYS, 24),
    )


def hourly_frame(name: str) -> pd.DataFrame:
    """The reference year as pvlib weather (UTC index; ghi, dni, dhi W/m2, temp_air C,
    wind_speed m/s), to run a ModelChain on the source itself."""
    filename, _ = _SOURCES[name]
    path = files("richardsonpy") / "inputs" / "weather" / filename
    (lat, lon, alt), table = read_dwd_try(path.read_text(encoding="latin-1"))
    times = _solar_hours_utc(lon)
    sky = Sky(lat, lon, alt)
    zenith = sky.sun(times)["zenith"].to_numpy()
    direct_h, diffuse = table[:, 13], table[:, 14]
    cos_z = np.cos(np.radians(zenith))
    dni = np.where(cos_z > 0.065, direct_h / np.maximum(cos_z, 0.065), 0.0)
    frame = pd.DataFrame({"ghi": direct_h + diffuse, "dni": dni, "dhi": diffuse}, index=times)
    # Temperature and wind are at clock hours (CET, hour ending): put them on the same rows.
    frame["temp_air"] = table[:, 8]
    frame["wind_speed"] = table[:, 7]
    return frame
