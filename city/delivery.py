"""What a city's meters measure after an interval clears: each member's signed reading.

A household's inflexible bid is its forecast net position, PV less load
(``CityFeeder.forecast_kwh``). What it delivers differs from the forecast, as a real
home's does, by a seeded deviation: its PV and its load are each scaled by a factor
drawn uniformly in ``[1 - DEVIATION, 1 + DEVIATION]``, one draw per household, from a
generator seeded by the city's seed, the feeder and the interval, so every worker
draws the same; a SimBench home's storage does its schedule
(``CityFeeder.storage_kwh``). A curtailment order caps its export as on a lone feeder
(``meters.curtailed_pv_kwh``). A battery (a flexible bid) does what the market
dispatched: its meter reads its traded net, so its imbalance is only the meter's
rounding (at most half a Wh). Every member registered on the feeder gets a reading
each interval, signed by its meter key (``meters.Meter``); the feeder's ``Operator``
settles them exactly as on a lone feeder (``Operator.settle``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from voisin.city.feeders import CityFeeder
from voisin.ledger.settlement import traded_net_kwh
from voisin.meters.meter import Meter, curtailed_pv_kwh
from voisin.protocol import ClearingResult, MeterReading, ParticipantKind, Side
from voisin.protocol.interval import Interval
from voisin.protocol.signed import Signed

DEVIATION = 0.05
"""The largest share by which a household's delivered PV, or load, misses its forecast."""

_DELIVERY_STREAM = 1
"""Tells the delivery's random stream from the bids' (``[seed, feeder, start]``)."""


def delivery_factors(
    seed: int, index: int, interval: Interval, labels: list[str]
) -> dict[str, tuple[float, float]]:
    """(PV factor, load factor) per household label of feeder ``index`` in
    ``interval``, drawn in label order."""
    draws = np.random.default_rng(
        [seed, index, int(interval.start.timestamp()), _DELIVERY_STREAM]
    ).uniform(1.0 - DEVIATION, 1.0 + DEVIATION, (len(labels), 2))
    return {
        label: (float(pv), float(load)) for label, (pv, load) in zip(labels, draws, strict=True)
    }


def readings(
    feeder: CityFeeder,
    seed: int,
    index: int,
    interval: Interval,
    result: ClearingResult,
    meters: Mapping[str, Meter],
) -> list[Signed[MeterReading]]:
    """Every member's signed reading of ``interval`` (module docstring), with the bytes
    its meter sends (``Meter.read_signed``): ``meters`` by
    bid participant label (each meter names its member's registered key), ``result``
    the feeder's clearing, whose trades and curtailment orders are by that key."""
    traded = traded_net_kwh(interval.id, result.trades)
    offered = {
        bid.participant: bid.energy_kwh if bid.side is Side.SELL else -bid.energy_kwh
        for bid in feeder.bids
        if bid.inflexible
    }
    homes = sorted(label for label in meters if feeder.kind_of(label) is ParticipantKind.HOUSEHOLD)
    factors = delivery_factors(seed, index, interval, homes)
    out = []
    for label in sorted(meters):
        meter = meters[label]
        member = meter.participant
        if label in factors:
            pv_forecast, load_forecast = feeder.forecast_kwh[label]
            pv_factor, load_factor = factors[label]
            pv, load = pv_forecast * pv_factor, load_forecast * load_factor
            storage = feeder.storage_kwh.get(label, 0.0)  # as scheduled, no deviation
            ordered = result.curtailed_kwh.get(member, 0.0)
            pv = curtailed_pv_kwh(pv, load, storage, offered.get(label, 0.0), ordered)
            out.append(meter.read_signed(interval.id, pv, load, storage))
        else:  # a battery: what it was dispatched, export positive
            out.append(meter.read_signed(interval.id, 0.0, 0.0, traded.get(member, 0.0)))
    return out
