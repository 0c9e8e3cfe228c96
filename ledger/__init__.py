"""The hash-chained, operator-signed, append-only ledger and its token book.

``Ledger`` appends blocks to a ``SqliteStore``; ``verify_ledger`` re-checks a file from
its bytes alone. The transaction builders are the module ``transactions`` (use
``from voisin.ledger import transactions as tx; tx.trade(t)``; exported as a module so
``tx.settlement`` does not shadow the ``settlement`` module); RFC 6962 proofs are in
``merkle`` and re-exported here.
"""

from voisin.ledger import merkle, transactions
from voisin.ledger.chain import Ledger
from voisin.ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from voisin.ledger.settlement import REWARD_MICRO_PER_KWH, Settlement, rewards_for, settle
from voisin.ledger.store import LedgerStore, SqliteStore
from voisin.ledger.tokens import TokenBook, payments_for
from voisin.ledger.transactions import MICRO_PER_TOKEN
from voisin.ledger.verify import VerifyReport, verify_ledger

__all__ = [
    "MICRO_PER_TOKEN",
    "REWARD_MICRO_PER_KWH",
    "Ledger",
    "LedgerStore",
    "Settlement",
    "SqliteStore",
    "TokenBook",
    "VerifyReport",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "merkle",
    "payments_for",
    "rewards_for",
    "root",
    "settle",
    "transactions",
    "verify_consistency",
    "verify_inclusion",
    "verify_ledger",
]
