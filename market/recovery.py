"""What an operator must remember, read back from its own ledger after a restart.

The operator core keeps members, the newest cleared interval, the trades awaiting
settlement and the market terms last recorded in memory; all are on the ledger, so a
restarted operator resumes from the file instead of registering everyone again or
losing an unsettled interval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from voisin.ledger import Ledger
from voisin.protocol import Participant, Trade, TxKind, sha256_hex


@dataclass
class Recovered:
    """``unsettled`` maps an interval that was cleared but not settled to its trades."""

    members: list[Participant] = field(default_factory=list)
    last_closed: str = ""
    unsettled: dict[str, tuple[Trade, ...]] = field(default_factory=dict)
    terms_hash: str = ""
    """Hash of the newest ``market`` transaction: written again only when terms change."""


def recover(ledger: Ledger) -> Recovered:
    """Read members, the newest cleared interval and unsettled trades from ``ledger``."""
    state = Recovered()
    trades: dict[str, list[Trade]] = {}
    settled: set[str] = set()
    for _, _, kind, body, _ in ledger.raw_transactions():
        if kind == TxKind.REGISTRATION.value:
            state.members.append(Participant.model_validate(json.loads(body)))
        elif kind == TxKind.CLEARING.value:
            interval = json.loads(body)["interval"]
            trades.setdefault(interval, [])
            state.last_closed = max(state.last_closed, interval)
        elif kind == TxKind.TRADE.value:
            trade = Trade.model_validate(json.loads(body))
            trades.setdefault(trade.interval, []).append(trade)
        elif kind == TxKind.SETTLEMENT.value:
            settled.add(json.loads(body)["interval"])
        elif kind == TxKind.MARKET.value:
            state.terms_hash = sha256_hex(body.encode("utf-8"))
    state.unsettled = {i: tuple(t) for i, t in sorted(trades.items()) if i not in settled}
    return state
