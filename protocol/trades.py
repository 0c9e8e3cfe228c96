"""Trades and the clearing result of one interval."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

GRID = "grid"
"""Counterparty name of the upstream grid in grid trades."""


class TradeKind(StrEnum):
    P2P = "p2p"
    GRID = "grid"


class Trade(BaseModel):
    """Energy from ``seller`` to ``buyer`` in one interval; one side may be ``GRID``.

    The buyer pays ``buyer_price_eur_per_kwh`` and the seller receives
    ``seller_price_eur_per_kwh``; the two differ when the trade crosses a congested
    line (the gap is congestion rent). The bid ids (empty on the grid side) tie each
    trade to the bids it fills, so the ledger alone shows a bid's cleared energy.
    """

    model_config = ConfigDict(frozen=True)

    interval: str
    seller: str
    buyer: str
    energy_kwh: float = Field(gt=0)
    buyer_price_eur_per_kwh: float
    seller_price_eur_per_kwh: float
    kind: TradeKind
    buyer_bid_id: str = ""
    seller_bid_id: str = ""

    @property
    def paid_eur(self) -> float:
        return self.energy_kwh * self.buyer_price_eur_per_kwh

    @property
    def received_eur(self) -> float:
        return self.energy_kwh * self.seller_price_eur_per_kwh


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
    """

    model_config = ConfigDict(frozen=True)

    interval: str
    status: ClearingStatus
    welfare_eur: float
    prices_eur_per_kwh: dict[str, float]
    cleared_kwh: dict[str, float]
    trades: tuple[Trade, ...]
    grid_import_kwh: float
    grid_export_kwh: float
    congestion_rent_eur: float
    book_hash: str
    grid_hash: str
    solver: str
    pricing: PricingMode = PricingMode.NODAL
