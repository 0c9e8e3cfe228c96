"""Running totals of a simulation: energy by route and each participant's bill.

A bill is what the participant paid minus what it received: market trades at the
cleared prices plus the imbalance it settled with its retailer, plus the fixed part of
its connection. The baseline is the same metered energy bought and sold at the
participant's tariff with no market, plus the same fixed part. The local charge on
p2p energy (network charges and levies) is in the trade prices; each bill also says
how much of it the member's purchases carried, so a bill without network charges can
be shown beside it. These are the run's own in-memory totals; the energy, token and
ledger figures reported are recomputed from the written ledger
(``voisin.ledger.figures``), and the tests hold the two equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from voisin.ledger import Settlement
from voisin.ledger.contract_effects import is_gift_trade
from voisin.ledger.figures import Route, metered_parts, trade_route
from voisin.protocol import GRID, ClearingResult, MeterReading, Participant, own_charges


@dataclass
class Bill:
    participant: Participant
    market_eur: float = 0.0
    imbalance_eur: float = 0.0
    baseline_eur: float = 0.0
    """The grid-only bill, its fixed part included."""
    fixed_eur: float = 0.0
    """The connection's fixed part (network, metering), owed with or without a market."""
    local_charges_eur: float = 0.0
    """Network charges and levies on what it bought peer to peer (inside ``market_eur``)."""

    @property
    def total_eur(self) -> float:
        return self.market_eur - self.imbalance_eur + self.fixed_eur


@dataclass
class Accounts:
    """Energy (kWh) by route and a Bill per participant, summed over the run."""

    p2p_kwh: float = 0.0
    p2p_by_buyer_group: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    tokens_paid: float = 0.0
    gifted_kwh: float = 0.0
    congestion_rent_eur: float = 0.0
    wheeling_fees_eur: float = 0.0
    local_charges_eur: float = 0.0
    """Network charges and levies on p2p energy, to the network operator and the state."""
    local_charge_eur_per_kwh: float = 0.0
    """The grid's local charge, per p2p kWh (set by the run); a member whose tariff
    names its own owes that on what it buys (``Tariff.local_charge_or``)."""
    grid_legs_eur: float = 0.0
    """What the grid received for imports minus what it paid for exports."""
    estimated_readings: int = 0
    bills: dict[str, Bill] = field(default_factory=dict)
    metered: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    """What meters measured (kWh): pv, load, battery charge/discharge, import, export."""
    imbalance_short_kwh: float = 0.0
    """Metered below traded (bought from the retailer at retail)."""
    imbalance_surplus_kwh: float = 0.0
    """Metered above traded (sold to the retailer at feed-in)."""
    peak_load_kwh: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    """Each participant's largest interval load (kWh per interval)."""

    @property
    def charged(self) -> bool:
        """Whether any member owes a local charge on p2p energy."""
        return any(
            b.participant.tariff.local_charge_or(self.local_charge_eur_per_kwh)
            for b in self.bills.values()
        )

    @property
    def own_charges(self) -> int:
        """Members whose tariff names a local charge of its own."""
        return len(own_charges(b.participant for b in self.bills.values()))

    def register(self, participants: Iterable[Participant]) -> None:
        for p in participants:
            self.bills[p.participant_id] = Bill(p)

    def record(
        self,
        result: ClearingResult,
        settlements: Iterable[Settlement],
        readings: Iterable[MeterReading],
        gifts: Collection[tuple[str, str]] = (),
    ) -> None:
        """Add one interval; trades filled by a gift share in ``gifts`` cost nothing."""
        gift_pairs = set(gifts)
        # Buyers pay sellers, the grid, the lines' owners (fees) and the fund (rent).
        self.wheeling_fees_eur += result.wheeling_fees_eur
        self.congestion_rent_eur -= result.wheeling_fees_eur
        for trade in result.trades:
            gift = is_gift_trade(trade, gift_pairs)
            route = trade_route(trade.kind.value, trade.seller, trade.buyer)
            if route is Route.P2P:
                self.p2p_kwh += trade.energy_kwh
                group = self.bills[trade.buyer].participant.group
                self.p2p_by_buyer_group[group] += trade.energy_kwh
                self.gifted_kwh += trade.energy_kwh if gift else 0.0
            elif route is Route.GRID_IMPORT:
                self.grid_import_kwh += trade.energy_kwh
            else:
                self.grid_export_kwh += trade.energy_kwh
            if gift:
                continue
            self.congestion_rent_eur += trade.paid_eur - trade.received_eur
            if route is Route.P2P:
                self.tokens_paid += trade.paid_eur
                bill = self.bills[trade.buyer]
                charge = (
                    bill.participant.tariff.local_charge_or(self.local_charge_eur_per_kwh)
                    * trade.energy_kwh
                )
                self.local_charges_eur += charge
                self.congestion_rent_eur -= charge
                bill.local_charges_eur += charge
            if trade.seller == GRID:
                self.grid_legs_eur += trade.received_eur
            else:
                self.bills[trade.seller].market_eur -= trade.received_eur
            if trade.buyer == GRID:
                self.grid_legs_eur -= trade.paid_eur
            else:
                self.bills[trade.buyer].market_eur += trade.paid_eur
        for s in settlements:
            self.bills[s.participant].imbalance_eur += s.imbalance_eur
            if s.imbalance_kwh > 0:
                self.grid_export_kwh += s.imbalance_kwh
            else:
                self.grid_import_kwh -= s.imbalance_kwh
            self.estimated_readings += int(s.estimated)
            if s.imbalance_kwh > 0:
                self.imbalance_surplus_kwh += s.imbalance_kwh
            else:
                self.imbalance_short_kwh -= s.imbalance_kwh
        for r in readings:
            for name, kwh in metered_parts(r):
                self.metered[name] += kwh
            peak = self.peak_load_kwh
            peak[r.participant] = max(peak[r.participant], r.load_kwh)
            bill = self.bills[r.participant]
            tariff = bill.participant.tariff
            bill.baseline_eur += (
                r.import_kwh * tariff.import_eur_per_kwh - r.export_kwh * tariff.export_eur_per_kwh
            )

    def add_fixed(self, fixed_eur_per_day: Callable[[str], float], days: float) -> None:
        """Every connection's fixed part over ``days`` (``fixed_eur_per_day`` of its
        participant id), on the bill and the baseline."""
        for participant, bill in self.bills.items():
            fixed = fixed_eur_per_day(participant) * days
            bill.fixed_eur += fixed
            bill.baseline_eur += fixed

    def by_group(self) -> dict[str, tuple[int, float, float, float]]:
        """Group -> (members, bill EUR, baseline EUR, local charges EUR), by group name."""
        totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
        for bill in self.bills.values():
            row = totals[bill.participant.group]
            row[0] += 1
            row[1] += bill.total_eur
            row[2] += bill.baseline_eur
            row[3] += bill.local_charges_eur
        return {g: (int(r[0]), r[1], r[2], r[3]) for g, r in sorted(totals.items())}
