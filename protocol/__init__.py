"""The shared leaf every stage imports: domain types, canonical bytes, keys.

Units and signs live in field names (``energy_kwh``, ``price_eur_per_kwh``).
"""

from voisin.protocol.bids import Bid, BidView, Segment, Side
from voisin.protocol.blocks import Block, BlockHeader, Transaction, TxKind
from voisin.protocol.clock import Clock, FakeClock, Timetable
from voisin.protocol.encoding import canonical_bytes, canonical_text, digest, sha256_hex
from voisin.protocol.envelope import Envelope, open_envelope, seal, seal_bid, sign_bid
from voisin.protocol.grid import Grid, Line, Transformer
from voisin.protocol.interval import Interval, day_intervals
from voisin.protocol.keys import KeyPair, verify
from voisin.protocol.participants import (
    Participant,
    ParticipantKind,
    Registration,
    Tariff,
    own_charges,
)
from voisin.protocol.readings import MeterReading, PublicReading
from voisin.protocol.trade_table import TradeTable
from voisin.protocol.trades import (
    GRID,
    ClearingResult,
    ClearingStatus,
    LocalCharges,
    PricingMode,
    Trade,
    TradeKind,
)
from voisin.protocol.validation import parse

__all__ = [
    "GRID",
    "LocalCharges",
    "Bid",
    "BidView",
    "Block",
    "BlockHeader",
    "ClearingResult",
    "ClearingStatus",
    "Grid",
    "Interval",
    "KeyPair",
    "Line",
    "Transformer",
    "MeterReading",
    "Participant",
    "PublicReading",
    "Registration",
    "PricingMode",
    "ParticipantKind",
    "Segment",
    "Side",
    "Tariff",
    "own_charges",
    "Trade",
    "TradeKind",
    "TradeTable",
    "Transaction",
    "TxKind",
    "canonical_bytes",
    "canonical_text",
    "day_intervals",
    "digest",
    "parse",
    "sha256_hex",
    "verify",
    "Clock",
    "Envelope",
    "FakeClock",
    "Timetable",
    "open_envelope",
    "seal",
    "seal_bid",
    "sign_bid",
]
