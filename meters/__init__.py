"""Meters and what they measure: weather, PV and load profiles, batteries, signed readings."""

from voisin.meters.battery import Battery, BatterySpec
from voisin.meters.bdew import bdew_year_profile, public_holidays
from voisin.meters.climate import CLIMATES, Climate, climate
from voisin.meters.meter import Meter, reading_fault, verify_reading
from voisin.meters.profiles import load_kwh, load_share
from voisin.meters.site import LYON, Site
from voisin.meters.solar import Orientation, clear_sky_pv_kwh_per_kwp, pv_kwh_per_kwp
from voisin.meters.weather import Weather

__all__ = [
    "CLIMATES",
    "LYON",
    "Battery",
    "BatterySpec",
    "Climate",
    "Meter",
    "Orientation",
    "Site",
    "Weather",
    "bdew_year_profile",
    "clear_sky_pv_kwh_per_kwp",
    "climate",
    "public_holidays",
    "load_kwh",
    "load_share",
    "pv_kwh_per_kwp",
    "reading_fault",
    "verify_reading",
]
