"""What an operator must remember, read back from its own ledger file after a restart.

The operator core keeps members, the intervals it cleared, the trades awaiting
settlement and the market terms last recorded in memory; all are on the ledger. What
it acknowledged but had not yet committed (bids in open books, readings waiting for
settlement, failures) is in the journal beside the chain. A restarted operator resumes
from both instead of registering everyone again, clearing an interval twice or losing
what it acknowledged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from voisin.ledger import Ledger
from voisin.ledger.journal import EntryKind, Journal
from voisin.protocol import Bid, MeterReading, Registration, Trade, TxKind, sha256_hex
from voisin.protocol.interval import DEFAULT_MINUTES
from voisin.protocol.signed import Signed

M = TypeVar("M", bound=BaseModel)
Registers = tuple[float | None, float | None]
"""A meter's cumulative (import, export) registers at the end of an interval, kWh."""


@dataclass(frozen=True)
class Failure:
    """An interval the operator could not commit in one phase, and why."""

    interval: str
    phase: str
    code: str
    message: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


@dataclass
class Recovered:
    """``unsettled`` maps an interval that was cleared but not settled to its trades;
    ``bids`` and ``readings`` are the journaled ones of intervals not yet settled (a
    bid of a cleared interval is in its block, and is kept until the settlement only so
    that a late resend is still acknowledged);
    ``registers`` stays empty: the ledger shows no meter registers (they would link a
    member's one-time keys, docs/privacy.md), so after a restart the register check
    starts again from the readings journaled and those received since."""

    members: list[Registration] = field(default_factory=list)
    last_closed: str = ""
    cleared: set[str] = field(default_factory=set)
    unsettled: dict[str, tuple[Trade, ...]] = field(default_factory=dict)
    terms_hash: str = ""
    """Hash of the newest ``market`` transaction: written again only when terms change."""
    minutes: dict[str, int] = field(default_factory=dict)
    """Each unsettled interval's length, from the market terms it was cleared under."""
    bids: list[Signed[Bid]] = field(default_factory=list)
    readings: list[Signed[MeterReading]] = field(default_factory=list)
    registers: dict[str, dict[str, Registers]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


def recover(ledger: Ledger, journal: Journal | None = None) -> Recovered:
    """Read members, cleared intervals and unsettled trades from ``ledger``,
    then what ``journal`` holds for intervals not yet committed (stale rows dropped)."""
    state = Recovered()
    trades: dict[str, list[Trade]] = {}
    settled: set[str] = set()
    minutes = DEFAULT_MINUTES
    for _, _, kind, body, _ in ledger.raw_transactions():
        if kind == TxKind.REGISTRATION.value:
            state.members.append(Registration.model_validate(json.loads(body)))
        elif kind == TxKind.CLEARING.value:
            interval = json.loads(body)["interval"]
            trades.setdefault(interval, [])
            state.cleared.add(interval)
            state.minutes[interval] = minutes
            state.last_closed = max(state.last_closed, interval)
        elif kind == TxKind.TRADE.value:
            trade = Trade.model_validate(json.loads(body))
            trades.setdefault(trade.interval, []).append(trade)
        elif kind == TxKind.SETTLEMENT.value:
            settled.add(json.loads(body)["interval"])
        elif kind == TxKind.MARKET.value:
            state.terms_hash = sha256_hex(body.encode("utf-8"))
            minutes = int(json.loads(body).get("minutes", DEFAULT_MINUTES))
    state.unsettled = {i: tuple(t) for i, t in sorted(trades.items()) if i not in settled}
    state.minutes = {i: m for i, m in state.minutes.items() if i in state.unsettled}
    if journal is not None:
        _journaled(state, journal, settled)
    return state


def journaled(model: type[M], body: str) -> Signed[M]:
    """A bid or reading as journaled: the exact bytes its sender signed."""
    data = body.encode("utf-8")
    return Signed(model.model_validate_json(data), data)


def _journaled(state: Recovered, journal: Journal, settled: set[str]) -> None:
    stale: set[tuple[str, EntryKind]] = set()
    for entry in journal.entries():
        if entry.kind is EntryKind.BID:
            if entry.interval in settled:
                stale.add((entry.interval, entry.kind))
            else:
                state.bids.append(journaled(Bid, entry.body))
        elif entry.kind is EntryKind.READING:
            if entry.interval in settled:
                stale.add((entry.interval, entry.kind))
            else:
                state.readings.append(journaled(MeterReading, entry.body))
        else:
            state.failures.append(Failure(**json.loads(entry.body)))
    for interval, kind in sorted(stale):
        journal.forget(interval, kind)
