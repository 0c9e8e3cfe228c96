"""A participant's statement, computed from the ledger and sealed to its key.

The public chain shows pseudonymous keys, hashes and totals; a statement gathers one
key's trades, grid legs, imbalances and tokens into a bill. Anyone holding the chain can
compute it, but the operator *sends* it sealed (PyNaCl ``SealedBox``) to the
participant's key: the Ed25519 id is converted to its Curve25519 form, so only the
holder of the matching private key can read it, and nobody can tell what is inside:
its RFC 8785 bytes are padded to a size fixed by its number of lines
(``statement_bytes``), which the ledger shows anyway (the intervals the key settled in).
EUR are what the participant paid (positive) or received; kWh are plain amounts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from voisin.errors import LedgerError
from voisin.ledger.contracts import ContractBook
from voisin.ledger.figures import Route, is_gift, trade_eur, trade_route
from voisin.ledger.store import LedgerStore, open_store
from voisin.protocol import KeyPair, TxKind, canonical_bytes, parse
from voisin.protocol.sealing import PADDED_VERSION, open_sealed_json, seal_to

_KWH, _EUR = 9, 6  # rounding, as in settlement: keeps float noise out of statements
_KINDS = (TxKind.TRADE.value, TxKind.SETTLEMENT.value, TxKind.TRANSFER.value, TxKind.REWARD.value)


class StatementLine(BaseModel):
    """One interval of a statement (kWh; EUR paid positive, received negative)."""

    model_config = ConfigDict(frozen=True)

    interval: str
    p2p_bought_kwh: float = 0.0
    p2p_sold_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    imbalance_kwh: float = 0.0
    market_eur: float = 0.0
    imbalance_eur: float = 0.0
    estimated: bool = False


class Statement(BaseModel):
    """Totals of one participant over the whole ledger up to ``head_height``.

    ``imbalance_kwh`` is export positive and ``imbalance_eur`` received positive, as in
    settlements; token amounts are integer micro-tokens.
    """

    model_config = ConfigDict(frozen=True)

    participant: str
    head_height: int
    head_hash: str
    p2p_bought_kwh: float
    p2p_bought_eur: float
    p2p_sold_kwh: float
    p2p_sold_eur: float
    grid_import_kwh: float
    grid_import_eur: float
    grid_export_kwh: float
    grid_export_eur: float
    imbalance_kwh: float
    imbalance_eur: float
    estimated_intervals: int
    tokens_received_micro: int
    tokens_paid_micro: int
    rewards_micro: int
    rewards_kwh: float
    balance_micro: int
    lines: tuple[StatementLine, ...]


STATEMENT_BYTES, LINE_BYTES = 896, 352
"""A statement's plaintext is padded to ``STATEMENT_BYTES + LINE_BYTES * lines`` before
it is sealed: a valid statement is at most 860 bytes and 346 more per line (every
number at the 25 characters RFC 8785 writes at most, every integer at 2^53 - 1 with
its sign, 64-digit keys and hash, interval ids; ``tests/ledger/test_statements.py``)."""


def statement_bytes(lines: int) -> int:
    """The size a statement of ``lines`` lines is padded to before it is sealed."""
    return STATEMENT_BYTES + LINE_BYTES * lines


class SealedStatement(BaseModel):
    """What travels: the recipient's (public) id and the sealed box, base64."""

    model_config = ConfigDict(frozen=True)

    version: Literal[1, 2] = PADDED_VERSION
    recipient: str
    sealed: str


def _line(lines: dict[str, dict[str, Any]], interval: str) -> dict[str, Any]:
    return lines.setdefault(interval, defaultdict(float))


def statement_for(source: str | Path | LedgerStore, participant: str) -> Statement:
    """Compute ``participant``'s statement from every block of the ledger."""
    store = open_store(source, read_only=True) if isinstance(source, str | Path) else source
    try:
        head_height, head_hash = -1, ""
        for height, block_hash, _, _ in store.raw_blocks():
            head_height, head_hash = height, block_hash
        t: dict[str, float] = defaultdict(float)
        lines: dict[str, dict[str, Any]] = {}
        contracts = ContractBook()
        for height, idx, kind, body, _ in store.raw_transactions():
            if kind == TxKind.CONTRACT.value:
                contracts.apply_body(json.loads(body))
            elif kind in _KINDS and participant in body:
                try:
                    data = json.loads(body)
                    _account(t, lines, kind, data, participant, _is_gift(data, kind, contracts))
                except (KeyError, TypeError, ValueError):
                    raise LedgerError(
                        f"block {height} transaction {idx} is malformed; run "
                        "`voisin ledger verify`",
                        code="bad-tx",
                    ) from None
    finally:
        if store is not source:
            store.close()
    return Statement(
        participant=participant,
        head_height=head_height,
        head_hash=head_hash,
        **{
            k: round(t[k], _KWH if k.endswith("kwh") else _EUR) + 0.0
            for k in (
                "p2p_bought_kwh",
                "p2p_bought_eur",
                "p2p_sold_kwh",
                "p2p_sold_eur",
                "grid_import_kwh",
                "grid_import_eur",
                "grid_export_kwh",
                "grid_export_eur",
                "imbalance_kwh",
                "imbalance_eur",
                "rewards_kwh",
            )
        },
        **{
            k: int(t[k])
            for k in (
                "estimated_intervals",
                "tokens_received_micro",
                "tokens_paid_micro",
                "rewards_micro",
            )
        },
        balance_micro=int(t["tokens_received_micro"] + t["rewards_micro"] - t["tokens_paid_micro"]),
        lines=tuple(
            StatementLine(
                interval=i,
                **{
                    k: (
                        v
                        if isinstance(v, bool)
                        else round(v, _KWH if k.endswith("kwh") else _EUR) + 0.0
                    )
                    for k, v in lines[i].items()
                },
            )
            for i in sorted(lines)
        ),
    )


def _is_gift(body: dict[str, Any], kind: str, contracts: ContractBook) -> bool:
    return kind == TxKind.TRADE.value and is_gift(body, contracts)


def _account(
    t: dict[str, float],
    lines: dict[str, dict[str, Any]],
    kind: str,
    body: dict[str, Any],
    me: str,
    gift: bool = False,
) -> None:
    """Add one transaction that mentions ``me`` to the totals and its interval line;
    a gift moves energy at no charge."""
    if kind == TxKind.TRADE.value:
        kwh = body["energy_kwh"]
        line = _line(lines, body["interval"])
        p2p = trade_route(body["kind"], body["seller"], body["buyer"]) is Route.P2P
        paid, received = trade_eur(body, gift)
        if body["buyer"] == me:
            eur = paid
            route = "p2p_bought" if p2p else "grid_import"
            t[f"{route}_kwh"] += kwh
            t[f"{route}_eur"] += eur
            line[f"{route}_kwh"] += kwh
            line["market_eur"] += eur
        elif body["seller"] == me:
            eur = received
            route = "p2p_sold" if p2p else "grid_export"
            t[f"{route}_kwh"] += kwh
            t[f"{route}_eur"] += eur
            line[f"{route}_kwh"] += kwh
            line["market_eur"] -= eur
    elif kind == TxKind.SETTLEMENT.value and body["participant"] == me:
        line = _line(lines, body["interval"])
        t["imbalance_kwh"] += body["imbalance_kwh"]
        t["imbalance_eur"] += body["imbalance_eur"]
        t["estimated_intervals"] += int(body["estimated"])
        line["imbalance_kwh"] += body["imbalance_kwh"]
        line["imbalance_eur"] += body["imbalance_eur"]
        line["estimated"] = bool(body["estimated"])
    elif kind == TxKind.TRANSFER.value:
        if body["recipient"] == me:
            t["tokens_received_micro"] += body["amount_micro"]
        if body["sender"] == me:
            t["tokens_paid_micro"] += body["amount_micro"]
    elif kind == TxKind.REWARD.value and body["recipient"] == me:
        t["rewards_micro"] += body["amount_micro"]
        t["rewards_kwh"] += body["energy_kwh"]


def seal_statement(statement: Statement) -> SealedStatement:
    """Seal the statement to its participant's key; only that key's holder can open it."""
    sealed = seal_to(
        statement.participant,
        canonical_bytes(statement.model_dump(mode="json")),
        padded_to=statement_bytes(len(statement.lines)),
        what="statement",
    )
    return SealedStatement(recipient=statement.participant, sealed=sealed)


def open_statement(sealed: SealedStatement | dict[str, Any], key: KeyPair) -> Statement:
    """Open a sealed statement with the participant's key pair.

    Raises ``InvalidInput`` (code ``wrong-key``) for any other key or a damaged box.
    """
    if not isinstance(sealed, SealedStatement):
        sealed = parse(SealedStatement, sealed, "sealed statement")
    clear = open_sealed_json(
        sealed.sealed, key, "statement", padded=sealed.version >= PADDED_VERSION
    )
    return parse(Statement, clear, "statement")
