"""What a household's agent checks in what the operator publishes: each block from its
bytes alone (signature, Merkle root, link) and each of its trades against its own bids;
and the report it keeps of what it saw. No sockets here (transport/agent.py has them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from voisin.errors import VoisinError
from voisin.protocol import Transaction, canonical_bytes, merkle, sha256_hex, verify


@dataclass
class AgentReport:
    """What the agent saw, written as JSON at exit so others can compare it to the ledger."""

    participant: str
    bids: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    readings: list[str] = field(default_factory=list)
    blocks: dict[int, str] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    events_missed: int = 0
    ended: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {**self.__dict__, "blocks": {str(k): v for k, v in sorted(self.blocks.items())}},
            indent=1,
            sort_keys=True,
        )


def check_block(block: dict[str, Any], operator_hex: str, prev_hash: str | None) -> str:
    """Verify a published block from its bytes alone; returns its hash.

    Raises ``VoisinError`` (``bad-block``) naming what failed: the shape, the operator's
    signature, the Merkle root of the transactions, or the link to the previous block.
    """
    try:
        return _checked_block(block, operator_hex, prev_hash)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VoisinError(
            f"a block that is not one ({type(exc).__name__}: {exc})"[:200], code="bad-block"
        ) from None


def _checked_block(block: dict[str, Any], operator_hex: str, prev_hash: str | None) -> str:
    header = block["header"]
    header_bytes = canonical_bytes(header)
    if header.get("operator") != operator_hex or not verify(
        operator_hex, header_bytes, block["signature"]
    ):
        raise VoisinError(
            f"block {header.get('height')}: not signed by the pinned operator", code="bad-block"
        )
    leaves = [Transaction.model_validate(t).leaf_hash() for t in block["transactions"]]
    if merkle.root_from_hashes(leaves).hex() != header["merkle_root"]:
        raise VoisinError(
            f"block {header['height']}: Merkle root does not match its transactions",
            code="bad-block",
        )
    if prev_hash is not None and header["prev_hash"] != prev_hash:
        raise VoisinError(
            f"block {header['height']}: does not extend the block before it", code="bad-block"
        )
    return sha256_hex(header_bytes)


def check_trade(trade: dict[str, Any], me: str, bids: dict[str, dict[str, Any]]) -> str | None:
    """Why ``trade`` (a ledger trade body involving ``me``) contradicts my bids, or None."""
    try:
        return _trade_problem(trade, me, bids)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"a trade that is not one ({type(exc).__name__})"


def _trade_problem(trade: dict[str, Any], me: str, bids: dict[str, dict[str, Any]]) -> str | None:
    if trade["buyer"] == me:
        bid = bids.get(trade["buyer_bid_id"])
        price = trade["buyer_price_eur_per_kwh"]
        if bid is None:
            return f"trade buys for me under unknown bid {trade['buyer_bid_id']!r}"
        limit = max(s["price_eur_per_kwh"] for s in bid["segments"])
        if price > limit + 1e-9:
            return f"I pay {price} EUR/kWh, above my limit {limit}"
    else:
        bid = bids.get(trade["seller_bid_id"])
        price = trade["seller_price_eur_per_kwh"]
        if bid is None:
            return f"trade sells for me under unknown bid {trade['seller_bid_id']!r}"
        limit = min(s["price_eur_per_kwh"] for s in bid["segments"])
        if price < limit - 1e-9:
            return f"I receive {price} EUR/kWh, below my limit {limit}"
    offered = sum(s["energy_kwh"] for s in bid["segments"])
    if trade["energy_kwh"] > offered + 1e-6:
        return f"trade of {trade['energy_kwh']} kWh exceeds my bid of {offered} kWh"
    return None


def parse_event(data: bytes) -> dict[str, Any]:
    """An event frame as the operator publishes it: ``{"v", "type", "seq", "body"}``;
    ``bad-event`` if it is not one (the agent notes it and waits for the next)."""
    try:
        event = json.loads(data)
    except (ValueError, RecursionError):
        event = None
    if not (
        isinstance(event, dict)
        and type(event.get("seq")) is int
        and isinstance(event.get("type"), str)
        and isinstance(event.get("body"), dict)
    ):
        raise VoisinError("an event that is not one", code="bad-event")
    return event
