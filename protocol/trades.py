"""Trades and the clearing result of one interval, and the rule that prices a trade."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from voisin.protocol.bids import Side
from voisin.protocol.physics import GridState
from voisin.protocol.trade_table import Trade as Trade
from voisin.protocol.trade_table import TradeKind as TradeKind
from voisin.protocol.trade_table import TradeTable

if TYPE_CHECKING:
    from voisin.protocol.bids import BidView

GRID = "grid"
"""Counterparty name of the upstream grid in grid trades."""
PRICE_DECIMALS = 9
"""Prices are EUR/kWh rounded to 1e-9 (a nano-euro per kWh)."""


@dataclass(frozen=True)
class LocalCharges:
    """The local charges (network charges and levies on energy from a neighbour) one
    clearing prices its trades with (docs/economics.md, "Per-buyer charges").

    ``reference_eur_per_kwh`` is the lowest charge any buyer of the book owes (the
    community's ``Grid.local_charge_eur_per_kwh`` when every buyer owes that, or
    nobody buys): every seller receives its price less it, and an export earns the root
    price less it. ``excess_eur_per_kwh`` (by participant, only those above the
    reference) is what a buyer's own charge adds. ``import_credit_eur_per_kwh`` is the
    dual of the clearing's import credit (the excess of the marginal buyer the upstream
    grid serves; ``ClearingResult.import_credit_eur_per_kwh``): an import is paid the
    root price plus it, and a buyer pays its bus price plus min(its excess, the credit).
    """

    reference_eur_per_kwh: float = 0.0
    excess_eur_per_kwh: Mapping[str, float] = field(default_factory=dict)
    import_credit_eur_per_kwh: float = 0.0

    @classmethod
    def of(
        cls,
        bids: Iterable[BidView],
        own_eur_per_kwh: Mapping[str, float],
        community_eur_per_kwh: float,
        import_credit_eur_per_kwh: float = 0.0,
    ) -> LocalCharges:
        """The charges of a book: each buyer owes ``own_eur_per_kwh`` (by participant),
        else the community's; the reference is the lowest over the buy bids; the credit
        at most the largest excess."""
        if not own_eur_per_kwh:
            return cls(community_eur_per_kwh, {}, 0.0)
        owed = {
            b.participant: own_eur_per_kwh.get(b.participant, community_eur_per_kwh)
            for b in bids
            if b.side is Side.BUY
        }
        reference = min(owed.values(), default=community_eur_per_kwh)
        excess = {p: c - reference for p, c in sorted(owed.items()) if c > reference}
        # Where the LP's import credit row is degenerate (nothing imported) its dual may
        # exceed every excess; capped there, it prices no buyer differently.
        credit = min(import_credit_eur_per_kwh, max(excess.values(), default=0.0))
        return cls(reference, excess, round(credit, PRICE_DECIMALS) + 0.0)

    def owed_eur_per_kwh(self, buyer: str) -> float:
        """The charge on one kWh ``buyer`` (a participant id) takes from a neighbour."""
        return self.reference_eur_per_kwh + self.excess_eur_per_kwh.get(buyer, 0.0)

    def buyer_eur_per_kwh(self, buyer: str) -> float:
        """What ``buyer`` pays above its bus price: min(its excess, the import credit)."""
        return min(self.excess_eur_per_kwh.get(buyer, 0.0), self.import_credit_eur_per_kwh)


def trade_prices(
    prices_eur_per_kwh: Mapping[str, float],
    root: str,
    premium_eur_per_kwh: float,
    seller: BidView | None,
    buyer: BidView | None,
    adjustment_eur_per_kwh: Mapping[str, float] | None = None,
    charges: LocalCharges | None = None,
) -> tuple[float, float]:
    """(buyer's, seller's) price of a trade between two bids (None: the grid), EUR/kWh.

    One rule for the market that writes trades and the verifier that re-derives them: a
    buyer pays its bus price plus its bid's adjustment (by bid id: where its settlement
    price differs from the bus price), plus the green premium if its bid is green-only,
    plus min(its excess charge, the import credit) (``LocalCharges``); a seller
    receives its bus price plus its adjustment plus the premium, less the reference
    local charge (the network charges and levies on local energy); the grid side takes
    the root price plus the import credit when it sells, less the reference charge when
    it buys (an export pays no local charge). When the buyer is among the seller's
    ``preferred``, both move down by the seller's discount, cut so the seller still
    receives at least its highest limit. Both are rounded to ``PRICE_DECIMALS``.
    """
    adjust = adjustment_eur_per_kwh or {}
    local = charges or LocalCharges()
    root_price = prices_eur_per_kwh[root]
    buyer_price = root_price - local.reference_eur_per_kwh
    if buyer is not None:
        buyer_price = (
            prices_eur_per_kwh[buyer.bus]
            + adjust.get(buyer.bid_id, 0.0)
            + (premium_eur_per_kwh if buyer.green_only else 0.0)
            + local.buyer_eur_per_kwh(buyer.participant)
        )
    seller_price = root_price + local.import_credit_eur_per_kwh
    if seller is not None:
        seller_price = (
            prices_eur_per_kwh[seller.bus]
            + adjust.get(seller.bid_id, 0.0)
            + premium_eur_per_kwh
            - local.reference_eur_per_kwh
        )
    if seller is not None and buyer is not None and buyer.participant in seller.preferred:
        ceiling = max(s.price_eur_per_kwh for s in seller.segments)
        discount = min(seller.preferred_discount_eur_per_kwh, max(0.0, seller_price - ceiling))
        buyer_price -= discount
        seller_price -= discount
    return (round(buyer_price, PRICE_DECIMALS) + 0.0, round(seller_price, PRICE_DECIMALS) + 0.0)


def bid_kind(bid: BidView) -> str:
    """The key of a bid in ``settlement_prices_eur_per_kwh``: ``buy``, ``sell``,
    ``buy-inflexible`` or ``sell-inflexible``."""
    return bid.side.value + ("-inflexible" if bid.inflexible else "")


def recorded_adjustments(
    bids: Iterable[BidView],
    prices_eur_per_kwh: Mapping[str, float],
    settlement_prices_eur_per_kwh: Mapping[str, Mapping[str, float]],
) -> dict[str, float]:
    """Each bid's adjustment read back from a clearing: its bus and kind's settlement
    price less its bus price (rounded to ``PRICE_DECIMALS``), where one is recorded."""
    adjust: dict[str, float] = {}
    for bid in bids:
        price = settlement_prices_eur_per_kwh.get(bid.bus, {}).get(bid_kind(bid))
        if price is not None:
            adjust[bid.bid_id] = round(price - prices_eur_per_kwh[bid.bus], PRICE_DECIMALS) + 0.0
    return adjust


class PricingMode(StrEnum):
    """``nodal``: one price per bus under the feeder's limits. ``uniform``: one price for
    the whole community, lines ignored (for communities that choose it)."""

    NODAL = "nodal"
    UNIFORM = "uniform"


class ClearingStatus(StrEnum):
    OPTIMAL = "optimal"
    EMPTY = "empty"


class ClearingResult(BaseModel):
    """What the market decided for one interval, enough to re-check it.

    ``cleared_kwh`` maps bid id to accepted energy; ``prices_eur_per_kwh`` maps bus to
    its nodal price. ``book_hash`` and ``grid_hash`` let anyone re-clear and compare.
    ``wheeling_fees_eur`` is what the lines charged for carrying energy,
    ``local_charges_eur`` the local charges on the p2p trades (each buyer's own),
    ``import_credit_eur_per_kwh`` the import credit of per-buyer charges
    (``LocalCharges``);
    ``green_premium_eur_per_kwh`` what green-only buyers pay on top of their bus price,
    and every seller receives on top of its own, when green supply is scarce (see
    docs/clearing.md). These are left out of the serialised form while they are 0.

    ``price_parts_eur_per_kwh`` takes each bus price apart (energy, loss, congestion,
    voltage, fee; they add up to the price). A bid settles at its bus price unless
    ``settlement_prices_eur_per_kwh`` names another for its bus and kind (``buy``,
    ``sell``, ``buy-inflexible``, ``sell-inflexible``): a consumer also pays for the
    reactive power it draws, and matched inflexible energy flows whether matched or
    not, so it is worth the match, not the bus's physical marginal value. ``curtailed_kwh``
    and ``shed_kwh`` name, per participant, energy the feeder could not take or serve, and
    ``physics`` the predicted voltages, flows and losses of a physical grid. Each is left
    out while empty.
    """

    model_config = ConfigDict(frozen=True)

    interval: str
    status: ClearingStatus
    welfare_eur: float
    prices_eur_per_kwh: dict[str, float]
    cleared_kwh: dict[str, float]
    trades: TradeTable
    """Its trades as columns (``TradeTable``, a sequence of ``Trade``)."""
    grid_import_kwh: float
    grid_export_kwh: float
    congestion_rent_eur: float
    book_hash: str
    grid_hash: str
    solver: str
    pricing: PricingMode = PricingMode.NODAL
    wheeling_fees_eur: float = 0.0
    local_charges_eur: float = 0.0
    import_credit_eur_per_kwh: float = Field(default=0.0, ge=0)
    green_premium_eur_per_kwh: float = Field(default=0.0, ge=0)
    price_parts_eur_per_kwh: dict[str, dict[str, float]] = Field(default_factory=dict)
    settlement_prices_eur_per_kwh: dict[str, dict[str, float]] = Field(default_factory=dict)
    curtailed_kwh: dict[str, float] = Field(default_factory=dict)
    shed_kwh: dict[str, float] = Field(default_factory=dict)
    curtailment_eur: float = 0.0
    rest_kwh: float = 0.0
    """A city's feeder (``market.upstream``): the net kWh (import positive) of inflexible
    positions left unmatched that cross the transformer inside the grid exchange; the
    grid trades carry the rest of the exchange. On a
    lone feeder the retailer takes them outside the market, and this is 0."""
    rest_eur: float = 0.0
    """What the members' suppliers pay for that rest (EUR; negative: they are paid),
    each bus's rest at the bus's price (``market.publish``). Not on the ledger: anyone
    re-clearing the interval finds it."""
    losses_kwh: float = 0.0
    """A city's physical feeder: the kWh its lines and transformer lose, which cross the
    transformer inside the exchange the city allocated it but in no trade, so the
    exchange is ``grid_import_kwh - grid_export_kwh + losses_kwh``. 0 elsewhere (a lone
    feeder's retailer meets its losses outside the market)."""
    physics: GridState | None = None

    @model_serializer(mode="wrap")
    def _omit_zero_extras(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in (
            "wheeling_fees_eur",
            "local_charges_eur",
            "import_credit_eur_per_kwh",
            "green_premium_eur_per_kwh",
            "curtailment_eur",
            "rest_kwh",
            "rest_eur",
            "losses_kwh",
        ):
            if getattr(self, name) == 0:
                data.pop(name, None)
        for name in (
            "price_parts_eur_per_kwh",
            "settlement_prices_eur_per_kwh",
            "curtailed_kwh",
            "shed_kwh",
            "physics",
        ):
            if not getattr(self, name):
                data.pop(name, None)
        return data
