"""The operator's arithmetic, redone block by block from the stored transactions.

``Replay`` is the state a verifier carries along the chain: token balances, contracts,
registered members and their meters, the market terms in force, the trades of each
cleared interval until it settles. Each block's transactions are applied in order and
its interval checks run (``interval_checks``): an operator that signs a block with a
reward it did not earn, a settlement off by a cent or a price that is not the clearing
price is caught here, not only one whose storage was edited. A broken rule raises
``Violation`` naming the transaction and the rule; ``verify`` adds the block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from voisin.errors import LedgerError
from voisin.ledger.chain import newest_interval
from voisin.ledger.contract_effects import gift_pairs
from voisin.ledger.contracts import ContractBook
from voisin.ledger.tokens import TokenBook
from voisin.ledger.trace import untraced
from voisin.protocol import (
    Registration,
    Trade,
    TxKind,
    canonical_bytes,
    own_charges,
    sha256_hex,
)
from voisin.protocol.encoding import loads_canonical

StoredTx = tuple[int, str, str, dict[str, Any]]
"""A decoded stored transaction: index in its block, kind, body text, body."""

_TOKEN_KINDS = frozenset((TxKind.GENESIS.value, TxKind.TRANSFER.value, TxKind.REWARD.value))
_INTERVAL_KINDS = frozenset(
    (TxKind.BID.value, TxKind.BID_DIGEST.value, TxKind.CLEARING.value, TxKind.TRADE.value)
)
_SETTLEMENT_KINDS = frozenset((TxKind.READING.value, TxKind.SETTLEMENT.value))
_CITY_KINDS = frozenset(
    (TxKind.CITY_BOOK.value, TxKind.CITY_CLEARING.value, TxKind.FEEDER_LINK.value)
)
_GENESIS, _CONTRACT = TxKind.GENESIS.value, TxKind.CONTRACT.value
_REGISTRATION, _MARKET = TxKind.REGISTRATION.value, TxKind.MARKET.value
BYTE_CHECKED_KINDS = frozenset((TxKind.SETTLEMENT.value,))
"""Kinds verification reads only as bytes: a settlement is compared byte for byte with
the one the verifier derives from the readings and trades (``compare_bodies``), which is
canonical, so its body is decoded (and its RFC 8785 form checked) only when they differ."""


def canonical_object(body: str) -> dict[str, Any]:
    """The JSON object ``body`` holds if it is that object's RFC 8785 text; ``ValueError``
    otherwise (not JSON, not canonical, not an object, nested too deep)."""
    try:
        data = loads_canonical(body)
    except (TypeError, ValueError, RecursionError):
        raise ValueError("not an RFC 8785 JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("not an RFC 8785 JSON object")
    return data


_APPLIED_KINDS = _TOKEN_KINDS | {_CONTRACT, _REGISTRATION, _MARKET}
"""Kinds ``Replay.apply`` applies one by one (plain strings: no enum look-up per row)."""


class Violation(Exception):  # noqa: N818 (a finding, not a failure of the program)
    """Transaction ``index`` (None: the block as a whole) breaks ``rule``."""

    def __init__(self, index: int | None, rule: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.rule = rule
        self.message = message


@dataclass
class Terms:
    """The newest ``market`` transaction: its body, hash, grid hash, buses, root and the
    grid's local charge on p2p energy (EUR/kWh)."""

    body: dict[str, Any]
    hash: str
    grid_hash: str
    buses: frozenset[str]
    root: str
    local_charge_eur_per_kwh: float = 0.0


@dataclass
class Replay:
    """Everything a verifier knows after the blocks it has applied."""

    book: TokenBook = field(default_factory=TokenBook)
    contracts: ContractBook = field(default_factory=ContractBook)
    members: dict[str, Registration] = field(default_factory=dict)
    charges: dict[str, float] = field(default_factory=dict)
    """Members' own local charges (``protocol.own_charges`` of ``members``)."""
    terms: Terms | None = None
    latest: str | None = None
    cleared: dict[str, list[Trade]] = field(default_factory=dict)
    """Trades of each interval cleared and not yet settled."""
    closed: set[str] = field(default_factory=set)
    """Every interval cleared so far (settled or not)."""
    settled: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    def apply(self, height: int, interval: str | None, txs: list[StoredTx]) -> None:
        """Apply one block's transactions and run its interval checks."""
        from voisin.ledger.city_checks import check_city
        from voisin.ledger.interval_checks import check_clearing, check_settlement

        self.latest = newest_interval(self.latest, interval)
        by_kind: dict[str, list[StoredTx]] = {}
        for item in txs:
            index, kind, _, body = item
            self.counts[kind] = self.counts.get(kind, 0) + 1
            by_kind.setdefault(kind, []).append(item)
            if kind not in _APPLIED_KINDS:  # bids, trades, readings...: checked by block
                continue
            if kind == _GENESIS and height:
                raise Violation(index, "tokens", "a genesis transaction outside block 0")
            try:
                if kind in _TOKEN_KINDS:
                    self.book.apply_body(kind, body)
                elif kind == _CONTRACT:
                    self.contracts.apply_body(body, after=self.latest)
                elif kind == _REGISTRATION:
                    self._register(index, body)
                elif kind == _MARKET:
                    self._terms(index, body)
            except LedgerError as exc:
                raise Violation(
                    index, "contract" if kind == _CONTRACT else "tokens", exc.message
                ) from None
        if height == 0 and not self.book.genesis_micro:
            raise Violation(None, "tokens", "genesis block carries no genesis supply")
        if any(k in by_kind for k in _INTERVAL_KINDS):
            check_clearing(self, interval, by_kind)
        elif TxKind.UPSTREAM.value in by_kind:
            index = by_kind[TxKind.UPSTREAM.value][0][0]
            raise Violation(index, "upstream", "a city allocation outside a clearing block")
        if any(k in by_kind for k in _CITY_KINDS):
            check_city(self, interval, by_kind)
        self._trace_payments(by_kind)
        if any(k in by_kind for k in _SETTLEMENT_KINDS):
            check_settlement(self, interval, by_kind)
        elif TxKind.REWARD.value in by_kind:
            index = by_kind[TxKind.REWARD.value][0][0]
            raise Violation(index, "reward", "a reward outside a settlement block")

    def _register(self, index: int, body: dict[str, Any]) -> None:
        try:
            member = Registration.model_validate(body)
        except ValidationError:
            raise Violation(index, "registration", "not a participant registration") from None
        if member.participant_id in self.members:
            raise Violation(
                index, "registration", f"{member.participant_id[:12]} is registered already"
            )
        self.members[member.participant_id] = member
        self.charges.update(own_charges([member]))

    def _terms(self, index: int, body: dict[str, Any]) -> None:
        grid: Any = body.get("grid")
        try:
            buses = frozenset(grid["buses"])
            root = grid["root"]
            charge = grid.get("local_charge_eur_per_kwh", 0.0)
            if root not in buses or type(charge) not in (int, float) or not 0 <= charge < 1e3:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise Violation(index, "market-terms", "market terms without a grid") from None
        data = canonical_bytes(body)
        self.terms = Terms(
            body, sha256_hex(data), sha256_hex(canonical_bytes(grid)), buses, root, float(charge)
        )

    def _trace_payments(self, by_kind: dict[str, list[StoredTx]]) -> None:
        trades = [t[3] for t in by_kind.get(TxKind.TRADE.value, ())]
        transfers = [t[3] for t in by_kind.get(TxKind.TRANSFER.value, ())]
        if not trades and not transfers:
            return
        try:
            found = untraced(
                trades,
                transfers,
                self.book.fund,
                lambda interval: gift_pairs(self.contracts, interval),
            )
        except (KeyError, TypeError):
            raise Violation(None, "payment", "a trade or transfer body lacks a field") from None
        if found is None:
            return
        sender, recipient, amount, memo = found.payment
        index: int | None
        if found.extra:
            index = next(
                i
                for i, _, _, b in by_kind[TxKind.TRANSFER.value]
                if (b["sender"], b["recipient"], b["amount_micro"], b["memo"]) == found.payment
            )
        else:  # the first trade between the two that should have paid
            index = next(
                (
                    i
                    for i, _, _, b in by_kind.get(TxKind.TRADE.value, ())
                    if {b["seller"], b["buyer"]} >= {sender, recipient} - {self.book.fund}
                ),
                None,
            )
        raise Violation(index, "payment", found.why)
