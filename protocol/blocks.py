"""Ledger blocks and the transactions they carry (the ledger's own module builds them).

A transaction's Merkle leaf is the RFC 8785 form of ``{"body": ..., "kind": ...}``,
hashed as an RFC 6962 leaf; ``tx_leaf_hash`` is the one place that builds it, from a
body's canonical bytes, so the chain, the verifier, proofs and agents hash alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field

from voisin.protocol.encoding import canonical_bytes, framed_leaf_hashes, leaf_hash, sha256_hex


class TxKind(StrEnum):
    GENESIS = "genesis"
    REGISTRATION = "registration"
    CONTRACT = "contract"
    MARKET = "market"
    BID = "bid"
    BID_DIGEST = "bid_digest"
    CLEARING = "clearing"
    TRADE = "trade"
    READING = "reading"
    SETTLEMENT = "settlement"
    TRANSFER = "transfer"
    REWARD = "reward"
    UPSTREAM = "upstream"
    CITY_BOOK = "city_book"
    CITY_CLEARING = "city_clearing"
    FEEDER_LINK = "feeder_link"


_HEAD = b'{"body":'
_TAILS = {k.value: b',"kind":' + canonical_bytes(k.value) + b"}" for k in TxKind}


def _tail(kind: str) -> bytes:
    tail = _TAILS.get(kind)
    return b',"kind":' + canonical_bytes(kind) + b"}" if tail is None else tail


def tx_leaf_bytes(kind: str, body: bytes) -> bytes:
    """The leaf bytes of a transaction from its kind and its body's canonical bytes.

    RFC 8785 sorts ``body`` before ``kind``, so this is ``{"body":<body>,"kind":"<kind>"}``.
    """
    return _HEAD + body + _tail(kind)


def tx_leaf_hash(kind: str, body: bytes) -> bytes:
    """RFC 6962 leaf hash of a transaction (its kind and its body's canonical bytes)."""
    return leaf_hash(tx_leaf_bytes(kind, body))


def tx_leaf_hashes(kind: str, bodies: Sequence[bytes]) -> list[bytes]:
    """``tx_leaf_hash(kind, body)`` of each body: a block's trades or payments."""
    return framed_leaf_hashes(_HEAD, bodies, _tail(kind))


class Transaction(BaseModel):
    """One ledger entry; ``body`` is the JSON form of the domain object.

    ``body_bytes`` (never serialised) carries the body's canonical bytes when they are
    known already, such as a bid's bytes exactly as its participant signed and sent
    them, so the ledger stores and hashes those instead of encoding the body again.
    """

    model_config = ConfigDict(frozen=True)

    kind: TxKind
    body: dict[str, Any]
    body_bytes: bytes | None = Field(default=None, exclude=True, repr=False)

    @classmethod
    def of_canonical(cls, kind: TxKind, data: bytes) -> Transaction:
        """A transaction whose body is ``data``, bytes already in RFC 8785 form."""
        return cls(kind=kind, body=json.loads(data), body_bytes=data)

    def canonical_body(self) -> bytes:
        return self.body_bytes if self.body_bytes is not None else canonical_bytes(self.body)

    def leaf_bytes(self) -> bytes:
        """The bytes that become this transaction's Merkle leaf."""
        return tx_leaf_bytes(self.kind.value, self.canonical_body())

    def leaf_hash(self) -> bytes:
        return tx_leaf_hash(self.kind.value, self.canonical_body())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transaction):
            return NotImplemented
        return self.kind == other.kind and self.body == other.body


class EncodedTransaction(NamedTuple):
    """A transaction already in its stored form: kind, canonical body bytes, leaf hash.

    What the operator's hot path hands the ledger instead of a ``Transaction``, so a
    bid's bytes (as its participant signed them) are hashed once at intake and never
    decoded again, and trades are encoded in bulk. ``body`` is the decoded body, needed
    only for the kinds the ledger reads (token transfers, contracts); None otherwise.
    A named tuple, not a frozen dataclass: a block makes one per trade and payment, and
    a frozen dataclass took 0.9 us to make against 0.5 (docs/performance.md, round 6).
    """

    kind: TxKind
    body_bytes: bytes
    leaf: bytes
    body: dict[str, Any] | None = None

    @classmethod
    def of(cls, kind: TxKind, body_bytes: bytes, body: dict[str, Any] | None = None) -> Self:
        return cls(kind, body_bytes, tx_leaf_hash(kind.value, body_bytes), body)

    @classmethod
    def many(
        cls,
        kind: TxKind,
        bodies: Sequence[bytes],
        decoded: Sequence[dict[str, Any]] | None = None,
    ) -> list[Self]:
        """``of(kind, body, decoded body)`` of each body, hashed in one loop."""
        leaves = tx_leaf_hashes(kind.value, bodies)
        if decoded is None:
            return [cls(kind, body, leaf) for body, leaf in zip(bodies, leaves, strict=True)]
        return [
            cls(kind, body, leaf, data)
            for body, leaf, data in zip(bodies, leaves, decoded, strict=True)
        ]

    def transaction(self) -> Transaction:
        """The same entry as a ``Transaction`` (decodes the body)."""
        return Transaction(kind=self.kind, body=self.decoded(), body_bytes=self.body_bytes)

    def decoded(self) -> dict[str, Any]:
        body = self.body if self.body is not None else json.loads(self.body_bytes)
        if not isinstance(body, dict):
            raise ValueError("a transaction body is a JSON object")
        return body


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
