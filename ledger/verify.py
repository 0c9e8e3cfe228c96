"""Verify a whole ledger from its stored bytes and name the first bad block.

Works on the raw canonical JSON the store keeps (no pydantic on the hot path): every
header is re-hashed, linked to its predecessor, checked against the genesis operator's
signature; every transaction's leaf hash and the block's Merkle root and count are
recomputed; every token transaction is replayed. Verification needs nothing but the
file, which is the point: anyone holding a copy can audit the operator.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from voisin.errors import LedgerError, VerificationError
from voisin.ledger.chain import GENESIS_PREV_HASH, newest_interval
from voisin.ledger.contract_effects import gift_pairs
from voisin.ledger.contracts import ContractBook
from voisin.ledger.merkle import root_from_hashes
from voisin.ledger.store import LedgerStore, RawTransaction, SqliteStore
from voisin.ledger.tokens import TokenBook
from voisin.ledger.trace import untraced
from voisin.protocol import TxKind, canonical_text, sha256_hex, verify
from voisin.protocol.blocks import tx_leaf_hash

_HEADER_KEYS = frozenset(
    ("height", "prev_hash", "merkle_root", "interval", "time", "operator", "tx_count"))
_KINDS = frozenset(k.value for k in TxKind)
_TOKEN_KINDS = frozenset((TxKind.GENESIS.value, TxKind.TRANSFER.value, TxKind.REWARD.value))
_GENESIS = TxKind.GENESIS.value
_CONTRACT = TxKind.CONTRACT.value
_TRADE = TxKind.TRADE.value
_TRANSFER = TxKind.TRANSFER.value
_DECODE = json.JSONDecoder().raw_decode  # bodies are canonical: no white space around


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification saw. Token amounts in micro-tokens."""

    height: int
    blocks: int
    transactions: int
    supply_micro: int
    genesis_micro: int
    minted_micro: int
    balances_ok: bool
    operator: str
    head_hash: str


def _fail(height: int, why: str) -> NoReturn:
    raise VerificationError(f"block {height}: {why}", height=height)


def check_header(
    height: int, stored_hash: str, header_json: str
) -> tuple[dict[str, Any], bytes]:
    """Parse a stored header and check it is canonical and matches its stored hash.

    Shared with proof checking, which sees headers only. Raises ``VerificationError``.
    """
    try:
        header = json.loads(header_json)
        canonical = isinstance(header, dict) and canonical_text(header) == header_json
    except (TypeError, ValueError):
        _fail(height, "header is not valid JSON")
    if not canonical or set(header) != _HEADER_KEYS:
        _fail(height, "header is not a canonical block header")
    header_bytes = header_json.encode("utf-8")
    if sha256_hex(header_bytes) != stored_hash:
        _fail(height, "stored block hash does not match the header")
    if header["height"] != height:
        _fail(height, f"header says height {header['height']} but is stored at {height}")
    return header, header_bytes


def _transactions(
    height: int, rows: Iterator[RawTransaction], pending: RawTransaction | None,
) -> tuple[list[bytes], list[tuple[str, str]], RawTransaction | None]:
    """Consume this block's tx rows: leaf hashes, token and contract bodies, next row."""
    hashes: list[bytes] = []
    tokens: list[tuple[str, str]] = []
    while pending is not None and pending[0] == height:
        _, idx, kind, body, stored_leaf = pending
        if idx != len(hashes):
            _fail(height, f"transaction {len(hashes)} is missing (next stored index {idx})")
        if kind not in _KINDS:
            _fail(height, f"transaction {idx} has unknown kind {kind!r}")
        leaf = tx_leaf_hash(kind, body.encode("utf-8"))
        if leaf.hex() != stored_leaf:
            _fail(height, f"transaction {idx}: stored leaf hash does not match its body")
        hashes.append(leaf)
        if kind in _TOKEN_KINDS or kind == _CONTRACT or kind == _TRADE:
            if kind == _GENESIS and height:
                _fail(height, f"transaction {idx}: a genesis transaction outside block 0")
            tokens.append((kind, body))
        pending = next(rows, None)
    return hashes, tokens, pending


def _replay(height: int, book: TokenBook, contracts: ContractBook, after: str | None,
            tokens: list[tuple[str, str]]) -> None:
    """Apply the block's token and contract entries, then trace its transfers."""
    trades: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []
    for kind, body in tokens:
        try:
            data, end = _DECODE(body)
            if end != len(body) or not isinstance(data, dict):
                raise LedgerError(f"{kind} transaction body is not an object")
            if kind == _CONTRACT:
                contracts.apply_body(data, after=after)
            elif kind == _TRADE:
                trades.append(data)
            else:
                book.apply_body(kind, data)
                if kind == _TRANSFER:
                    transfers.append(data)
        except ValueError:
            _fail(height, "token or contract transaction body is not valid JSON")
        except LedgerError as exc:
            _fail(height, exc.message)
    if trades or transfers:
        try:
            why = untraced(trades, transfers, book.fund,
                           lambda interval: gift_pairs(contracts, interval))
        except (KeyError, TypeError):
            _fail(height, "a trade or transfer body lacks a field")
        if why is not None:
            _fail(height, why)


def _verify_store(store: LedgerStore, operator: str | None, head_hash: str | None) -> VerifyReport:
    rows = store.raw_transactions()
    pending = next(rows, None)
    book, contracts = TokenBook(), ContractBook()
    latest: str | None = None
    prev, owner, expected, total = GENESIS_PREV_HASH, "", 0, 0
    for height, stored_hash, header_json, signature in store.raw_blocks():
        if height != expected:
            _fail(expected, f"block is missing (next stored block is {height})")
        if pending is not None and pending[0] < height:
            _fail(pending[0], "transactions stored for a block that does not exist")
        header, header_bytes = check_header(height, stored_hash, header_json)
        if header["prev_hash"] != prev:
            _fail(height, "previous-hash link is broken")
        if height == 0:
            owner = header["operator"]
            if operator is not None and owner != operator:
                _fail(0, f"genesis operator is {owner}, expected {operator}")
        elif header["operator"] != owner:
            _fail(height, f"signed by {header['operator']}, not the genesis operator {owner}")
        if not verify(owner, header_bytes, signature):
            _fail(height, "operator signature does not verify")
        hashes, tokens, pending = _transactions(height, rows, pending)
        if len(hashes) != header["tx_count"]:
            _fail(height, f"header counts {header['tx_count']} transactions, {len(hashes)} stored")
        if root_from_hashes(hashes).hex() != header["merkle_root"]:
            _fail(height, "Merkle root does not match the transactions")
        if not isinstance(header["interval"], str | None):
            _fail(height, "header interval is neither an interval id nor null")
        latest = newest_interval(latest, header["interval"])
        _replay(height, book, contracts, latest, tokens)
        if height == 0 and not book.genesis_micro:
            _fail(0, "genesis block carries no genesis supply")
        prev, expected, total = stored_hash, expected + 1, total + len(hashes)
    if pending is not None:
        _fail(pending[0], "transactions stored for a block that does not exist")
    if expected == 0:
        _fail(0, "the ledger holds no blocks")
    if head_hash is not None and prev != head_hash:
        _fail(expected - 1, "head hash differs from the expected head (blocks lost at the end?)")
    supply = book.supply_micro
    if supply != book.genesis_micro + book.minted_micro:
        _fail(expected - 1, "token supply differs from genesis plus minted rewards")
    return VerifyReport(height=expected - 1, blocks=expected, transactions=total,
                        supply_micro=supply, genesis_micro=book.genesis_micro,
                        minted_micro=book.minted_micro, balances_ok=True, operator=owner,
                        head_hash=prev)


def verify_ledger(
    source: str | Path | LedgerStore,
    *,
    operator: str | None = None,
    head_hash: str | None = None,
) -> VerifyReport:
    """Verify every block of a ledger file (or open store); raise at the first problem.

    ``operator`` pins the expected genesis operator key (hex); ``head_hash`` pins the
    newest block hash, which is how truncation of the newest blocks is caught (a chain
    cut at its end is otherwise still a valid, shorter chain).
    Raises ``VerificationError`` whose ``height`` names the first bad block.
    """
    if isinstance(source, str | Path):
        store: LedgerStore = SqliteStore(source, read_only=True)
    else:
        store = source
    try:
        return _verify_store(store, operator, head_hash)
    except sqlite3.Error as exc:
        raise LedgerError(f"could not read {store.path}: {exc}", code="read-failed") from None
    finally:
        if store is not source:
            store.close()
