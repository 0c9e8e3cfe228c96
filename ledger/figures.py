"""Every figure reported about a market, computed from its ledger alone.

The one definition of each number that ``voisin simulate``'s summary, the dashboard,
the participants' statements and the HTML report show: which route a trade took, what a
token is worth, what a participant paid, the peer-to-peer share and the community's
self-sufficiency. ``LedgerFigures.take`` reads one transaction at a time, so the
dashboard can follow a growing ledger and the others read it in one pass.

Self-sufficiency follows Luthander et al., "Photovoltaic self-consumption in buildings:
a review", Applied Energy 142 (2015): the share of the load met by local generation,
here of the whole community behind the transformer, interval by interval.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from voisin.ledger.contract_effects import GIFT_MARK, gift_pairs
from voisin.ledger.contracts import ContractBook
from voisin.ledger.store import LedgerStore, open_store
from voisin.ledger.tokens import RENT_MEMO, TRADE_MEMO
from voisin.ledger.transactions import MICRO_PER_TOKEN
from voisin.protocol import GRID, TradeKind, TxKind

TOKEN_WORTH = "1 token = 1 EUR"  # noqa: S105 (a unit, not a secret)
"""What a token is worth: trades are paid in tokens at the cleared EUR prices."""


def tokens(micro: int | float) -> float:
    """Micro-tokens (the ledger's integer unit) as tokens."""
    return float(micro / MICRO_PER_TOKEN)


class Route(StrEnum):
    """Where a trade's energy went, seen from the community."""

    P2P = "p2p"
    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"


def trade_route(kind: str, seller: str, buyer: str) -> Route:
    """A trade body's route: peer to peer, or a leg with the upstream grid."""
    if kind == TradeKind.P2P.value:
        return Route.P2P
    if seller == GRID and buyer != GRID:
        return Route.GRID_IMPORT
    if buyer == GRID and seller != GRID:
        return Route.GRID_EXPORT
    raise ValueError(f"a grid trade between {seller[:12]} and {buyer[:12]}")


def is_gift(body: Mapping[str, Any], contracts: ContractBook) -> bool:
    """A trade filled by a gift share to its recipient: energy that costs nothing."""
    return str(body.get("seller_bid_id", "")).startswith(GIFT_MARK) and (
        body["seller"],
        body["buyer"],
    ) in gift_pairs(contracts, body["interval"])


def trade_eur(body: Mapping[str, Any], gift: bool) -> tuple[float, float]:
    """(what the buyer pays, what the seller receives) in EUR for one trade body."""
    if gift:
        return 0.0, 0.0
    kwh = body["energy_kwh"]
    return kwh * body["buyer_price_eur_per_kwh"], kwh * body["seller_price_eur_per_kwh"]


@dataclass(frozen=True)
class ReadingEnergy:
    """What one meter reading says (kWh); battery positive when it discharged."""

    participant: str
    interval: str
    pv_kwh: float
    load_kwh: float
    battery_kwh: float
    import_kwh: float
    export_kwh: float
    estimated: bool


class _Metered(Protocol):
    """A meter reading's energies, whole (``MeterReading``) or as read from the ledger."""

    @property
    def pv_kwh(self) -> float: ...
    @property
    def load_kwh(self) -> float: ...
    @property
    def battery_kwh(self) -> float: ...
    @property
    def import_kwh(self) -> float: ...
    @property
    def export_kwh(self) -> float: ...


def metered_parts(r: _Metered) -> tuple[tuple[str, float], ...]:
    """The energy-balance rows one reading adds to (kWh): the one split of a reading's
    battery into charge and discharge that the summary and the ledger figures share."""
    return (
        ("pv", r.pv_kwh),
        ("load", r.load_kwh),
        ("battery discharge", max(r.battery_kwh, 0.0)),
        ("battery charge", max(-r.battery_kwh, 0.0)),
        ("import", r.import_kwh),
        ("export", r.export_kwh),
    )


def reading_energy(body: Mapping[str, Any]) -> ReadingEnergy:
    """The one place a reading transaction's body is read: if readings become sealed to
    their owners, only this function changes."""
    # a public reading (docs/privacy.md) carries import and export only; PV, load and
    # battery stay sealed to the owner and count as 0 here
    return ReadingEnergy(
        participant=body["participant"],
        interval=body["interval"],
        pv_kwh=body.get("pv_kwh", 0.0),
        load_kwh=body.get("load_kwh", 0.0),
        battery_kwh=body.get("battery_kwh", 0.0),
        import_kwh=body["import_kwh"],
        export_kwh=body["export_kwh"],
        estimated=bool(body.get("estimated", False)),
    )


@dataclass
class IntervalFigures:
    """One market interval: what cleared (kWh, EUR/kWh), what the meters measured, the
    tokens that moved and the feeder's predicted state (``physics``, a GridState's JSON)."""

    interval: str
    status: str = ""
    prices_eur_per_kwh: dict[str, float] = field(default_factory=dict)
    trade_count: int = 0
    p2p_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    imbalance_short_kwh: float = 0.0
    imbalance_surplus_kwh: float = 0.0
    load_kwh: float = 0.0
    pv_kwh: float = 0.0
    import_kwh: float = 0.0
    export_kwh: float = 0.0
    battery_kwh: float = 0.0
    readings: int = 0
    settlements: int = 0
    estimated: int = 0
    paid_micro: int = 0
    minted_micro: int = 0
    physics: dict[str, Any] | None = None

    @property
    def cleared_kwh(self) -> float:
        """Energy the clearing scheduled: p2p plus both grid legs."""
        return self.p2p_kwh + self.grid_import_kwh + self.grid_export_kwh

    @property
    def upstream_import_kwh(self) -> float:
        """What the community as a whole drew through the transformer (metered)."""
        return max(self.import_kwh - self.export_kwh, 0.0)


@dataclass
class ParticipantFigures:
    """One participant's energy (kWh) and bill (EUR, paid positive) over the ledger."""

    participant: str
    group: str = ""
    kind: str = ""
    bus: str = ""
    import_tariff_eur_per_kwh: float = 0.0
    export_tariff_eur_per_kwh: float = 0.0
    p2p_bought_kwh: float = 0.0
    p2p_sold_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    market_eur: float = 0.0
    """Paid for trades minus received for them (gifts cost nothing)."""
    imbalance_eur: float = 0.0
    """Received for imbalances (negative: paid), as settlements record it."""
    baseline_eur: float = 0.0
    """The same metered energy at the participant's tariff, with no market."""
    peak_load_kwh: float = 0.0
    """The largest metered load of one interval."""
    last_interval: str = ""
    """The newest interval with a bid or a real (not estimated) reading of its own."""

    @property
    def bill_eur(self) -> float:
        return self.market_eur - self.imbalance_eur


@dataclass
class LedgerFigures:
    """Running figures over every transaction taken so far."""

    height: int = -1
    head_hash: str = ""
    trades: int = 0
    contracts: int = 0
    p2p_kwh: float = 0.0
    gifted_kwh: float = 0.0
    p2p_by_buyer_group: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    grid_import_kwh: float = 0.0
    """Cleared: bought from the grid at the clearing's prices."""
    grid_export_kwh: float = 0.0
    imbalance_short_kwh: float = 0.0
    """Metered short of trades: bought from the retailer."""
    imbalance_surplus_kwh: float = 0.0
    metered: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    """pv, load, battery charge, battery discharge, import, export (kWh)."""
    estimated_readings: int = 0
    to_sellers_micro: int = 0
    """Tokens buyers paid sellers for p2p trades."""
    rent_micro: int = 0
    """Tokens buyers paid the fund: congestion rent and wheeling between nodal prices."""
    minted_micro: int = 0
    genesis_micro: int = 0
    wheeling_fees_eur: float = 0.0
    congestion_rent_eur: float = 0.0
    """What buyers paid beyond what sellers received, less the wheeling fees."""
    participants: dict[str, ParticipantFigures] = field(default_factory=dict)
    intervals: dict[str, IntervalFigures] = field(default_factory=dict)
    contract_book: ContractBook = field(default_factory=ContractBook)
    groups: dict[str, str] = field(default_factory=dict)
    """Member id -> group, from whoever knows the members (the ledger does not)."""

    @classmethod
    def from_ledger(
        cls, source: str | Path | LedgerStore, groups: Mapping[str, str] | None = None
    ) -> LedgerFigures:
        """Every figure of the ledger at ``source``, in one pass over its transactions.
        The ledger names no member's group; ``groups`` (id -> group) supplies them."""
        store = open_store(source, read_only=True) if isinstance(source, str | Path) else source
        figures = cls(groups=dict(groups or {}))
        try:
            for height, block_hash, _, _ in store.raw_blocks():
                figures.height, figures.head_hash = height, block_hash
            for _, _, kind, body, _ in store.raw_transactions():
                figures.take(kind, json.loads(body))
        finally:
            if store is not source:
                store.close()
        return figures

    # -- derived figures ----------------------------------------------------------

    @property
    def paid_p2p_micro(self) -> int:
        """Tokens buyers paid for p2p trades: to sellers plus rent to the fund."""
        return self.to_sellers_micro + self.rent_micro

    @property
    def supply_micro(self) -> int:
        """Tokens in existence: genesis plus minted (transfers only move them)."""
        return self.genesis_micro + self.minted_micro

    @property
    def p2p_share(self) -> float:
        """Share of the energy participants bought that came from peers (0 when none)."""
        bought = self.p2p_kwh + self.grid_import_kwh + self.imbalance_short_kwh
        return self.p2p_kwh / bought if bought > 0 else 0.0

    @property
    def load_known(self) -> bool:
        """Whether the readings taken carried load (public readings do not)."""
        return any(i.load_kwh > 0 for i in self.intervals.values())

    def self_sufficiency_text(self, load_kwh: float | None = None) -> str:
        """The share as text; ``load_kwh`` is the community's load from its own meters
        (a simulation's, or the owners' opened readings) where the public ledger has none."""
        if self.load_known:
            return f"{self.self_sufficiency:.1%}"
        if load_kwh is not None and load_kwh > 0:
            return f"{self.self_sufficiency_for(load_kwh):.1%}"
        return "n/a (sealed)"

    @property
    def self_sufficiency(self) -> float:
        """Share of the community's metered load not drawn through the transformer."""
        # public readings carry no load: 0 says "not known"
        return self.self_sufficiency_for(sum(i.load_kwh for i in self.intervals.values()))

    def self_sufficiency_for(self, load_kwh: float) -> float:
        """Share of ``load_kwh`` not drawn through the transformer (Luthander et al. 2015)."""
        if load_kwh <= 0:
            return 0.0
        drawn = sum(i.upstream_import_kwh for i in self.intervals.values())
        return max(0.0, 1.0 - drawn / load_kwh)

    def by_group(self) -> dict[str, tuple[int, float, float]]:
        """Group -> (members, bill EUR, baseline EUR), groups sorted by name."""
        rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for p in self.participants.values():
            row = rows[p.group]
            row[0] += 1
            row[1] += p.bill_eur
            row[2] += p.baseline_eur
        return {g: (int(r[0]), r[1], r[2]) for g, r in sorted(rows.items())}

    def interval(self, interval: str) -> IntervalFigures:
        found = self.intervals.get(interval)
        if found is None:
            found = self.intervals[interval] = IntervalFigures(interval)
        return found

    def participant(self, pid: str) -> ParticipantFigures:
        found = self.participants.get(pid)
        if found is None:
            found = self.participants[pid] = ParticipantFigures(pid)
        return found

    # -- reading transactions -----------------------------------------------------

    def take(self, kind: str, body: Mapping[str, Any]) -> None:
        """Add one transaction (its kind's name and its JSON body)."""
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, body)

    def _registration(self, body: Mapping[str, Any]) -> None:
        p = self.participant(body["participant_id"])
        pid = body["participant_id"]
        p.group = self.groups.get(pid, body.get("group", "member"))
        p.kind, p.bus = body.get("kind", ""), body["bus"]
        p.import_tariff_eur_per_kwh = body["tariff"]["import_eur_per_kwh"]
        p.export_tariff_eur_per_kwh = body["tariff"]["export_eur_per_kwh"]

    def _contract(self, body: Mapping[str, Any]) -> None:
        self.contracts += 1
        self.contract_book.apply_body(dict(body))

    def _clearing(self, body: Mapping[str, Any]) -> None:
        i = self.interval(body["interval"])
        i.status = body["status"]
        i.prices_eur_per_kwh = dict(body.get("prices_eur_per_kwh", {}))
        i.trade_count = body.get("trade_count", 0)
        i.physics = body.get("physics")
        fees = body.get("wheeling_fees_eur", 0.0)
        self.wheeling_fees_eur += fees
        self.congestion_rent_eur -= fees

    def _bid(self, body: Mapping[str, Any]) -> None:
        pid, interval = body.get("participant"), body.get("interval")
        if isinstance(pid, str) and isinstance(interval, str):
            p = self.participant(pid)
            p.last_interval = max(p.last_interval, interval)

    def _trade(self, body: Mapping[str, Any]) -> None:
        self.trades += 1
        kwh = body["energy_kwh"]
        route = trade_route(body["kind"], body["seller"], body["buyer"])
        gift = route is Route.P2P and is_gift(body, self.contract_book)
        paid, received = trade_eur(body, gift)
        self.congestion_rent_eur += paid - received
        i = self.interval(body["interval"])
        if route is Route.P2P:
            self.p2p_kwh += kwh
            self.gifted_kwh += kwh if gift else 0.0
            i.p2p_kwh += kwh
            buyer, seller = self.participant(body["buyer"]), self.participant(body["seller"])
            self.p2p_by_buyer_group[buyer.group] += kwh
            buyer.p2p_bought_kwh += kwh
            seller.p2p_sold_kwh += kwh
            buyer.market_eur += paid
            seller.market_eur -= received
        elif route is Route.GRID_IMPORT:
            self.grid_import_kwh += kwh
            i.grid_import_kwh += kwh
            buyer = self.participant(body["buyer"])
            buyer.grid_import_kwh += kwh
            buyer.market_eur += paid
        else:
            self.grid_export_kwh += kwh
            i.grid_export_kwh += kwh
            seller = self.participant(body["seller"])
            seller.grid_export_kwh += kwh
            seller.market_eur -= received

    def _reading(self, body: Mapping[str, Any]) -> None:
        r = reading_energy(body)
        m = self.metered
        for name, kwh in metered_parts(r):
            m[name] += kwh
        i = self.interval(r.interval)
        i.readings += 1
        i.load_kwh += r.load_kwh
        i.pv_kwh += r.pv_kwh
        i.import_kwh += r.import_kwh
        i.export_kwh += r.export_kwh
        i.battery_kwh += r.battery_kwh
        p = self.participant(r.participant)
        p.baseline_eur += (
            r.import_kwh * p.import_tariff_eur_per_kwh - r.export_kwh * p.export_tariff_eur_per_kwh
        )
        p.peak_load_kwh = max(p.peak_load_kwh, r.load_kwh)
        if not r.estimated:
            p.last_interval = max(p.last_interval, r.interval)

    def _settlement(self, body: Mapping[str, Any]) -> None:
        kwh = body["imbalance_kwh"]
        i = self.interval(body["interval"])
        i.settlements += 1
        if kwh > 0:
            self.imbalance_surplus_kwh += kwh
            i.imbalance_surplus_kwh += kwh
        else:
            self.imbalance_short_kwh -= kwh
            i.imbalance_short_kwh -= kwh
        if body["estimated"]:
            self.estimated_readings += 1
            i.estimated += 1
        self.participant(body["participant"]).imbalance_eur += body["imbalance_eur"]

    def _transfer(self, body: Mapping[str, Any]) -> None:
        memo, amount = body.get("memo", ""), body["amount_micro"]
        if memo.startswith(TRADE_MEMO):
            self.to_sellers_micro += amount
            self.interval(memo[len(TRADE_MEMO) :]).paid_micro += amount
        elif memo.startswith(RENT_MEMO):
            self.rent_micro += amount
            self.interval(memo[len(RENT_MEMO) :]).paid_micro += amount

    def _reward(self, body: Mapping[str, Any]) -> None:
        self.minted_micro += body["amount_micro"]
        self.interval(body["interval"]).minted_micro += body["amount_micro"]

    def _genesis(self, body: Mapping[str, Any]) -> None:
        self.genesis_micro += body["amount_micro"]


_HANDLERS = {
    TxKind.REGISTRATION.value: LedgerFigures._registration,
    TxKind.CONTRACT.value: LedgerFigures._contract,
    TxKind.CLEARING.value: LedgerFigures._clearing,
    TxKind.BID.value: LedgerFigures._bid,
    TxKind.TRADE.value: LedgerFigures._trade,
    TxKind.READING.value: LedgerFigures._reading,
    TxKind.SETTLEMENT.value: LedgerFigures._settlement,
    TxKind.TRANSFER.value: LedgerFigures._transfer,
    TxKind.REWARD.value: LedgerFigures._reward,
    TxKind.GENESIS.value: LedgerFigures._genesis,
}
