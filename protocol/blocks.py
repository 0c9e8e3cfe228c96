"""Ledger blocks and the transactions they carry (the ledger's own module builds them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from voisin.protocol.encoding import canonical_bytes, sha256_hex


class TxKind(StrEnum):
    GENESIS = "genesis"
    REGISTRATION = "registration"
    CONTRACT = "contract"
    BID_DIGEST = "bid_digest"
    CLEARING = "clearing"
    TRADE = "trade"
    READING = "reading"
    SETTLEMENT = "settlement"
    TRANSFER = "transfer"
    REWARD = "reward"


class Transaction(BaseModel):
    """One ledger entry; ``body`` is the canonical JSON form of the domain object."""

    model_config = ConfigDict(frozen=True)

    kind: TxKind
    body: dict[str, Any]

    def leaf_bytes(self) -> bytes:
        """The bytes that become this transaction's Merkle leaf."""
        return canonical_bytes(self)


class BlockHeader(BaseModel):
    """What the operator signs. ``time`` is the interval's end in simulated runs, so
    ledgers are reproducible byte for byte."""

    model_config = ConfigDict(frozen=True)

    height: int = Field(ge=0)
    prev_hash: str
    merkle_root: str
    interval: str | None
    time: str
    operator: str
    tx_count: int = Field(ge=0)

    def block_hash(self) -> str:
        return sha256_hex(canonical_bytes(self))


class Block(BaseModel):
    model_config = ConfigDict(frozen=True)

    header: BlockHeader
    signature: str
    transactions: tuple[Transaction, ...]
