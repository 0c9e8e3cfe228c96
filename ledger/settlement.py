"""Settlement: what meters proved against what was traded, and rewards for proven supply.

Sign convention: every net quantity is *export positive* (energy the participant
delivered minus energy it took). The imbalance is settled with the participant's
retailer at its tariff, as if the market had not existed for that energy: a surplus is
sold at the feed-in price, a shortfall bought at the retail price.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from voisin.errors import InvalidInput
from voisin.ledger import transactions as tx
from voisin.protocol import MeterReading, PublicReading, Registration, Trade, TradeKind, Transaction

Reading = MeterReading | PublicReading
"""Settlement reads only a reading's public part (import, export, the export its PV
covers, estimated), which a whole reading also has."""

REWARD_MICRO_PER_KWH = 10_000
"""Reward rate: 0.01 token per kWh of proven local renewable delivery."""

_KWH_DIGITS = 9  # 1 mWh; hides float noise from sums without losing meter resolution
_EUR_DIGITS = 6  # one micro-token


class Settlement(BaseModel):
    """One participant's settlement for one interval (kWh export positive, EUR received)."""

    model_config = ConfigDict(frozen=True)

    participant: str
    interval: str
    traded_net_kwh: float
    metered_net_kwh: float
    imbalance_kwh: float
    imbalance_eur: float
    estimated: bool


def _traded_net(interval: str, trades: Sequence[Trade]) -> dict[str, float]:
    """Sold minus bought per participant, grid trades included."""
    net: dict[str, float] = defaultdict(float)
    for t in trades:
        if t.interval != interval:
            continue
        net[t.seller] += t.energy_kwh
        net[t.buyer] -= t.energy_kwh
    return net


def _readings_by_participant(
    interval: str, readings: Sequence[Reading], known: set[str]
) -> dict[str, Reading]:
    found: dict[str, Reading] = {}
    for r in readings:
        if r.interval != interval:
            continue
        if r.participant not in known:
            raise InvalidInput(
                f"reading for unknown participant {r.participant} in {interval}",
                code="unknown-participant",
            )
        if r.participant in found:
            raise InvalidInput(
                f"two readings for {r.participant} in {interval}", code="duplicate-reading"
            )
        found[r.participant] = r
    return found


def settle(
    interval: str,
    participants: Sequence[Registration],
    trades: Sequence[Trade],
    readings: Sequence[Reading],
) -> list[Settlement]:
    """Settle every participant registered for ``interval``, sorted by participant id
    (a one-time key is settled only in the intervals it is valid for).

    A missing (or operator-estimated) reading is estimated as the traded net, so its
    imbalance is zero, and the settlement says ``estimated=True``: never a silent zero.
    Trades and readings of other intervals are ignored.
    """
    by_id = {p.participant_id: p for p in participants if p.active(interval)}
    traded = _traded_net(interval, trades)
    found = _readings_by_participant(interval, readings, set(by_id))
    result = []
    for pid in sorted(by_id):
        tariff = by_id[pid].tariff
        traded_net = round(traded.get(pid, 0.0), _KWH_DIGITS)
        reading = found.get(pid)
        estimated = reading is None or reading.estimated
        metered = traded_net if reading is None else round(reading.net_export_kwh, _KWH_DIGITS)
        imbalance = round(metered - traded_net, _KWH_DIGITS)
        price = tariff.export_eur_per_kwh if imbalance > 0 else tariff.import_eur_per_kwh
        result.append(
            Settlement(
                participant=pid,
                interval=interval,
                traded_net_kwh=traded_net,
                metered_net_kwh=metered,
                imbalance_kwh=imbalance,
                imbalance_eur=round(imbalance * price, _EUR_DIGITS) + 0.0,
                estimated=estimated,
            )
        )
    return result


def rewards_for(
    interval: str,
    trades: Sequence[Trade],
    readings: Sequence[Reading],
    rate_micro_per_kwh: int = REWARD_MICRO_PER_KWH,
) -> list[Transaction]:
    """Reward transactions (minted tokens) for one interval, sorted by seller id.

    A seller earns ``rate`` per kWh of ``min(p2p kWh sold, metered export, metered PV)``:
    renewable energy it sold to a neighbour that its own meter proves left the house. The
    PV bound keeps a battery that charged from the grid from earning green rewards. No
    reading, or an estimated one, proves nothing and earns nothing.
    """
    sold: dict[str, float] = defaultdict(float)
    for t in trades:
        if t.interval == interval and t.kind is TradeKind.P2P:
            sold[t.seller] += t.energy_kwh
    exported = {
        r.participant: r.renewable_export_kwh
        for r in readings
        if r.interval == interval and not r.estimated
    }
    rewards = []
    for seller in sorted(sold):
        proven = round(min(sold[seller], exported.get(seller, 0.0)), _KWH_DIGITS)
        amount = int(round(proven * rate_micro_per_kwh))
        if amount > 0:
            rewards.append(tx.reward(seller, amount, proven, interval))
    return rewards
