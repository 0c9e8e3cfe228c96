"""Meters and what they measure: PV and load profiles, batteries, signed readings."""

from voisin.meters.battery import Battery, BatterySpec
from voisin.meters.bdew import bdew_year_profile, french_holidays
from voisin.meters.meter import Meter, verify_reading
from voisin.meters.profiles import (
    clear_sky_pv_kwh_per_kwp,
    cloud_factors,
    load_kwh,
    load_share,
    pv_kwh,
    pv_kwh_per_kwp,
)
from voisin.meters.site import LYON, Site

__all__ = [
    "LYON",
    "Battery",
    "BatterySpec",
    "Meter",
    "Site",
    "bdew_year_profile",
    "clear_sky_pv_kwh_per_kwp",
    "cloud_factors",
    "french_holidays",
    "load_kwh",
    "load_share",
    "pv_kwh",
    "pv_kwh_per_kwp",
    "verify_reading",
]
