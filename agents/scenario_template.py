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
strategy = "zi-c"           # bidding: "zi-c" (zero intelligence), "truthful" or "zip"
                            # (adaptive); per group: strategy_by_group = {{ pv = "zip" }};
                            # per listed member: its own strategy = "..."
generated = true            # include the seeded neighbourhood of run.households homes
battery_planning = false    # batteries plan a day ahead against expected prices (an LP)
                            # instead of absorbing each surplus as it comes

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

[network]
preset = "none"             # charges on p2p energy: "none", "fr-acc" (French collective
                            # self-consumption) or "de-sharing" (German energy sharing);
                            # any figure below overrides the preset (docs/economics.md)
# local_network_eur_per_kwh = 0.036   # network charge per kWh bought from a neighbour
# levies_eur_per_kwh = 0.036          # levies and per-kWh taxes on it
# fixed_eur_per_day = 0.35            # each connection's fixed part, with or without market

[tariffs.household]
import_eur_per_kwh = 0.28
export_eur_per_kwh = 0.08

[tariffs.school]
import_eur_per_kwh = 0.25
export_eur_per_kwh = 0.08
# A tariff whose connections owe other charges on p2p kWh than [network]'s names its
# own: a preset and/or figures (each buyer then pays its own, docs/economics.md).
# network = "fr-acc"
# local_network_eur_per_kwh = 0.02
# levies_eur_per_kwh = 0.03
# fixed_eur_per_day = 1.20

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
# ev = {{ kwh = 10, power_kw = 7.4, arrival_hour = 18, deadline_hour = 7, planning = true }}
# water_heater = {{ power_kw = 3, kwh_per_day = 6 }}
# heat_pump = {{ annual_heat_kwh = 8000, max_power_kw = 3, plan = true }}
#   (plan: heat at cheap hours within comfort_min_c = 19 .. comfort_max_c = 22)
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
