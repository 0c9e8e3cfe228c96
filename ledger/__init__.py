"""The hash-chained, operator-signed, append-only ledger, its tokens and contracts.

``Ledger`` appends blocks to a ``SqliteStore``; ``verify_ledger`` re-checks a file from
its bytes alone. The transaction builders are the module ``transactions`` (use
``from voisin.ledger import transactions as tx; tx.trade(t)``; exported as a module so
``tx.settlement`` does not shadow the ``settlement`` module); RFC 6962 proofs are in
``merkle`` and re-exported here. ``prove``/``check_proof`` let a household check one
transaction with the block headers alone; ``statement_for`` and ``seal_statement`` give a
participant its statement readable only with its key; contracts are signed templates
(``contract_transaction``) that ``ContractBook`` replays and ``apply_contracts`` applies.
"""

from voisin.ledger import transactions
from voisin.ledger.chain import Ledger
from voisin.ledger.contract_effects import (
    apply_contracts,
    contract_payments,
    green_only_buyers,
    green_violations,
)
from voisin.ledger.contracts import (
    Contract,
    ContractBook,
    GiftShare,
    GreenOnly,
    PriceCap,
    PriorityPartner,
    Revoke,
    accept_contract,
    contract_transaction,
    revoke,
)
from voisin.ledger.proofs import TxProof, check_proof, export_headers, prove
from voisin.ledger.settlement import REWARD_MICRO_PER_KWH, rewards_for, settle
from voisin.ledger.statements import Statement, open_statement, seal_statement, statement_for
from voisin.ledger.store import LedgerStore, SqliteStore
from voisin.ledger.tokens import TokenBook, payments_for
from voisin.ledger.transactions import MICRO_PER_TOKEN
from voisin.ledger.verify import VerifyReport, verify_ledger
from voisin.protocol import merkle
from voisin.protocol.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from voisin.protocol.settlements import Settlement

__all__ = [
    "MICRO_PER_TOKEN",
    "REWARD_MICRO_PER_KWH",
    "Contract",
    "ContractBook",
    "GiftShare",
    "GreenOnly",
    "Ledger",
    "LedgerStore",
    "PriceCap",
    "PriorityPartner",
    "Revoke",
    "Settlement",
    "SqliteStore",
    "Statement",
    "TokenBook",
    "TxProof",
    "VerifyReport",
    "accept_contract",
    "apply_contracts",
    "check_proof",
    "consistency_proof",
    "contract_payments",
    "contract_transaction",
    "export_headers",
    "green_only_buyers",
    "green_violations",
    "inclusion_proof",
    "leaf_hash",
    "merkle",
    "open_statement",
    "payments_for",
    "prove",
    "revoke",
    "rewards_for",
    "root",
    "seal_statement",
    "settle",
    "statement_for",
    "transactions",
    "verify_consistency",
    "verify_inclusion",
    "verify_ledger",
]
