"""Verify a whole ledger from its stored bytes and name the first bad block.

Works on the canonical JSON the store keeps: every header is re-hashed, linked to its
predecessor, checked against the genesis operator's signature (and the pinned operator
and head, when given); every transaction body must be its own RFC 8785 form, its leaf
hash and the block's Merkle root and count are recomputed, its ``time`` checked
(``ledger.block_time``). Then ``Replay`` redoes the
operator's arithmetic: tokens and supply, contracts, bids and their signatures, bid
digests, trade prices from clearing prices, payments from trades, meter signatures,
settlements and rewards from readings. Verification needs nothing but the file, which is
the point: anyone holding a copy can audit the operator, and a block the operator signed
with a wrong number in it fails like an edited one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from voisin.errors import LedgerError, VerificationError
from voisin.ledger.block_time import BadTime, BlockClock
from voisin.ledger.chain import GENESIS_PREV_HASH
from voisin.ledger.replay import BYTE_CHECKED_KINDS, Replay, StoredTx, Violation, canonical_object
from voisin.ledger.store import ColumnTypeError, LedgerStore, RawTransaction, open_store
from voisin.protocol import TxKind, canonical_text, sha256_hex, verify
from voisin.protocol.blocks import tx_leaf_hash
from voisin.protocol.merkle import root_from_hashes

_HEADER_KEYS = frozenset(
    ("height", "prev_hash", "merkle_root", "interval", "time", "operator", "tx_count")
)
_KINDS = frozenset(k.value for k in TxKind)


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
    intervals_cleared: int = 0
    intervals_settled: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    """Transactions by kind."""


def _fail(
    height: int, why: str, *, index: int | None = None, rule: str = "", kind: str = ""
) -> NoReturn:
    """``block H[, transaction I (kind)]: rule R: why`` as a ``VerificationError``."""
    where = f"block {height}"
    if index is not None:
        where += f", transaction {index}" + (f" ({kind})" if kind else "")
    raise VerificationError(
        f"{where}: rule {rule}: {why}", height=height, index=index, rule=rule, detail=why
    )


def check_header(height: int, stored_hash: str, header_json: str) -> tuple[dict[str, Any], bytes]:
    """Parse a stored header and check it is canonical and matches its stored hash.

    Shared with proof checking, which sees headers only. Raises ``VerificationError``.
    """
    try:
        header = json.loads(header_json)
        canonical = isinstance(header, dict) and canonical_text(header) == header_json
    except (TypeError, ValueError):
        _fail(height, "header is not valid JSON", rule="header")
    if not canonical or set(header) != _HEADER_KEYS:
        _fail(height, "header is not a canonical block header", rule="header")
    header_bytes = header_json.encode("utf-8")
    if sha256_hex(header_bytes) != stored_hash:
        _fail(height, "stored block hash does not match the header", rule="header")
    if header["height"] != height:
        _fail(
            height,
            f"header says height {header['height']} but is stored at {height}",
            rule="header",
        )
    return header, header_bytes


def _transactions(
    height: int,
    rows: Iterator[RawTransaction],
    pending: RawTransaction | None,
) -> tuple[list[bytes], list[StoredTx], RawTransaction | None]:
    """Consume this block's tx rows: leaf hashes, decoded bodies, the next row."""
    hashes: list[bytes] = []
    txs: list[StoredTx] = []
    while pending is not None and pending[0] == height:
        _, idx, kind, body, stored_leaf = pending
        if idx != len(hashes):
            _fail(
                height,
                f"transaction {len(hashes)} is missing (next stored index {idx})",
                rule="tx-count",
            )
        if kind not in _KINDS:
            _fail(height, f"unknown kind {kind!r}", index=idx, rule="kind", kind=kind)
        leaf = tx_leaf_hash(kind, body.encode("utf-8"))
        if leaf.hex() != stored_leaf:
            _fail(
                height,
                "stored leaf hash does not match its body",
                index=idx,
                rule="leaf",
                kind=kind,
            )
        if kind in BYTE_CHECKED_KINDS:
            data = {}  # compared as bytes with what the verifier derives: decoded if they differ
        else:
            try:
                data = canonical_object(body)
            except ValueError:
                _fail(
                    height,
                    "body is not an RFC 8785 JSON object",
                    index=idx,
                    rule="canonical-body",
                    kind=kind,
                )
        hashes.append(leaf)
        txs.append((idx, kind, body, data))
        pending = next(rows, None)
    return hashes, txs, pending


def _verify_store(store: LedgerStore, operator: str | None, head_hash: str | None) -> VerifyReport:
    """``_verify_rows``, a stored value of the wrong type a finding where it is."""
    try:
        return _verify_rows(store, operator, head_hash)
    except ColumnTypeError as exc:
        _fail(exc.height, exc.detail, index=exc.index, rule="column-type")


def _verify_rows(store: LedgerStore, operator: str | None, head_hash: str | None) -> VerifyReport:
    rows = store.raw_transactions()
    pending = next(rows, None)
    replay = Replay()
    clock = BlockClock()
    prev, owner, expected, total = GENESIS_PREV_HASH, "", 0, 0
    for height, stored_hash, header_json, signature in store.raw_blocks():
        if height != expected:
            _fail(expected, f"block is missing (next stored block is {height})", rule="link")
        if pending is not None and pending[0] < height:
            _fail(pending[0], "transactions stored for a block that does not exist", rule="link")
        header, header_bytes = check_header(height, stored_hash, header_json)
        if header["prev_hash"] != prev:
            _fail(height, "previous-hash link is broken", rule="link")
        if height == 0:
            owner = header["operator"]
            if operator is not None and owner != operator:
                _fail(0, f"genesis operator is {owner}, expected {operator}", rule="operator")
        elif header["operator"] != owner:
            _fail(
                height,
                f"signed by {header['operator']}, not the genesis operator {owner}",
                rule="operator",
            )
        if not verify(owner, header_bytes, signature):
            _fail(height, "operator signature does not verify", rule="signature")
        hashes, txs, pending = _transactions(height, rows, pending)
        if len(hashes) != header["tx_count"]:
            _fail(
                height,
                f"header counts {header['tx_count']} transactions, {len(hashes)} stored",
                rule="tx-count",
            )
        if root_from_hashes(hashes).hex() != header["merkle_root"]:
            _fail(height, "Merkle root does not match the transactions", rule="merkle-root")
        if not isinstance(header["interval"], str | None):
            _fail(height, "header interval is neither an interval id nor null", rule="header")
        try:
            replay.apply(height, header["interval"], txs)
        except Violation as v:
            _fail(
                height,
                v.message,
                index=v.index,
                rule=v.rule,
                kind=txs[v.index][1] if v.index is not None else "",
            )
        if replay.terms is not None:
            clock.terms(replay.terms.body)
        try:
            clock.advance(clock.check(header["time"], header["interval"]))
        except BadTime as bad:
            _fail(height, bad.why, rule="time")
        prev, expected, total = stored_hash, expected + 1, total + len(hashes)
    if pending is not None:
        _fail(pending[0], "transactions stored for a block that does not exist", rule="link")
    if expected == 0:
        _fail(0, "the ledger holds no blocks", rule="link")
    if head_hash is not None and prev != head_hash:
        _fail(
            expected - 1,
            "head hash differs from the expected head (blocks lost at the end, or another chain?)",
            rule="head",
        )
    book = replay.book
    if book.supply_micro != book.genesis_micro + book.minted_micro:
        _fail(expected - 1, "token supply differs from genesis plus minted rewards", rule="supply")
    return VerifyReport(
        height=expected - 1,
        blocks=expected,
        transactions=total,
        supply_micro=book.supply_micro,
        genesis_micro=book.genesis_micro,
        minted_micro=book.minted_micro,
        balances_ok=True,
        operator=owner,
        head_hash=prev,
        intervals_cleared=len(replay.closed),
        intervals_settled=len(replay.settled),
        counts=dict(replay.counts),
    )


def verify_ledger(
    source: str | Path | LedgerStore,
    *,
    operator: str | None = None,
    head_hash: str | None = None,
) -> VerifyReport:
    """Verify every block of a ledger file (or open store); raise at the first problem.

    ``operator`` pins the expected genesis operator key (hex): a chain re-signed by
    anyone else fails at block 0. ``head_hash`` pins the newest block hash, which is how
    truncation of the newest blocks is caught (a chain cut at its end is otherwise still
    a valid, shorter chain). Raises ``VerificationError`` whose ``height``, ``index``
    and ``rule`` name the first bad block, transaction and rule.
    """
    if isinstance(source, str | Path):
        store: LedgerStore = open_store(source, read_only=True)
    else:
        store = source
    try:
        with store.snapshot():
            return _verify_store(store, operator, head_hash)
    except sqlite3.Error as exc:
        raise LedgerError(f"could not read {store.path}: {exc}", code="read-failed") from None
    finally:
        if store is not source:
            store.close()
