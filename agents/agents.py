"""Who acts: a member's agent forecasts, plans its battery, bids, and meters delivery.

Each agent owns a numpy generator keyed by the model's seed and its member's id, so its
draws depend neither on the order Mesa shuffles agents in nor on who else is in the
model (a live agent models only itself); the model then sorts what they post by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from voisin.agents.battery_plan import Prices, expected_prices, plan_dispatch
from voisin.agents.heat_plan import carry_out, hold_kwh, plan_heating
from voisin.agents.plan_lp import horizon_end
from voisin.agents.strategies import Strategy
from voisin.meters import Battery, Meter
from voisin.meters.heating import cop_air_source
from voisin.meters.meter import curtailed_pv_kwh
from voisin.protocol import Bid, Side
from voisin.protocol.signed import Signed

if TYPE_CHECKING:
    from voisin.agents.model import Neighbourhood
    from voisin.agents.scenario import Member

MIN_BID_KWH = 0.001
"""Below one watt-hour a surplus or need is noise, not worth a bid."""
SHORT_ID = 12
"""Hex characters of the participant id used in bid ids (48 bits, no collisions in
neighbourhoods of thousands)."""


@dataclass(frozen=True)
class Plan:
    """What an agent expected of an interval when it bid (kWh, + = into the house's
    connection point): forecast PV and load (with a planning heat pump's share,
    ``heat_pump_kwh``), the battery's planned dispatch and the net surplus (> 0) or need
    (< 0) it offered to the market."""

    pv_kwh: float
    load_kwh: float
    battery_kwh: float
    net_kwh: float
    heat_pump_kwh: float = 0.0


class MemberAgent(mesa.Agent):
    """A participant's agent. ``pv_kwh`` and ``load_kwh`` are the real energies per
    interval of the run, which only its meter sees; the agent bids on ``pv_forecast_kwh``
    and ``load_forecast_kwh``, made with its member's forecast method from what was
    known at gate closure (:mod:`voisin.agents.forecasts`)."""

    model: Neighbourhood

    def __init__(
        self,
        model: Neighbourhood,
        member: Member,
        pv_kwh: np.ndarray,
        load_kwh: np.ndarray,
        strategy: Strategy,
        pv_forecast_kwh: np.ndarray,
        load_forecast_kwh: np.ndarray,
    ) -> None:
        super().__init__(model)
        self.member = member
        self.pv_kwh = pv_kwh
        self.load_kwh = load_kwh
        self.pv_forecast_kwh = pv_forecast_kwh
        self.load_forecast_kwh = load_forecast_kwh
        self.strategy = strategy
        self.own_rng = np.random.default_rng((model.seed, member.stream, 0xB1D))
        self.battery = Battery.from_spec(member.battery) if member.battery else None
        self.meter = Meter(member.meter_key, member.id)
        self.seq = 0
        self._seq_key = member.id
        """The key ``seq`` counts for: it starts again at 0 under each day key."""
        self.plans: dict[int, Plan] = {}
        self.delivered_upto = -1
        self._bid_counts: dict[int, int] = {}
        self._prices: Prices | None = None
        self.sent: dict[int, Bid] = {}
        """The bid sent for each interval (the last one), for the strategy's feedback."""
        pump = member.heat_pump
        self.heat_pump = pump if pump is not None and pump.plan else None
        """A heat pump that plans within its comfort band (``heat_plan``); a
        thermostat's load is in ``load_kwh`` already."""
        self.indoor_c = pump.setpoint_c if pump is not None else 0.0
        """The house's indoor temperature after the last delivered interval."""
        self.indoor_log_c: dict[int, float] = {}
        self.heat_pump_log_kwh: dict[int, float] = {}
        """What a planning heat pump drew and left the house at, per delivered interval."""
        self._heat_prices: Prices | None = None

    @property
    def participant_id(self) -> str:
        return self.member.id

    def _projected_battery(self, index: int) -> Battery | None:
        """The battery as it will be when ``index`` starts, if pending plans are carried out."""
        if self.battery is None:
            return None
        projected = self.battery.copy()
        for k in sorted(self.plans):
            if self.delivered_upto < k < index:
                projected.dispatch(self.plans[k].battery_kwh, self.model.intervals[k].hours)
        return projected

    def plan(self, index: int) -> Plan:
        """Forecast the interval, plan the heat pump, then let the battery absorb surplus
        or cover need."""
        pv = max(0.0, float(self.pv_forecast_kwh[index]))
        load = max(0.0, float(self.load_forecast_kwh[index]))
        heating = self._heating(index) if self.heat_pump is not None else np.zeros(1)
        load += float(heating[0])
        battery = self._projected_battery(index)
        dispatch = 0.0
        hours = self.model.intervals[index].hours
        if battery is not None:
            wanted = (
                self._planned(index, battery, heating) if self.member.battery_planning else None
            )
            dispatch = battery.feasible(load - pv if wanted is None else wanted, hours)
        return Plan(pv, load, dispatch, pv + dispatch - load, float(heating[0]))

    def _need(self, index: int) -> np.ndarray:
        """Forecast load less PV over the planning horizon from ``index`` (``plan_lp``)."""
        hours = self.model.intervals[index].hours
        end = horizon_end(index, len(self.model.intervals), hours)
        return np.asarray(
            np.clip(self.load_forecast_kwh[index:end], 0, None)
            - np.clip(self.pv_forecast_kwh[index:end], 0, None)
        )

    def _projected_indoor_c(self, index: int) -> float:
        """The indoor temperature when ``index`` starts, if pending plans are carried out."""
        assert self.heat_pump is not None
        indoor = self.indoor_c
        for k in sorted(self.plans):
            if self.delivered_upto < k < index:
                indoor = self._heat(k, indoor, self.plans[k].heat_pump_kwh)
        return indoor

    def _heat(self, index: int, indoor_c: float, electric_kwh: float) -> float:
        """The indoor temperature after interval ``index`` with ``electric_kwh`` pumped."""
        assert self.heat_pump is not None
        model = self.model
        outdoor = float(model.outdoor_c[index])
        cop = float(cop_air_source(np.array(outdoor), self.heat_pump.sink_temperature_c))
        house = self.heat_pump.house(model.scenario.site.climate)
        hours = model.intervals[index].hours
        return carry_out(
            house, indoor_c, outdoor, cop * electric_kwh, self.heat_pump.comfort_max_c, hours
        )

    def _heating(self, index: int) -> np.ndarray:
        """The heat pump's rolling-horizon plan (``heat_plan``) from ``index``, in kWh
        per interval; a thermostat holding the band's bottom if HiGHS fails."""
        pump, model = self.heat_pump, self.model
        assert pump is not None
        if self._heat_prices is None:
            self._heat_prices = expected_prices(
                model.community_pv_forecast_kwh,
                self.member.participant.tariff,
                model.scenario.grid.local_charge_eur_per_kwh,
            )
        need = self._need(index)
        end = index + len(need)
        hours = model.intervals[index].hours
        outdoor = model.outdoor_c[index:end]
        cop = cop_air_source(outdoor, pump.sink_temperature_c)
        house = pump.house(model.scenario.site.climate)
        indoor = self._projected_indoor_c(index)
        prices = Prices(
            self._heat_prices.buy_eur_per_kwh[index:end],
            self._heat_prices.sell_eur_per_kwh[index:end],
        )
        limit = pump.max_power_kw * hours
        band = (pump.comfort_min_c, pump.comfort_max_c)
        plan = plan_heating(need, outdoor, cop, indoor, house, band, limit, hours, prices)
        if plan is not None:
            return np.clip(np.round(plan.electric_kwh, 6), 0.0, limit)
        first = hold_kwh(
            house, indoor, float(outdoor[0]), float(cop[0]), pump.comfort_min_c, limit, hours
        )
        return np.array([first])

    def _planned(self, index: int, battery: Battery, heating_kwh: np.ndarray) -> float | None:
        """The first interval of the rolling-horizon plan (``battery_plan``) from
        ``index`` to the end of the run, at most a day ahead, with the heat pump's
        planned load; None if it cannot solve."""
        if self._prices is None:
            self._prices = expected_prices(
                self.pv_forecast_kwh,
                self.member.participant.tariff,
                self.model.scenario.grid.local_charge_eur_per_kwh,
            )
        hours = self.model.intervals[index].hours
        need = self._need(index)
        end = index + len(need)
        if len(heating_kwh) == len(need):
            need = need + heating_kwh
        prices = Prices(
            self._prices.buy_eur_per_kwh[index:end], self._prices.sell_eur_per_kwh[index:end]
        )
        plan = plan_dispatch(
            need,
            battery.soc_kwh,
            battery.capacity_kwh,
            battery.power_kw,
            battery.efficiency,
            hours,
            prices,
        )
        return None if plan is None else float(plan[0])

    def step(self) -> None:
        """Bid for the model's gate interval: sell a forecast surplus, buy a need.

        The bid is inflexible: the surplus is produced and the need consumed whether or
        not a neighbour is matched, so the market routes what it does not match to the
        retailer, through the feeder."""
        index = self.model.gate_index
        interval_id = self.model.interval_ids[index]
        plan = self.plan(index)
        self.plans[index] = plan
        if abs(plan.net_kwh) < MIN_BID_KWH:
            return
        side = Side.SELL if plan.net_kwh > 0 else Side.BUY
        tariff = self.member.participant.tariff
        segments = self.strategy.segments(side, abs(plan.net_kwh), tariff, self.own_rng)
        if not segments:
            return
        n = self._bid_counts.get(index, 0)
        self._bid_counts[index] = n + 1
        key, preferred = self.member.keypair, self.member.preferred
        pseudonyms = self.model.pseudonyms
        if pseudonyms is not None:
            key = pseudonyms.key(self.member.id, interval_id).key
            preferred = tuple(pseudonyms.id_for(p, interval_id) for p in preferred)
        if key.public_hex != self._seq_key:
            self._seq_key, self.seq = key.public_hex, 0
        bid = Bid(
            bid_id=f"{interval_id}/{key.public_hex[:SHORT_ID]}/{n}",
            participant=key.public_hex,
            bus=self.member.bus,
            interval=interval_id,
            side=side,
            segments=segments,
            preferred=preferred if side is Side.SELL else (),
            seq=self.seq,
            inflexible=True,
        )
        self.seq += 1
        self.sent[index] = bid
        self.model.post_bid(Signed.signed_by(bid, key))

    def observe(self, index: int, price_eur_per_kwh: float, cleared_kwh: float) -> None:
        """Tell the strategy how the interval's bid did (its side's price, whether it
        traded): adaptive strategies learn from it."""
        bid = self.sent.pop(index, None)
        if bid is not None:
            self.strategy.observe(bid.side, price_eur_per_kwh, cleared_kwh > 0, self.own_rng)

    def _deliver_heat(self, index: int, plan: Plan | None) -> float:
        """Run the planning heat pump for the interval as planned (a thermostat holding
        the band's bottom when the agent did not bid) and step the house; its kWh."""
        pump = self.heat_pump
        assert pump is not None
        if plan is not None:
            electric = plan.heat_pump_kwh
        else:
            outdoor = float(self.model.outdoor_c[index])
            electric = hold_kwh(
                pump.house(self.model.scenario.site.climate),
                self.indoor_c,
                outdoor,
                float(cop_air_source(np.array(outdoor), pump.sink_temperature_c)),
                pump.comfort_min_c,
                pump.max_power_kw * self.model.intervals[index].hours,
                self.model.intervals[index].hours,
            )
        self.indoor_c = self._heat(index, self.indoor_c, electric)
        self.indoor_log_c[index] = self.indoor_c
        self.heat_pump_log_kwh[index] = electric
        return electric

    def deliver(self, index: int, curtailed_kwh: float = 0.0) -> None:
        """Meter the real interval: real PV and load, the battery doing what was planned
        (or plain self-consumption when the agent did not bid). A curtailment order
        caps the interval's export at the offered surplus less ``curtailed_kwh``, as an
        inverter's feed-in limit does: PV beyond it is not produced."""
        hours = self.model.intervals[index].hours
        pv, load = float(self.pv_kwh[index]), float(self.load_kwh[index])
        plan = self.plans.get(index)
        if self.heat_pump is not None:
            load += self._deliver_heat(index, plan)
        battery_kwh = 0.0
        if self.battery is not None:
            request = plan.battery_kwh if plan is not None else load - pv
            battery_kwh = self.battery.dispatch(request, hours)
        if plan is not None:
            pv = curtailed_pv_kwh(pv, load, battery_kwh, plan.net_kwh, curtailed_kwh)
        self.delivered_upto = max(self.delivered_upto, index)
        for k in [k for k in self.plans if k <= index]:
            del self.plans[k]
        interval_id = self.model.interval_ids[index]
        meter = self.meter
        if self.model.pseudonyms is not None:
            day = self.model.pseudonyms.key(self.member.id, interval_id)
            meter = Meter(day.meter, day.id)
        self.model.post_reading(meter.read_signed(interval_id, pv, load, battery_kwh))


class Household(MemberAgent):
    """A home: a consumer, or a prosumer with PV and perhaps a battery."""


class School(MemberAgent):
    """The school: a base load always, a teaching load on school days, no devices."""
