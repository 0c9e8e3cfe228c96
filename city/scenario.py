"""Generated cities: an MV network of substations, each an LV feeder of households.

A city is described by a few numbers (``CitySpec``, the ``--city FILE`` format) and
generated from its seed, so every process that needs a feeder builds the same one
(Dask workers get the spec, never the objects). Each household has PV or not, a
consumption level and a flexible battery-like bid; its interval bids follow the city's
sky and clock (``city.weather``: pvlib under the seeded weather of the site's reference
year, the BDEW H0 standard load profile), with seeded spread per home. A city file may
name SimBench LV grids for some feeders instead (``simbench_feeders``,
``city.simbench_feeder``). The neighbourhood's appliance-level homes (``meters.homes``)
are not used in cities (``docs/city.md``).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from voisin.city.feeders import CityFeeder
from voisin.city.weather import sun_and_load
from voisin.errors import InvalidInput
from voisin.protocol import Bid, Grid, Line, day_intervals, parse
from voisin.protocol.interval import Interval
from voisin.protocol.participants import MAX_PRICE_EUR_PER_KWH
from voisin.protocol.validation import NumbersOnly
from voisin.settings import MAX_DAYS, check_run_days


class CitySpec(NumbersOnly):
    """A generated city. Units: kWh per interval, EUR/kWh, minutes. Its numbers take
    numbers only (``NumbersOnly``: ``"2"`` or ``true`` in a city file is a typo)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "city"
    feeders: int = Field(ge=1, le=10_000)
    households_per_feeder: int = Field(ge=1, le=2_000)
    seed: int = 0
    start: date = date(2026, 6, 22)
    minutes: int = Field(default=15, ge=1, le=1440)
    intervals: int = Field(default=96, ge=1, le=MAX_DAYS * 1440)
    first_interval: int = Field(default=0, ge=0, le=MAX_DAYS * 1440)
    """Intervals skipped from midnight of ``start`` (48: a run from noon)."""
    import_price_eur_per_kwh: float = Field(
        default=0.28, ge=-MAX_PRICE_EUR_PER_KWH, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False
    )
    """The national grid's prices, bounded as tariffs are (``MAX_PRICE_EUR_PER_KWH``)."""
    export_price_eur_per_kwh: float = Field(
        default=0.08, ge=-MAX_PRICE_EUR_PER_KWH, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False
    )
    mv_line_kwh: float | None = Field(default=None, gt=0)
    """Each MV line's limit per interval; None (the default): each line rated for the
    feeder transformers it supplies, the sum of their ratings, as an MV network is
    planned for the secondary substations below it."""
    hv_transformer_kwh: float | None = None
    """The HV/MV transformer's limit (None: unlimited)."""
    feeder_transformer_kwh: float = Field(default=100.0, gt=0)
    pv_share: float = Field(default=0.5, ge=0, le=1)
    mv_topology: Literal["radial", "tree", "star"] = "radial"
    """``radial``: MV feeders out of the HV/MV substation, each a chain of up to
    ``MV_FEEDER_SUBSTATIONS`` secondary substations (an open MV ring, as cities run
    them); ``tree``: a binary tree of substations; ``star``: each on its own line."""
    simbench_feeders: dict[str, str] = Field(default_factory=dict)
    """Feeder name (``F<k>``) -> ``simbench:CODE``: that feeder is the SimBench LV grid
    and its members (``city.simbench_feeder``), the others are generated."""

    @model_validator(mode="after")
    def _runnable(self) -> CitySpec:
        """What the city's intervals and grids need, checked with the file: a bad one is
        one line before any folder is claimed (``minutes: 7`` was a ValueError, a start
        of 9999-12-31 an OverflowError, ``first_interval: 5000000`` a MemoryError)."""
        if 1440 % self.minutes:
            raise ValueError(f"minutes: {self.minutes} min does not divide a day")
        check_run_days(self.start, self.days)
        if self.export_price_eur_per_kwh > self.import_price_eur_per_kwh:
            raise ValueError("export price above import price would let the grid be arbitraged")
        return self

    @property
    def days(self) -> int:
        """Days from midnight of ``start`` to the end of the last interval."""
        return math.ceil((self.first_interval + self.intervals) * self.minutes / 1440)

    @model_validator(mode="after")
    def _simbench_names(self) -> CitySpec:
        names = {f"F{k}" for k in range(self.feeders)}
        for name, source in self.simbench_feeders.items():
            if name not in names:
                raise ValueError(f"simbench_feeders: no feeder {name} (F0..F{self.feeders - 1})")
            if not source.startswith("simbench:"):
                raise ValueError(f"simbench_feeders: {name}: expected simbench:CODE")
        return self

    def __hash__(self) -> int:  # the dict field: hash the canonical JSON instead
        return hash(self.model_dump_json())

    @property
    def households(self) -> int:
        return self.feeders * self.households_per_feeder

    def interval_list(self) -> list[Interval]:
        wanted = self.first_interval + self.intervals
        every: list[Interval] = day_intervals(self.start, self.minutes, self.days)
        return every[self.first_interval : wanted]


BUILT_IN = {
    "small": CitySpec(
        name="small", feeders=5, households_per_feeder=20, intervals=8, first_interval=44
    ),
    "default": CitySpec(name="default", feeders=100, households_per_feeder=100),
}


def read_city(source: str) -> CitySpec:
    """A built-in name or a JSON file of ``CitySpec`` fields; one-line errors."""
    if source in BUILT_IN:
        return BUILT_IN[source]
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(
            f"cannot read city file {source}: {exc.strerror}", code="bad-file"
        ) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"city file {source} is not JSON: {exc.msg}", code="bad-file") from exc
    spec: CitySpec = parse(CitySpec, data, f"city file {source}")
    return spec


MV_FEEDER_SUBSTATIONS = 10
"""Secondary substations per MV feeder of a ``radial`` city (one 20 kV cable of a few MVA)."""


def _mv_parent(spec: CitySpec, k: int) -> int | None:
    """The substation above substation ``k`` (None: the HV/MV substation S)."""
    if spec.mv_topology == "star" or k == 0:
        return None
    if spec.mv_topology == "tree":
        return (k - 1) // 2
    return None if k % MV_FEEDER_SUBSTATIONS == 0 else k - 1


def feeder_transformer_kwh(spec: CitySpec, k: int) -> float:
    """Feeder ``k``'s transformer rating per interval: a SimBench feeder's own
    transformer (its ``sn_kva`` over the interval), else ``spec.feeder_transformer_kwh``."""
    source = spec.simbench_feeders.get(f"F{k}")
    if source is None:
        return spec.feeder_transformer_kwh
    from voisin.city.simbench_feeder import transformer_kva

    return transformer_kva(source) * spec.minutes / 60


def mv_grid(spec: CitySpec) -> Grid:
    """The MV network: substation buses M0..M(n-1) under the root S; each line rated,
    unless ``mv_line_kwh`` says otherwise, for the transformers of the secondary
    substations it supplies (their ratings added, its own included)."""
    parents = [_mv_parent(spec, k) for k in range(spec.feeders)]
    below = [feeder_transformer_kwh(spec, k) for k in range(spec.feeders)]
    for k in reversed(range(spec.feeders)):
        parent = parents[k]
        if parent is not None:
            below[parent] += below[k]
    lines = []
    for k, parent in enumerate(parents):
        rated = spec.mv_line_kwh
        if rated is None:
            rated = below[k]
        frm = "S" if parent is None else f"M{parent}"
        lines.append(Line(from_bus=frm, to_bus=f"M{k}", capacity_kwh=rated))
    return Grid(
        root="S",
        buses=("S", *(f"M{k}" for k in range(spec.feeders))),
        lines=tuple(lines),
        import_price_eur_per_kwh=spec.import_price_eur_per_kwh,
        export_price_eur_per_kwh=spec.export_price_eur_per_kwh,
        transformer_capacity_kwh=spec.hv_transformer_kwh,
    )


DAYS_PER_YEAR = 365.0
"""A home's daily use is its annual use over this (the BDEW shares add up to a year)."""
SUNNY_KW_PER_KWP = 0.3
"""Above this PV output per kWp a home's battery charges (bids to buy), below it
discharges (bids to sell)."""


_LABEL_STREAM = 2
"""Tells the members' labels' random stream from the bids' (``[seed, feeder, start]``)."""


def member_labels(seed: int, index: int, count: int) -> tuple[str, ...]:
    """The bid ids of feeder ``index``'s ``count`` members, in the order the feeder
    lists them (a generated feeder: its homes, then its batteries; a SimBench one: its
    loads and plants in name order). Each is ``f<index>-m<k>``, ``k`` from a seeded
    permutation of ``0..count-1`` written to one width, so an id on a ledger tells its
    feeder (whose ledger it is on) and nothing else: not whether it is a home, a battery
    or a plant, nor which one (docs/privacy.md, "A city's ids"). A member's participant
    label is ``p-`` and its id. Drawn from the city's seed alone, so every worker names
    every member alike."""
    order = np.random.default_rng([seed, index, _LABEL_STREAM]).permutation(count)
    width = len(str(max(count - 1, 0)))
    return tuple(f"f{index}-m{int(k):0{width}d}" for k in order)


def feeder(spec: CitySpec, index: int, interval: Interval) -> CityFeeder:
    """Feeder ``index`` of the city for one interval: a star of households under its
    transformer, each a bid or two at prices between feed-in and retail; or the SimBench
    grid the spec names for it."""
    source = spec.simbench_feeders.get(f"F{index}")
    if source is not None:
        from voisin.city.simbench_feeder import simbench_city_feeder  # pandapower: lazily

        return simbench_city_feeder(
            source,
            index,
            interval,
            seed=spec.seed,
            import_price_eur_per_kwh=spec.import_price_eur_per_kwh,
            export_price_eur_per_kwh=spec.export_price_eur_per_kwh,
        )
    kwp, daily_kwh, battery_kwh, grid, home, battery = _households(spec, index)
    n = spec.households_per_feeder
    step = np.random.default_rng([spec.seed, index, int(interval.start.timestamp())])
    sun_kwh_per_kwp, year_share = sun_and_load(
        spec.seed, spec.start, spec.minutes, spec.days, interval
    )
    pv_kwh = kwp * sun_kwh_per_kwp * step.uniform(0.7, 1.0, n)
    load_kwh = daily_kwh * DAYS_PER_YEAR * year_share * step.uniform(0.8, 1.2, n)
    sunny = sun_kwh_per_kwp > SUNNY_KW_PER_KWP * spec.minutes / 60.0
    net = pv_kwh - load_kwh
    low, high = spec.export_price_eur_per_kwh, spec.import_price_eur_per_kwh
    bids = []
    for h in range(n):
        bus = f"H{h}"
        kwh = round(float(abs(net[h])), 3)
        if kwh >= 0.001:
            side = "sell" if net[h] > 0 else "buy"
            price = round(float(step.uniform(low, high)), 3)
            bids.append(_bid(home[h], side, kwh, price, bus, interval, inflexible=True))
        if battery_kwh[h] > 0:
            price = round(float(step.uniform(low, high)), 3)
            side = "buy" if sunny else "sell"
            bids.append(_bid(battery[h], side, float(battery_kwh[h]), price, bus, interval))
    forecast = {f"p-{home[h]}": (float(pv_kwh[h]), float(load_kwh[h])) for h in range(n)}
    return CityFeeder(f"F{index}", grid, tuple(bids), f"M{index}", forecast_kwh=forecast)


_Households = tuple[np.ndarray, np.ndarray, np.ndarray, Grid, tuple[str, ...], dict[int, str]]
_KEPT: dict[tuple[CitySpec, int], _Households] = {}
_KEPT_HOUSEHOLDS = 20_000
"""How many households' feeders ``_households`` keeps (about 3 KB each, most of it the
grid's lines): every feeder of a 100 x 100 city, ten of 2,000 households."""


def _households(spec: CitySpec, index: int) -> _Households:
    """What a generated feeder is in every interval: its households' PV (kWp), daily
    use (kWh) and battery (kWh), drawn from the city's seed, its star grid, and the bid
    ids (``member_labels``) of each home and of each home's battery, by household. Kept
    (a curve task and the ledger task build the feeder for each interval; the grid's
    lines are validated once), the oldest let go past ``_KEPT_HOUSEHOLDS``. The arrays
    are read-only."""
    key = (spec, index)
    kept = _KEPT.get(key)
    if kept is None:
        kept = _draw_households(spec, index)
        room = max(1, _KEPT_HOUSEHOLDS // spec.households_per_feeder)
        while len(_KEPT) >= room:
            del _KEPT[next(iter(_KEPT))]
        _KEPT[key] = kept
    return kept


def _draw_households(spec: CitySpec, index: int) -> _Households:
    rng = np.random.default_rng([spec.seed, index])
    n = spec.households_per_feeder
    kwp = np.where(rng.random(n) < spec.pv_share, rng.uniform(2.0, 8.0, n), 0.0)
    daily_kwh = rng.uniform(6.0, 14.0, n)
    battery_kwh = np.where(rng.random(n) < 0.2, rng.uniform(0.5, 2.0, n), 0.0)
    line_kwh = rng.uniform(4.0, 8.0, n)
    for array in (kwp, daily_kwh, battery_kwh):
        array.flags.writeable = False
    grid = Grid(
        root="T",
        buses=("T", *(f"H{h}" for h in range(n))),
        lines=tuple(
            Line(from_bus="T", to_bus=f"H{h}", capacity_kwh=round(float(line_kwh[h]), 3))
            for h in range(n)
        ),
        import_price_eur_per_kwh=spec.import_price_eur_per_kwh,
        export_price_eur_per_kwh=spec.export_price_eur_per_kwh,
        transformer_capacity_kwh=spec.feeder_transformer_kwh,
    )
    owners = [h for h in range(n) if battery_kwh[h] > 0]
    labels = member_labels(spec.seed, index, n + len(owners))
    battery = {h: labels[n + j] for j, h in enumerate(owners)}
    return kwp, daily_kwh, battery_kwh, grid, labels[:n], battery


def _bid(
    bid_id: str,
    side: str,
    kwh: float,
    price: float,
    bus: str,
    interval: Interval,
    *,
    inflexible: bool = False,
) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant=f"p-{bid_id}",
        bus=bus,
        interval=interval.id,
        side=side,
        segments=({"energy_kwh": kwh, "price_eur_per_kwh": price},),
        inflexible=inflexible,
    )
