"""The sun and the clear sky over one place, from pvlib, with the slow lookups done once.

pvlib's Ineichen clear sky reads the Linke turbidity climatology (a 15 MB HDF5 file) on
every call; a ``Sky`` looks up the twelve monthly values of its place once and
interpolates them by day of year, as pvlib does.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import pvlib


class Sky:
    """Solar position and Ineichen clear-sky irradiance (W/m2) at a latitude/longitude."""

    def __init__(self, latitude: float, longitude: float, altitude_m: float) -> None:
        self.location = pvlib.location.Location(latitude, longitude, tz="UTC", altitude=altitude_m)

    @cached_property
    def _linke_monthly(self) -> np.ndarray:
        months = pd.DatetimeIndex([f"2010-{m:02d}-15" for m in range(1, 13)])
        return np.asarray(
            pvlib.clearsky.lookup_linke_turbidity(
                months, self.location.latitude, self.location.longitude, interp_turbidity=False
            ),
            dtype=float,
        )

    def linke_turbidity(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Monthly climatology interpolated to mid-months, as pvlib's own lookup does."""
        mid = np.array(
            [15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5]
        )
        doy = times.dayofyear.to_numpy() + (times.hour.to_numpy() / 24.0)
        return np.asarray(
            np.interp(
                doy,
                np.r_[mid[-1] - 365, mid, mid[0] + 365],
                np.r_[self._linke_monthly[-1], self._linke_monthly, self._linke_monthly[0]],
            )
        )

    def sun(self, times: pd.DatetimeIndex) -> pd.DataFrame:
        return self.location.get_solarposition(times)

    def clear_sky(self, times: pd.DatetimeIndex, sun: pd.DataFrame | None = None) -> pd.DataFrame:
        """ghi, dni, dhi under a clear sky (W/m2)."""
        sun = self.sun(times) if sun is None else sun
        return self.location.get_clearsky(
            times,
            solar_position=sun,
            linke_turbidity=pd.Series(self.linke_turbidity(times), index=times),
        )
