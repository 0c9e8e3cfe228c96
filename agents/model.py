"""The world: a Mesa model of the neighbourhood that bids for and delivers intervals.

The market is not in here. A driver (``voisin simulate`` or the operator) asks the
model for the bids of an interval, clears them elsewhere, then asks it to deliver the
interval and collects the signed meter readings. Everything random comes from the
model's seed: the weather and its day-ahead forecast, each home's appliance cycles and
each agent's bidding draws. ``profiles`` (every member's) replaces the simulated ones,
e.g. with a household replaying its own meter data.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
from mesa import Model

from voisin.agents.agents import Household, MemberAgent, School
from voisin.agents.battery_plan import expected_prices
from voisin.agents.flex_plan import ev_load_kwh
from voisin.agents.forecasts import ForecastError, forecast_errors, forecasts, month_index
from voisin.agents.profiles import (
    MemberProfiles,
    neighbourhood_profiles,
    outdoor_temperature_c,
)
from voisin.agents.pseudonyms import Pseudonyms
from voisin.agents.scenario import Member, Scenario
from voisin.agents.strategies import STRATEGIES, Strategy, ZeroIntelligence
from voisin.errors import InvalidInput
from voisin.meters import Weather
from voisin.protocol import Bid, ClearingResult, Interval, MeterReading, ParticipantKind, Side
from voisin.protocol.signed import Signed


class Neighbourhood(Model):
    """Agents for every member of ``scenario`` over ``intervals`` (profiles precomputed).

    ``seed`` fixes weather, loads and forecasts: two models with the same scenario and
    seed produce byte-identical bids and readings.
    """

    def __init__(
        self,
        scenario: Scenario,
        intervals: Sequence[Interval],
        seed: int = 0,
        strategy: Strategy | None = None,
        profiles: dict[str, MemberProfiles] | None = None,
        pseudonyms: Pseudonyms | None = None,
    ) -> None:
        super().__init__(rng=seed)
        self.pseudonyms = pseudonyms
        """Day keys the agents bid and meter under (None: their members' own keys)."""
        if not intervals:
            raise InvalidInput("a neighbourhood needs at least one interval to simulate")
        ids = [iv.id for iv in intervals]
        if len(set(ids)) != len(ids) or ids != sorted(ids):
            raise InvalidInput("intervals must be distinct and in time order")
        self.scenario = scenario
        self.seed = seed
        self.intervals: tuple[Interval, ...] = tuple(intervals)
        self.interval_ids: tuple[str, ...] = tuple(ids)
        self.strategy: Strategy = strategy or ZeroIntelligence()
        self.gate_index = 0
        self._index = {iv_id: i for i, iv_id in enumerate(ids)}
        self._bids: list[Signed[Bid]] = []
        self._readings: list[Signed[MeterReading]] = []
        self.last_bids: list[Bid] = []
        self.last_readings: list[MeterReading] = []

        site = scenario.site
        self.weather = Weather(site.climate, seed, site.longitude)
        self.profiles: dict[str, MemberProfiles] = (
            profiles
            if profiles is not None
            else neighbourhood_profiles(scenario, self.intervals, seed)[1]
        )
        climatology = month_index(self.intervals, self.weather.source)
        self.by_participant: dict[str, MemberAgent] = {}
        made = {
            m.id: forecasts(self.profiles[m.id], m.forecast, climatology) for m in scenario.members
        }
        community_pv = np.sum([pv for pv, _ in made.values()], axis=0)
        self.community_pv_forecast_kwh: np.ndarray = community_pv
        """Every member's PV forecast summed: what flexible loads expect prices from."""
        self.outdoor_c: np.ndarray = (
            outdoor_temperature_c(self.intervals, site, self.weather)
            if any(m.heat_pump is not None and m.heat_pump.plan for m in scenario.members)
            else np.zeros(len(self.intervals))
        )
        """Mean outdoor temperature per interval (°C), for heat pumps that plan."""
        for member in scenario.members:
            kind = School if member.participant.kind is ParticipantKind.SCHOOL else Household
            p = self.profiles[member.id]
            pv_forecast, load_forecast = made[member.id]
            load = p.load_kwh
            if member.ev is not None:
                ev = self._ev_load(member, community_pv)
                load, load_forecast = load + ev, load_forecast + ev
            self.by_participant[member.id] = kind(
                self,
                member,
                pv_kwh=p.pv_kwh,
                load_kwh=load,
                strategy=self._strategy_of(member),
                pv_forecast_kwh=pv_forecast,
                load_forecast_kwh=load_forecast,
            )

    def _ev_load(self, member: Member, community_pv_kwh: np.ndarray) -> np.ndarray:
        """The member's car charging per interval, planned against the prices the
        neighbourhood's PV forecast leads it to expect (``flex_plan``), or naive."""
        assert member.ev is not None
        prices = expected_prices(
            community_pv_kwh,
            member.participant.tariff,
            self.scenario.grid.local_charge_eur_per_kwh,
        )
        return ev_load_kwh(
            [iv.start for iv in self.intervals],
            self.scenario.site.timezone,
            member.ev,
            prices.buy_eur_per_kwh,
            self.intervals[0].hours,
        )

    def _strategy_of(self, member: Member) -> Strategy:
        """Each agent its own strategy (adaptive ones keep state): the member's named
        one, else a copy of the run's."""
        if member.strategy is not None:
            if member.strategy not in STRATEGIES:
                raise InvalidInput(
                    f"unknown strategy {member.strategy!r}; one of {', '.join(STRATEGIES)}",
                    code="bad-scenario",
                )
            return STRATEGIES[member.strategy]()
        return copy.deepcopy(self.strategy)

    def observe(self, interval: Interval | str, result: ClearingResult) -> None:
        """Feed the clearing back to the agents that bid in it (``observe_prices``)."""
        self.observe_prices(interval, result.prices_eur_per_kwh, result.cleared_kwh)

    def observe_prices(
        self,
        interval: Interval | str,
        prices_eur_per_kwh: Mapping[str, float],
        cleared_kwh: Mapping[str, float],
    ) -> None:
        """Tell each agent that bid in ``interval`` the price its bid's side trades at
        (its bus price, a seller's less the grid's local charge) and whether it cleared:
        from a clearing result in the simulation, from the published clearing block in
        a live agent (``transport.agent``)."""
        index = self.index_of(interval)
        charge = self.scenario.grid.local_charge_eur_per_kwh
        for agent in self.by_participant.values():
            bid = agent.sent.get(index)
            if bid is None:
                continue
            price = prices_eur_per_kwh.get(bid.bus, 0.0)
            if bid.side is Side.SELL:
                price -= charge
            agent.observe(index, price, cleared_kwh.get(bid.bid_id, 0.0))

    def index_of(self, interval: Interval | str) -> int:
        """Position of ``interval`` (or its id) in the run."""
        interval_id = interval if isinstance(interval, str) else interval.id
        try:
            return self._index[interval_id]
        except KeyError:
            raise InvalidInput(f"interval {interval_id} is not part of this simulation") from None

    def post_bid(self, bid: Signed[Bid]) -> None:
        self._bids.append(bid)

    def post_reading(self, reading: Signed[MeterReading]) -> None:
        self._readings.append(reading)

    def bids_for(self, interval: Interval | str) -> list[Bid]:
        """Every agent forecasts ``interval`` and bids; signed bids sorted by ``bid_id``."""
        return [signed.value for signed in self.signed_bids_for(interval)]

    def signed_bids_for(self, interval: Interval | str) -> list[Signed[Bid]]:
        """``bids_for`` with the bytes each agent signed (``Signed.signed_by``): what the
        operator checks and stores without encoding the bids again."""
        self.gate_index = self.index_of(interval)
        self._bids = []
        self.agents.shuffle_do("step")
        bids, self._bids = sorted(self._bids, key=lambda b: b.value.bid_id), []
        return bids

    def deliver(
        self, interval: Interval | str, curtailed_kwh: Mapping[str, float] | None = None
    ) -> list[MeterReading]:
        """Play out ``interval`` with the real weather and loads, each member curtailed by
        what the market ordered (kWh by participant id); signed readings sorted by
        participant."""
        return [signed.value for signed in self.deliver_signed(interval, curtailed_kwh)]

    def deliver_signed(
        self, interval: Interval | str, curtailed_kwh: Mapping[str, float] | None = None
    ) -> list[Signed[MeterReading]]:
        """``deliver`` with the bytes each meter signed (``Meter.read_signed``): what the
        operator checks and holds without encoding the readings again."""
        index = self.index_of(interval)
        self._readings = []
        orders = curtailed_kwh or {}
        for agent in self.agents.shuffle(inplace=False):
            agent.deliver(index, orders.get(agent.participant_id, 0.0))
        readings = sorted(self._readings, key=lambda r: r.value.participant)
        self._readings = []
        return readings

    def step(self) -> None:
        """One interval without a market (Mesa's run loop): bid, then deliver."""
        index = self.steps - 1  # Mesa counts steps from 1 before calling this
        interval = self.intervals[index]
        self.last_bids = self.bids_for(interval)
        self.last_readings = self.deliver(interval)
        if index + 1 >= len(self.intervals):
            self.running = False

    def actual_kwh(self) -> tuple[np.ndarray, np.ndarray]:
        """Real PV and load per member (rows in scenario order) and interval, in kWh."""
        agents = [self.by_participant[m.id] for m in self.scenario.members]
        return np.vstack([a.pv_kwh for a in agents]), np.vstack([a.load_kwh for a in agents])

    def forecast_errors(self) -> list[ForecastError]:
        """How each forecast method would have done over this run, by lead time."""
        return forecast_errors(
            [self.profiles[m.id] for m in self.scenario.members],
            self.intervals,
            self.weather.source,
        )
