"""A SimBench LV grid as one feeder of a city (``"simbench_feeders": {"F1":
"simbench:CODE"}`` in a city file).

The feeder is the physical grid ``voisin simulate --grid simbench:CODE`` runs on (its
cables, transformer, voltage band: ``grid.simbench_grids``), with the same members
(``agents.simbench_scenario``: each load a home, a PV system on the first home of its
bus, else a plant of its own). Each member bids its interval's net position from
SimBench's own profiles for the day, inflexible, as a generated household does, at a
seeded limit between feed-in and retail; a home's storage unit follows SimBench's own
storage profile, in that net position and in its meter's reading (a schedule, so no
state is carried between a city's independent intervals; its flexibility is not bid).
The SimBench grid is loaded once per process and day (``functools.cache``): every
interval's task of a feeder rebuilds its bids from the cached profiles. The MV lines
above it are rated for its own transformer (``transformer_kva``).
"""

from __future__ import annotations

from datetime import date
from functools import cache

import numpy as np

from voisin.agents.simbench_scenario import homes_of
from voisin.city.feeders import CityFeeder
from voisin.city.scenario import member_labels
from voisin.errors import InvalidInput
from voisin.grid.simbench_grids import SimbenchFeeder, simbench_feeder
from voisin.protocol import Bid, Grid
from voisin.protocol.interval import Interval


@cache
def _loaded(
    source: str, day: date, minutes: int, import_eur: float, export_eur: float
) -> SimbenchFeeder:
    return simbench_feeder(
        source,
        [day],
        minutes=minutes,
        import_price_eur_per_kwh=import_eur,
        export_price_eur_per_kwh=export_eur,
    )


@cache
def transformer_kva(source: str) -> float:
    """The rated apparent power of SimBench grid ``source``'s MV/LV transformer, which
    the MV lines above its secondary substation are planned for."""
    transformer = simbench_feeder(source).grid.transformer
    if transformer is None:
        raise InvalidInput(f"{source} has no MV/LV transformer", code="bad-grid")
    return transformer.rated("sn_kva")


def simbench_city_feeder(
    source: str,
    index: int,
    interval: Interval,
    *,
    seed: int,
    import_price_eur_per_kwh: float,
    export_price_eur_per_kwh: float,
) -> CityFeeder:
    """Feeder ``index`` of a city as SimBench grid ``source`` for one interval."""
    found = _loaded(
        source,
        interval.start.date(),
        interval.minutes,
        import_price_eur_per_kwh,
        export_price_eur_per_kwh,
    )
    try:
        at = found.interval_starts.index(interval.start)
    except ValueError:
        raise InvalidInput(
            f"{source} has no profile for {interval.id}", code="bad-interval"
        ) from None
    step = np.random.default_rng([seed, index, int(interval.start.timestamp())])
    bids = []
    forecast = {}
    storage_kwh = {}
    members = sorted(homes_of(found).items())
    ids = member_labels(seed, index, len(members))
    for bid_id, (_, (load, pv, storage)) in zip(ids, members, strict=True):
        made = sum(unit.energy_kwh[at] for unit in pv)
        used = load.energy_kwh[at] if load is not None else 0.0
        label = f"p-{bid_id}"
        forecast[label] = (float(made), float(used))
        discharged = 0.0 if storage is None else -float(storage.energy_kwh[at])
        if storage is not None:
            storage_kwh[label] = discharged
        net = made + discharged - used
        kwh = round(float(abs(net)), 3)
        price = round(float(step.uniform(export_price_eur_per_kwh, import_price_eur_per_kwh)), 3)
        if kwh < 0.001:
            continue
        bus = (load or pv[0]).bus
        bids.append(
            Bid(
                bid_id=bid_id,
                participant=label,
                bus=bus,
                interval=interval.id,
                side="sell" if net > 0 else "buy",
                segments=({"energy_kwh": kwh, "price_eur_per_kwh": price},),
                inflexible=True,
            )
        )
    grid: Grid = found.grid
    return CityFeeder(
        f"F{index}", grid, tuple(bids), f"M{index}", forecast_kwh=forecast, storage_kwh=storage_kwh
    )
