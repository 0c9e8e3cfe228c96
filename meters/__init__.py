"""Meters and what they measure: weather, PV and load profiles, batteries, signed readings.

Each name is imported when first used (``voisin.lazy``): a process that needs only a
site or a battery's spec does not import pvlib, pandas or demandlib. (A climate's
reference year is ``voisin.meters.climate.climate``: the module has the function's name.)"""

from typing import TYPE_CHECKING

from voisin.lazy import lazy_exports

if TYPE_CHECKING:
    from voisin.meters.battery import Battery, BatterySpec
    from voisin.meters.bdew import bdew_year_profile, public_holidays
    from voisin.meters.climate import CLIMATES, Climate
    from voisin.meters.meter import Meter, reading_fault, verify_reading
    from voisin.meters.profiles import load_kwh, load_share
    from voisin.meters.site import LYON, Orientation, Site
    from voisin.meters.solar import clear_sky_pv_kwh_per_kwp, pv_kwh_per_kwp
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
    "public_holidays",
    "load_kwh",
    "load_share",
    "pv_kwh_per_kwp",
    "reading_fault",
    "verify_reading",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "Battery": "battery",
        "BatterySpec": "battery",
        "bdew_year_profile": "bdew",
        "public_holidays": "bdew",
        "CLIMATES": "climate",
        "Climate": "climate",
        "Meter": "meter",
        "reading_fault": "meter",
        "verify_reading": "meter",
        "load_kwh": "profiles",
        "load_share": "profiles",
        "LYON": "site",
        "Site": "site",
        "Orientation": "site",
        "clear_sky_pv_kwh_per_kwp": "solar",
        "pv_kwh_per_kwp": "solar",
        "Weather": "weather",
    },
)
