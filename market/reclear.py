"""``reclear``: the one place an interval is cleared from what the ledger records.

The operator clears each interval through it and an auditor re-clears through it, from
the same inputs read back from the ledger: the bids as their participants signed them,
the contracts in force, the market terms (grid, rules, interval length, pricing,
backend), the members' own local charges (their registrations' tariffs). One call
site of ``clear``, so what the operator ran and what the auditor runs cannot drift
apart; when ``clear`` gains inputs, ``ClearingInputs`` and the ledger record gain them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from voisin.ledger.contract_effects import apply_contracts
from voisin.ledger.contracts import ContractBook
from voisin.market.clearing import clear
from voisin.market.terms import Terms
from voisin.market.upstream import Upstream
from voisin.protocol import BidView, ClearingResult


@dataclass(frozen=True)
class ClearingInputs:
    """Everything one interval's clearing depends on, each part on the ledger."""

    interval: str
    bids: Sequence[BidView]
    """The signed originals (``bid`` transactions), before contracts shape them: the
    operator's ``CompactBid`` rows, an auditor's bids decoded from the ledger."""
    contracts: ContractBook
    terms: Terms
    upstream: Upstream | None = None
    """A city's feeder: the city's price and allocation (its ``upstream`` transaction)."""
    charges: Mapping[str, float] | None = None
    """Buyers' own local charges by participant, from the members' registrations
    (``protocol.own_charges``); None or empty: every buyer owes the grid's."""


def reclear(inputs: ClearingInputs) -> ClearingResult:
    """Shape the book by the contracts in force, then clear it under the terms."""
    shaped = apply_contracts(inputs.bids, inputs.contracts, inputs.interval)
    terms = inputs.terms
    # The book passed the gate at intake (the audit checks it against terms.rules), and
    # contracts add bids of their own: the rules' physics settings apply, not the gate.
    return clear(
        shaped,
        terms.grid,
        inputs.interval,
        rules=terms.rules,
        gate=False,
        minutes=terms.minutes,
        backend=terms.backend,
        pricing=terms.pricing,
        upstream=inputs.upstream,
        charges=inputs.charges,
    )
