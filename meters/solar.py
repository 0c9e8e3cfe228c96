"""PV output from a pvlib ModelChain, for each system's tilt and azimuth, under a sky.

The sky is a clear-sky index (1 = clear) per instant: global horizontal irradiance is
the index times Ineichen's clear sky. It is split into beam and diffuse by a diffuse
fraction when one is given (the weather model borrows the reference year's measured
split), by the Erbs model otherwise (Erbs, Klein and Duffie 1982, as a forecaster
would), and under no index at all the clear sky's own components are used. The
ModelChain then transposes to the plane of array (Perez et al. 1990), applies the
physical incidence-angle model, the SAPM cell temperature of a roof-mounted glass/glass
module (King et al. 2004) from air temperature and wind, PVWatts DC with -0.37 %/K,
PVWatts' default system losses (14 %) and a 96 % inverter.

Irradiance is sampled every ``SAMPLE_MINUTES`` inside each interval and averaged, so
the energy is right for 15-minute and hourly intervals alike. Results are per kWp:
PVWatts scales linearly with nameplate power.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pvlib
from pvlib.modelchain import ModelChain
from pvlib.pvsystem import Array, FixedMount, PVSystem
from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

from voisin.meters.site import SOUTH_30, Orientation, Site, per_interval_mean, sample_times
from voisin.meters.sky import Sky
from voisin.meters.weather import Weather
from voisin.protocol import Interval

SAMPLE_MINUTES = 5
"""Irradiance is averaged over samples this far apart."""
GAMMA_PDC_PER_K = -0.0037
INVERTER_EFFICIENCY = 0.96
TEMPERATURE_MODEL = TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"]
MAX_BEAM_ZENITH_DEG = 87.0
"""Closer to the horizon, beam and diffuse cannot be told apart; all is diffuse."""


class _KnownSun(pvlib.location.Location):
    """A Location that hands back a solar position computed once for all orientations."""

    def __init__(self, site: Site, sun: pd.DataFrame | None) -> None:
        super().__init__(site.latitude, site.longitude, tz="UTC", altitude=site.altitude_m)
        self._sun = sun

    def get_solarposition(self, times, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self._sun is not None and self._sun.index.equals(times):
            return self._sun
        return super().get_solarposition(times, *args, **kwargs)


def model_chain(
    site: Site, orientations: Orientation | Sequence[Orientation], sun: pd.DataFrame | None = None
) -> ModelChain:
    """The ModelChain for 1 kWp at ``site`` on each of ``orientations`` (one array per
    plane, so the sun and air mass are worked out once for all of them); ``sun`` is the
    solar position at the instants it will run on, if known. AC watts out for one plane;
    for several, :func:`ac_kw_per_kwp` gives each plane behind its own inverter."""
    planes = [orientations] if isinstance(orientations, Orientation) else list(orientations)
    arrays = [
        Array(
            FixedMount(o.tilt_deg, o.azimuth_deg),
            module_parameters={"pdc0": 1000.0, "gamma_pdc": GAMMA_PDC_PER_K},
            temperature_model_parameters=TEMPERATURE_MODEL,
        )
        for o in planes
    ]
    system = PVSystem(
        arrays=arrays,
        inverter_parameters={"pdc0": 1000.0 * len(planes), "eta_inv_nom": INVERTER_EFFICIENCY},
    )
    return ModelChain(
        system,
        _KnownSun(site, sun),
        aoi_model="physical",
        spectral_model="no_loss",
        transposition_model="perez",
        losses_model="pvwatts",
    )


def ac_kw_per_kwp(chain: ModelChain) -> list[np.ndarray]:
    """Each plane's AC power per kWp (kW) after a run: its DC (after PVWatts' losses)
    through its own 1 kW PVWatts inverter, as a single-plane chain would give."""
    dc = chain.results.dc if isinstance(chain.results.dc, tuple) else (chain.results.dc,)
    out = []
    for plane_dc in dc:
        ac = pvlib.inverter.pvwatts(plane_dc, 1000.0, INVERTER_EFFICIENCY)
        out.append(np.nan_to_num(np.asarray(ac, dtype=float) / 1000.0, nan=0.0).clip(min=0.0))
    return out


@dataclass(frozen=True)
class SolarGeometry:
    """The sample instants of a run, the sun's position and the clear sky at them: the
    same for every weather (real, forecast, clear), so computed once."""

    times: pd.DatetimeIndex
    owner: np.ndarray
    sun: pd.DataFrame
    clear: pd.DataFrame


def solar_geometry(intervals: Sequence[Interval], site: Site) -> SolarGeometry:
    times, owner = pv_samples(intervals)
    sky = Sky(site.latitude, site.longitude, site.altitude_m)
    sun = sky.sun(times)
    return SolarGeometry(times, owner, sun, sky.clear_sky(times, sun))


class SkyConditions:
    """Irradiance components and air conditions at sample instants, shared by every
    system of a site (computed once, transposed per orientation)."""

    def __init__(
        self,
        site: Site,
        geometry: SolarGeometry,
        clear_sky_index: np.ndarray | None = None,
        diffuse_fraction: np.ndarray | None = None,
        temperature_c: np.ndarray | float = 20.0,
        wind_m_s: np.ndarray | float = 1.0,
    ) -> None:
        times, sun, clear = geometry.times, geometry.sun, geometry.clear
        zenith = sun["apparent_zenith"].to_numpy()
        if clear_sky_index is None:
            ghi, dni, dhi = (clear[c].to_numpy() for c in ("ghi", "dni", "dhi"))
        else:
            ghi = np.asarray(clear_sky_index) * clear["ghi"].to_numpy()
            if diffuse_fraction is None:
                dhi = np.asarray(pvlib.irradiance.erbs(ghi, zenith, times)["dhi"])
            else:
                dhi = np.asarray(diffuse_fraction) * ghi
            cos_z = np.cos(np.radians(zenith))
            beam = zenith < MAX_BEAM_ZENITH_DEG
            dhi = np.where(beam, np.clip(np.nan_to_num(dhi), 0.0, ghi), ghi)
            dni = np.where(beam, (ghi - dhi) / np.maximum(cos_z, 0.065), 0.0)
        self.site = site
        self.sun = sun
        self.weather = pd.DataFrame(
            {
                "ghi": ghi,
                "dni": dni,
                "dhi": dhi,
                "temp_air": np.broadcast_to(temperature_c, ghi.shape),
                "wind_speed": np.broadcast_to(wind_m_s, ghi.shape),
            },
            index=times,
        )

    def kw_per_kwp(self, orientations: Sequence[Orientation]) -> list[np.ndarray]:
        """AC power per kWp (kW) at each sample instant, for each orientation."""
        chain = model_chain(self.site, orientations, self.sun)
        chain.run_model(self.weather)
        return ac_kw_per_kwp(chain)


def pv_kwh_per_kwp(
    intervals: Sequence[Interval],
    site: Site,
    orientations: Sequence[Orientation],
    weather: Weather | None = None,
    forecast: bool = False,
    geometry: SolarGeometry | None = None,
) -> dict[Orientation, np.ndarray]:
    """kWh per kWp per interval for each orientation under ``weather`` (None: a clear
    sky at 20 C and 1 m/s); ``forecast`` takes the weather's day-ahead forecast instead
    of what happens. ``geometry`` (of these intervals at this site) saves recomputing the
    sun when several weathers are run."""
    if not intervals:
        return {o: np.zeros(0) for o in orientations}
    geometry = geometry or solar_geometry(intervals, site)
    times = geometry.times
    if weather is None:
        conditions = SkyConditions(site, geometry)
    elif forecast:
        index, _ = weather.forecast_index(times)
        conditions = SkyConditions(
            site, geometry, index, None, weather.temperature_c(times), weather.wind_m_s(times)
        )
    else:
        conditions = SkyConditions(
            site,
            geometry,
            weather.clear_sky_index(times),
            weather.diffuse_fraction(times),
            weather.temperature_c(times),
            weather.wind_m_s(times),
        )
    hours = np.array([iv.hours for iv in intervals])
    planes = list(dict.fromkeys(orientations))
    power = conditions.kw_per_kwp(planes)
    return {
        o: per_interval_mean(kw, geometry.owner, len(intervals)) * hours
        for o, kw in zip(planes, power, strict=True)
    }


def pv_samples(intervals: Sequence[Interval]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The instants (UTC) PV is evaluated at, and the interval each belongs to."""
    return sample_times(intervals, SAMPLE_MINUTES)


def clear_sky_pv_kwh_per_kwp(
    intervals: Sequence[Interval], site: Site, orientation: Orientation = SOUTH_30
) -> np.ndarray:
    """kWh per kWp per interval under a clear sky at 20 C and 1 m/s."""
    return pv_kwh_per_kwp(intervals, site, [orientation])[orientation]
