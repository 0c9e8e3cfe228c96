"""A city's parts as protocol objects: each feeder's grid and book, and its MV bus.

``feeder_market`` turns one into the array form the two-level market clears;
``merged_city`` writes the whole city as one grid and one book (every feeder's lines
hung below its MV bus, its transformer a line of its rating), the single city-wide LP
the two-level clearing is measured against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from voisin.city.residual import FeederMarket
from voisin.errors import InvalidInput
from voisin.market.bulk import ArrayClearing, clear_arrays
from voisin.market.clearing import conditions_for
from voisin.market.formulation import Conditions
from voisin.market.gate import MarketRules
from voisin.market.network import Network
from voisin.market.segments import book_of
from voisin.protocol import Bid, Grid, Line, ParticipantKind

UNLIMITED_KWH = 1e6
"""A transformer without a rating becomes a line of this capacity in the merged grid."""


@dataclass(frozen=True)
class CityFeeder:
    """One LV feeder of a city: its grid, its interval's bids, where it hangs on the MV
    network, its non-participants' forecast (kW, kvar per bus) and each member's
    forecast (PV kWh, load kWh) by bid participant, which its inflexible bid is the net
    of and its meter's reading deviates from (``city.delivery``)."""

    name: str
    grid: Grid
    bids: tuple[Bid, ...]
    mv_bus: str
    base_kw: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    forecast_kwh: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    storage_kwh: Mapping[str, float] = field(default_factory=dict)
    """A member's storage schedule of the interval by bid participant (kWh, discharge
    positive), in its inflexible bid's net and in its meter's reading as scheduled: a
    SimBench feeder's storage profile, which needs no state carried between intervals."""

    def kind_of(self, label: str) -> ParticipantKind:
        """Member ``label``'s kind, which its id does not tell (``member_labels``): a
        member with a forecast is a household, whose inflexible bid is the forecast's
        net; one without is a battery, which bids its flexibility (``city.delivery``)."""
        return ParticipantKind.HOUSEHOLD if label in self.forecast_kwh else ParticipantKind.BATTERY


def city_conditions(
    rules: MarketRules, minutes: int, export_price_eur_per_kwh: float
) -> Conditions:
    """The settings every level of one city shares: one curtailment price (the city's
    feed-in unless the rules name one), shedding price and loss passes."""
    kappa = rules.curtailment_eur_per_kwh
    return replace(
        Conditions(hours=minutes / 60.0),
        curtailment_eur_per_kwh=export_price_eur_per_kwh if kappa is None else kappa,
        shedding_eur_per_kwh=rules.shedding_eur_per_kwh,
        loss_passes=rules.loss_passes,
        voltage_margin_pu=rules.voltage_margin_pu,
        retailer_takes_rest=False,
        inflexible_by_price=True,
    )


def feeder_market(feeder: CityFeeder, shared: Conditions, minutes: int) -> FeederMarket:
    """The feeder's book and grid as arrays, with the city's shared settings."""
    net = Network.of(feeder.grid)
    ordered = sorted(feeder.bids, key=lambda bid: bid.bid_id)
    own = conditions_for(feeder.grid, net, None, minutes, feeder.base_kw)
    cond = replace(shared, base_p_kwh=own.base_p_kwh, base_q_kvarh=own.base_q_kvarh)
    return FeederMarket(feeder.name, book_of(ordered, net), net, cond)


def merged_city(
    mv: Grid, feeders: Sequence[CityFeeder]
) -> tuple[Grid, list[Bid], dict[str, tuple[float, float]]]:
    """The city as one transport grid, one book and one base (bus names ``feeder.bus``)."""
    buses = list(mv.buses)
    lines = list(mv.lines)
    bids: list[Bid] = []
    base: dict[str, tuple[float, float]] = {}
    for feeder in feeders:
        grid = feeder.grid
        if grid.physical:
            raise InvalidInput(
                f"feeder {feeder.name}: the merged city LP takes transport feeders only",
                code="bad-grid",
            )
        if feeder.mv_bus not in mv.buses:
            raise InvalidInput(
                f"feeder {feeder.name}: unknown MV bus {feeder.mv_bus!r}", code="unknown-bus"
            )

        def named(bus: str, prefix: str = feeder.name) -> str:
            return f"{prefix}.{bus}"

        buses += [named(bus) for bus in grid.buses]
        limit = grid.transformer_capacity_kwh
        lines.append(
            Line.model_validate(
                {
                    "from": feeder.mv_bus,
                    "to": named(grid.root),
                    "capacity_kwh": UNLIMITED_KWH if limit is None else limit,
                }
            )
        )
        lines += [
            line.model_copy(update={"from_bus": named(line.from_bus), "to_bus": named(line.to_bus)})
            for line in grid.lines
        ]
        bids += [bid.model_copy(update={"bus": named(bid.bus)}) for bid in feeder.bids]
        base.update({named(bus): power for bus, power in feeder.base_kw.items()})
    merged = mv.model_copy(update={"buses": tuple(buses), "lines": tuple(lines)})
    return Grid.model_validate(merged.model_dump(by_alias=True)), bids, base


def clear_city_wide(
    mv: Grid, feeders: Sequence[CityFeeder], shared: Conditions, minutes: int
) -> ArrayClearing:
    """The single city-wide LP: the merged city through the same clearing, with the
    same shared settings (``clear_city``'s reference)."""
    grid, bids, base = merged_city(mv, feeders)
    net = Network.of(grid)
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    own = conditions_for(grid, net, None, minutes, base)
    cond = replace(shared, base_p_kwh=own.base_p_kwh, base_q_kvarh=own.base_q_kvarh)
    return clear_arrays(book_of(ordered, net), net, cond)
