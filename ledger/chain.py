"""The append-only chain: hash-linked blocks signed by the operator.

Each header names the previous header's hash (64 zeros before genesis), the RFC 6962
Merkle root of its transactions' leaf bytes, and the operator's key; the operator signs
the header's canonical bytes. Height 0 holds the token genesis supply. A block whose
token transactions would overdraw an account is refused before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from voisin.errors import InvalidInput, LedgerError
from voisin.ledger import transactions as tx
from voisin.ledger.block_time import BadTime, BlockClock, parse_time
from voisin.ledger.contracts import ContractBook
from voisin.ledger.store import EncodedBlock, LedgerStore, RawTransaction, open_store
from voisin.ledger.tokens import TokenBook
from voisin.protocol import (
    Block,
    BlockHeader,
    KeyPair,
    Transaction,
    TxKind,
    canonical_bytes,
    merkle,
    sha256_hex,
)
from voisin.protocol.blocks import EncodedTransaction, tx_leaf_hash

GENESIS_PREV_HASH = "0" * 64
DEFAULT_FUND = "fund"
DEFAULT_GENESIS_MICRO = 1_000_000 * tx.MICRO_PER_TOKEN
DEFAULT_GENESIS_TIME = "2026-01-01T00:00:00+00:00"
_TOKEN_KINDS = (TxKind.GENESIS.value, TxKind.TRANSFER.value, TxKind.REWARD.value)
_CONTRACT = TxKind.CONTRACT.value
_GENESIS = TxKind.GENESIS.value
_MARKET = TxKind.MARKET.value
_KIND_NAME = {k: k.value for k in TxKind}
_READ_KINDS = frozenset((*_TOKEN_KINDS, _CONTRACT, _MARKET))
"""The kinds whose bodies the ledger reads when it seals a block."""


def _encoded(index: int, t: Transaction | EncodedTransaction) -> EncodedTransaction:
    """Entry ``index`` of a block in its stored form (its body encoded and hashed)."""
    if isinstance(t, EncodedTransaction):
        return t
    try:
        body = t.body_bytes if t.body_bytes is not None else canonical_bytes(t.body)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"transaction {index} ({t.kind.value}) has a body that is not plain JSON: {exc}",
            code="bad-transaction",
        ) from None
    return EncodedTransaction(t.kind, body, tx_leaf_hash(t.kind.value, body), t.body)


def newest_interval(latest: str | None, interval: str | None) -> str | None:
    """The later of two interval ids (None = none yet); contracts must start after it."""
    if interval is None:
        return latest
    return interval if latest is None or interval > latest else latest


class Ledger:
    """An open ledger file written by one operator key. Use :meth:`open`."""

    def __init__(self, store: LedgerStore, operator: KeyPair) -> None:
        self._store = store
        self._operator = operator
        self._book = TokenBook()
        self._contracts = ContractBook()
        self._latest_interval: str | None = None
        self._clock = BlockClock()
        self._stopped = ""  # why the storage failed; no block is acknowledged after that
        self._height = -1
        self._head = GENESIS_PREV_HASH
        self.fund = DEFAULT_FUND

    @classmethod
    def open(
        cls,
        path: str | Path | LedgerStore,
        operator: KeyPair,
        *,
        fund: str = DEFAULT_FUND,
        genesis_supply_micro: int = DEFAULT_GENESIS_MICRO,
        time: str = DEFAULT_GENESIS_TIME,
    ) -> Ledger:
        """Open ``path`` (a file, or an open store), writing genesis if it is new.

        ``fund``, ``genesis_supply_micro`` and ``time`` only shape a new genesis block;
        an existing ledger keeps its own and must have been written by ``operator``.
        Closing the ledger closes the store.
        """
        store = open_store(path) if isinstance(path, str | Path) else path
        ledger = cls(store, operator)
        try:
            if store.height() < 0:
                ledger.fund = fund
                ledger.append([tx.genesis(fund, genesis_supply_micro)], interval=None, time=time)
            else:
                ledger._resume()
        except BaseException:
            store.close()
            raise
        return ledger

    def _resume(self) -> None:
        """Pick up the head, then replay token balances and contracts from the stored rows."""
        intervals: list[str | None] = []
        for height, block_hash, header_json, _ in self._store.raw_blocks():
            header = json.loads(header_json)
            if height == 0 and header.get("operator") != self._operator.public_hex:
                raise LedgerError(
                    f"{self._store.path} is operated by key "
                    f"{header.get('operator')}, not {self._operator.public_hex}",
                    code="wrong-operator",
                )
            self._height, self._head = height, block_hash
            intervals.append(header.get("interval"))
            try:  # a stamp verify refuses is its finding; the clock goes on from the others
                self._clock.advance(parse_time(header.get("time")))
            except BadTime:
                pass
        before: str | None = None  # newest interval of the blocks below ``at``
        at = 0
        for height, _, kind, body, _ in self._store.raw_transactions():
            while at < height:
                before, at = newest_interval(before, intervals[at]), at + 1
            if kind in _TOKEN_KINDS:
                data = json.loads(body)
                self._book.apply_body(kind, data)
                if kind == TxKind.GENESIS.value:
                    self.fund = data["recipient"]
            elif kind == _CONTRACT:
                self._contracts.apply_body(
                    json.loads(body), after=newest_interval(before, intervals[height])
                )
            elif kind == _MARKET:
                self._clock.terms(json.loads(body))
        for interval in intervals:
            self._latest_interval = newest_interval(self._latest_interval, interval)

    @property
    def height(self) -> int:
        """Height of the newest block (0 = genesis only)."""
        return self._height

    @property
    def stopped(self) -> str:
        """Why the storage failed ("" while it works); no block is appended after that."""
        return self._stopped

    @property
    def head_hash(self) -> str:
        return self._head

    @property
    def time(self) -> str | None:
        """The newest block stamp (None before genesis): a block without an interval
        is never stamped earlier (``ledger.block_time``)."""
        return None if self._clock.newest is None else self._clock.newest.isoformat()

    @property
    def operator(self) -> str:
        return self._operator.public_hex

    def raw_transactions(self) -> Iterator[RawTransaction]:
        """Every stored transaction row in chain order: (height, index, kind, body, leaf)."""
        return self._store.raw_transactions()

    @property
    def contracts(self) -> ContractBook:
        """A copy of the contracts registered up to the newest block."""
        return self._contracts.copy()

    @property
    def tokens(self) -> TokenBook:
        """A copy of the token balances after the newest block."""
        return self._book.copy()

    def append(
        self,
        transactions: Iterable[Transaction | EncodedTransaction],
        *,
        interval: str | None,
        time: str,
    ) -> Block:
        """Sign and durably store one block; returns it once it is on disk.

        Raises ``LedgerError`` and writes nothing if a transfer would overdraw (code
        ``overdraft``) or a contract is unsigned, badly signed, retroactive or revokes
        what its signer does not own (``bad-contract``, ``retroactive-contract``);
        ``InvalidInput`` if a body is not JSON-encodable; ``bad-time`` if ``time`` breaks
        the stamp rule of ``ledger.block_time`` (an interval block is stamped with the
        interval's end, others never before the newest stamp). After a failed write (disk
        full, I/O error: code ``write-failed``) every later append raises code
        ``stopped`` until the ledger is reopened, so nothing is acknowledged on storage
        in an unknown state.
        """
        txs = tuple(transactions)
        header, signature = self._seal(txs, interval, time)
        return Block(
            header=header,
            signature=signature,
            transactions=tuple(
                t.transaction() if isinstance(t, EncodedTransaction) else t for t in txs
            ),
        )

    def append_entries(
        self,
        entries: Sequence[Transaction | EncodedTransaction],
        *,
        interval: str | None,
        time: str,
    ) -> BlockHeader:
        """``append`` without building the ``Block`` object: the operator's path, where
        a block holds every bid and trade of a gate and nobody reads it back."""
        return self._seal(entries, interval, time)[0]

    def _seal(
        self,
        txs: Sequence[Transaction | EncodedTransaction],
        interval: str | None,
        time: str,
    ) -> tuple[BlockHeader, str]:
        if self._stopped:
            raise LedgerError(
                f"ledger stopped after a failed write ({self._stopped}); "
                "reopen it once the storage is fixed",
                code="stopped",
            )
        staged = self._book.copy()
        header_height = self._height + 1
        # The hot path of the ledger, one pass per column: an encoded entry comes hashed
        # already, a ``Transaction`` is encoded here; then only the entries the ledger
        # reads (tokens, contracts) are decoded, in block order.
        rows = [
            t if t.__class__ is EncodedTransaction else _encoded(i, t) for i, t in enumerate(txs)
        ]
        kinds = [_KIND_NAME[t.kind] for t in rows]
        contract_bodies = []
        clock = replace(self._clock)
        for i in [i for i, kind in enumerate(kinds) if kind in _READ_KINDS]:
            kind, data = kinds[i], rows[i].decoded()
            if kind == _CONTRACT:
                contract_bodies.append(data)
                continue
            if kind == _MARKET:
                clock.terms(data)
                continue
            if kind == _GENESIS and header_height:
                raise LedgerError("a genesis transaction outside block 0", code="bad-token-tx")
            staged.apply_body(kind, data)
        try:
            instant = clock.check(time, interval)
        except BadTime as bad:
            raise LedgerError(f"block {header_height}: {bad.why}", code="bad-time") from None
        bodies = [t.body_bytes for t in rows]
        hashes = [t.leaf for t in rows]
        latest = newest_interval(self._latest_interval, interval)
        contracts = self._contracts
        if contract_bodies:
            contracts = contracts.copy()
            contracts.apply_all(contract_bodies, after=latest)
        header = BlockHeader(
            height=self._height + 1,
            prev_hash=self._head,
            merkle_root=merkle.root_from_hashes(hashes).hex(),
            interval=interval,
            time=time,
            operator=self._operator.public_hex,
            tx_count=len(txs),
        )
        header_bytes = canonical_bytes(header)
        block_hash = sha256_hex(header_bytes)
        signature = self._operator.sign(header_bytes)
        try:
            self._store.append_encoded(
                EncodedBlock(
                    header.height,
                    block_hash,
                    header_bytes.decode("utf-8"),
                    signature,
                    (
                        (kind, body.decode("utf-8"), leaf.hex())
                        for kind, body, leaf in zip(kinds, bodies, hashes, strict=True)
                    ),
                )
            )
        except LedgerError as exc:
            if exc.code == "write-failed":
                self._stopped = exc.message
            raise
        self._book, self._height, self._head = staged, header.height, block_hash
        self._contracts, self._latest_interval = contracts, latest
        clock.advance(instant)
        self._clock = clock
        return header, signature

    def block(self, height: int) -> Block:
        return self._store.block(height)

    def blocks(self) -> Iterator[Block]:
        return self._store.blocks()

    def inclusion_proof(self, height: int, index: int) -> list[bytes]:
        """Audit path of transaction ``index`` in block ``height`` against its merkle_root."""
        hashes = [bytes.fromhex(h) for h in self._store.leaf_hashes(height)]
        if not 0 <= index < len(hashes):
            raise LedgerError(f"block {height} has no transaction {index}", code="no-tx")
        return merkle.inclusion_proof(index, hashes)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
