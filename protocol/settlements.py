"""A settlement record: one participant's metered position against its trades for one
interval, declared once here and read by the ledger's encoder, settlement and verifier."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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


SETTLEMENT_FIELDS: tuple[str, ...] = tuple(Settlement.model_fields)
"""A ``Settlement``'s fields in declaration order: the order of a ``SettlementRow``."""

SettlementRow = tuple[str, str, float, float, float, float, bool]
"""A ``Settlement``'s field values in ``SETTLEMENT_FIELDS`` order (its types, for the type
checker; a test holds the two together): what the operator and the verifier encode, with
no object between the arithmetic and the bytes."""
