"""Settlement: what meters proved against what was traded, and rewards for proven supply.

Sign convention: every net quantity is *export positive* (energy the participant
delivered minus energy it took). The imbalance is settled with the participant's
retailer at its tariff, as if the market had not existed for that energy: a surplus is
sold at the feed-in price, a shortfall bought at the retail price.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from voisin.errors import InvalidInput
from voisin.ledger import transactions as tx
from voisin.protocol import MeterReading, PublicReading, Registration, Trade, TradeKind, Transaction
from voisin.protocol.settlements import SETTLEMENT_FIELDS, Settlement, SettlementRow
from voisin.protocol.trade_table import TradeTable

Reading = MeterReading | PublicReading
"""Settlement reads only a reading's public part (import, export, the export its PV
covers, estimated), which a whole reading also has."""

REWARD_MICRO_PER_KWH = 10_000
"""Reward rate: 0.01 token per kWh of proven local renewable delivery."""

_KWH_DIGITS = 9  # 1 mWh; hides float noise from sums without losing meter resolution
_EUR_DIGITS = 6  # one micro-token


_TradeColumns = tuple[Sequence[str], Sequence[str], Sequence[str], list[float], Sequence[str]]


def _trade_columns(trades: Sequence[Trade]) -> _TradeColumns:
    """Interval, seller, buyer, kWh and kind of each trade, in order: a ``TradeTable``'s
    own columns (the operator's trades: no ``Trade`` is built to be read once), else
    the objects' fields. The kWh are the same floats a ``Trade`` would hold."""
    if isinstance(trades, TradeTable):
        return (
            trades.interval,
            trades.seller,
            trades.buyer,
            trades.energy_kwh.tolist(),
            trades.kind,
        )
    return (
        [t.interval for t in trades],
        [t.seller for t in trades],
        [t.buyer for t in trades],
        [t.energy_kwh for t in trades],
        [t.kind for t in trades],
    )


def traded_net_kwh(interval: str, trades: Sequence[Trade]) -> dict[str, float]:
    """Sold minus bought per participant, grid trades included."""
    net: dict[str, float] = defaultdict(float)
    for at, seller, buyer, kwh, _ in zip(*_trade_columns(trades), strict=True):
        if at != interval:
            continue
        net[seller] += kwh
        net[buyer] -= kwh
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


def settlement_rows(
    interval: str,
    participants: Sequence[Registration],
    trades: Sequence[Trade],
    readings: Sequence[Reading],
) -> list[SettlementRow]:
    """Settle every participant registered for ``interval``, sorted by participant id
    (a one-time key is settled only in the intervals it is valid for).

    A missing (or operator-estimated) reading is estimated as the traded net, so its
    imbalance is zero, and the settlement says ``estimated=True``: never a silent zero.
    Trades and readings of other intervals are ignored.
    """
    by_id = {p.participant_id: p for p in participants if p.active(interval)}
    traded = traded_net_kwh(interval, trades)
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
        eur = round(imbalance * price, _EUR_DIGITS) + 0.0
        result.append((pid, interval, traded_net, metered, imbalance, eur, estimated))
    return result


def settle(
    interval: str,
    participants: Sequence[Registration],
    trades: Sequence[Trade],
    readings: Sequence[Reading],
) -> list[Settlement]:
    """``settlement_rows`` as ``Settlement`` objects (the public API, the accounts)."""
    return settlements_of(settlement_rows(interval, participants, trades, readings))


def settlements_of(rows: Sequence[SettlementRow]) -> list[Settlement]:
    """``Settlement`` objects of rows ``settlement_rows`` made."""
    return [Settlement(**dict(zip(SETTLEMENT_FIELDS, row, strict=True))) for row in rows]


def _proof(readings: Sequence[Reading], interval: str) -> dict[str, Reading]:
    """The interval's non-estimated readings by participant: what meters prove."""
    return {r.participant: r for r in readings if r.interval == interval and not r.estimated}


def proven_deliveries(
    interval: str, trades: Sequence[Trade], readings: Sequence[Reading]
) -> list[tuple[Trade, float]]:
    """Each p2p trade of ``interval`` with the kWh of it that both meters prove.

    A seller proves ``renewable_export_kwh = min(export, pv)`` of its reading (energy
    that left the house and that its panels made: a battery charged from the grid earns
    nothing), a buyer its
    ``import``; either is 0 without a non-estimated reading. Where a party traded more
    p2p than it proves, each of its trades is scaled by the same share, so the proven
    energy of a trade is ``energy x min(1, seller proves / seller sold) x min(1, buyer
    proves / buyer bought)``. No seller is credited more than it proves and no buyer's
    import is counted more than once: two exporters trading with each other (neither
    imports) prove nothing. Trades keep their order.
    """
    return [(trades[k], kwh) for k, _, kwh in _proven(interval, trades, readings)]


def _proven(
    interval: str, trades: Sequence[Trade], readings: Sequence[Reading]
) -> list[tuple[int, str, float]]:
    """``proven_deliveries`` as (trade index, seller, proven kWh), from the columns."""
    p2p = [
        (k, seller, buyer, kwh)
        for k, (at, seller, buyer, kwh, kind) in enumerate(
            zip(*_trade_columns(trades), strict=True)
        )
        if at == interval and kind == TradeKind.P2P
    ]
    sold: dict[str, float] = defaultdict(float)
    bought: dict[str, float] = defaultdict(float)
    for _, seller, buyer, kwh in p2p:
        sold[seller] += kwh
        bought[buyer] += kwh
    proof = _proof(readings, interval)
    out_share = {p: _share(r.renewable_export_kwh, sold[p]) for p, r in proof.items()}
    in_share = {p: _share(r.import_kwh, bought[p]) for p, r in proof.items()}
    return [
        (k, seller, kwh * out_share.get(seller, 0.0) * in_share.get(buyer, 0.0))
        for k, seller, buyer, kwh in p2p
    ]


def _share(proven_kwh: float, traded_kwh: float) -> float:
    """The share of its p2p trades a party's meter proves: min(1, proven / traded)."""
    return 1.0 if proven_kwh >= traded_kwh else proven_kwh / traded_kwh


def rewards_for(
    interval: str,
    trades: Sequence[Trade],
    readings: Sequence[Reading],
    rate_micro_per_kwh: int = REWARD_MICRO_PER_KWH,
) -> list[Transaction]:
    """Reward transactions (minted tokens) for one interval, sorted by seller id.

    A seller earns ``rate`` per kWh of the sum, over its p2p trades, of what both
    meters prove of each (``proven_deliveries``): local renewable energy that its meter
    proves left the house and its buyer's meter proves arrived. So the supply grows
    only with proven local delivery, and a wash trade mints nothing.
    """
    proven: dict[str, float] = defaultdict(float)
    for _, seller, kwh in _proven(interval, trades, readings):
        proven[seller] += kwh
    rewards = []
    for seller in sorted(proven):
        energy = round(proven[seller], _KWH_DIGITS) + 0.0
        amount = int(round(energy * rate_micro_per_kwh))
        if amount > 0:
            rewards.append(tx.reward(seller, amount, energy, interval))
    return rewards
