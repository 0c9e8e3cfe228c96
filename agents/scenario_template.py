"""The commented scenario template `voisin scenario new` writes (and the built-in default).

The values come from a ``RunDefaults`` (the command's flags), everything else from the
scenario file's own defaults, so the template run gives the same ledger as the flags.
"""

from __future__ import annotations

from voisin.agents.scenario_file import CalendarTable, SiteTable
from voisin.settings import DEFAULTS, RunDefaults

_TEMPLATE = """# A voisin scenario (TOML). Run it with: voisin simulate --scenario THIS_FILE
# Command-line flags (--seed, --start, --days, ...) override the [run] table.
name = "{name}"
strategy = "zi-c"           # bidding: "zi-c" (zero intelligence) or "truthful"
generated = true            # include the seeded neighbourhood of run.households homes

[run]
seed = {seed}               # fixes keys, weather, loads and bids: same seed, same ledger
households = {households}          # homes in the seeded default neighbourhood
start = {start}     # first day (UTC)
days = {days}
minutes = {minutes}            # interval length; must divide a day
gift_share = {gift_share}        # share of the sunniest home's surplus gifted to the school
rotate_pseudonyms = {rotate}  # one-time keys per member and day (docs/privacy.md)

[site]
name = "{site.name}"
latitude = {site.latitude}
longitude = {site.longitude}
altitude_m = {site.altitude_m}
timezone = "{site.timezone}"      # loads follow the local clock
country = "{site.country}"                # public holidays (ISO 3166); subdivision for regions
climate = "{site.climate}"        # reference year the weather resamples: mannheim or essen

[school_calendar]
# School holidays, first and last day without school (weekends and public holidays are
# always closed). The default is the French zone A calendar 2025-2027.
holidays = [
{holidays}
]

[grid]
preset = "default"          # the built-in feeder; or replace this table by [grid.custom]
                            # with root, buses, lines, prices (see docs/clearing.md)

[tariffs.household]
import_eur_per_kwh = 0.28
export_eur_per_kwh = 0.08

[tariffs.school]
import_eur_per_kwh = 0.25
export_eur_per_kwh = 0.08

# Members listed by hand join the generated ones. Keys derive from the seed and the name.
# [[members]]
# name = "my-home"
# bus = "C2"
# annual_kwh = 4200          # appliances, a year
# pv_kwp = 6.0
# tilt_deg = 35
# azimuth_deg = 200          # degrees from north (180 = south)
# forecast = "day-ahead"     # or "persistence", "profile"
# preferred = ["school"]
# battery = {{ capacity_kwh = 10, power_kw = 5 }}
# water_heater = {{ power_kw = 3, kwh_per_day = 6 }}
# heat_pump = {{ annual_heat_kwh = 8000, max_power_kw = 3 }}
# meter_data = {{ path = "my-meter.csv", format = "csv" }}   # or format = "dsmr"
"""


def render_template(run: RunDefaults = DEFAULTS, name: str = "default") -> str:
    site = SiteTable()
    holidays = "\n".join(
        f"    [{a.isoformat()}, {b.isoformat()}]," for a, b in CalendarTable().holidays
    )
    return _TEMPLATE.format(
        name=name,
        seed=run.seed,
        households=run.households,
        start=run.start.isoformat(),
        days=run.days,
        minutes=run.minutes,
        gift_share=run.gift_share,
        rotate="true" if run.rotate_pseudonyms else "false",
        site=site,
        holidays=holidays,
    )
