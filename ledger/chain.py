"""The append-only chain: hash-linked blocks signed by the operator.

Each header names the previous header's hash (64 zeros before genesis), the RFC 6962
Merkle root of its transactions' leaf bytes, and the operator's key; the operator signs
the header's canonical bytes. Height 0 holds the token genesis supply. A block whose
token transactions would overdraw an account is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from voisin.errors import InvalidInput, LedgerError
from voisin.ledger import merkle
from voisin.ledger import transactions as tx
from voisin.ledger.store import EncodedBlock, LedgerStore, SqliteStore
from voisin.ledger.tokens import TokenBook
from voisin.ledger.transactions import encode_body, leaf_bytes
from voisin.protocol import Block, BlockHeader, KeyPair, Transaction, TxKind, canonical_bytes

GENESIS_PREV_HASH = "0" * 64
DEFAULT_FUND = "fund"
DEFAULT_GENESIS_MICRO = 1_000_000 * tx.MICRO_PER_TOKEN
DEFAULT_GENESIS_TIME = "2026-01-01T00:00:00+00:00"
_TOKEN_KINDS = (TxKind.TRANSFER.value, TxKind.REWARD.value)


class Ledger:
    """An open ledger file written by one operator key. Use :meth:`open`."""

    def __init__(self, store: LedgerStore, operator: KeyPair) -> None:
        self._store = store
        self._operator = operator
        self._book = TokenBook()
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
        store = SqliteStore(path) if isinstance(path, str | Path) else path
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
        """Pick up the head and replay token balances from the stored rows."""
        for height, block_hash, header_json, _ in self._store.raw_blocks():
            if height == 0:
                owner = json.loads(header_json).get("operator")
                if owner != self._operator.public_hex:
                    raise LedgerError(f"{self._store.path} is operated by key {owner}, not "
                                      f"{self._operator.public_hex}", code="wrong-operator")
            self._height, self._head = height, block_hash
        for height, _, kind, body, _ in self._store.raw_transactions():
            if kind in _TOKEN_KINDS:
                data = json.loads(body)
                self._book.apply_body(kind, data)
                if height == 0 and data.get("sender") == tx.GENESIS_SENDER:
                    self.fund = data["recipient"]

    @property
    def height(self) -> int:
        """Height of the newest block (0 = genesis only)."""
        return self._height

    @property
    def head_hash(self) -> str:
        return self._head

    @property
    def operator(self) -> str:
        return self._operator.public_hex

    @property
    def tokens(self) -> TokenBook:
        """A copy of the token balances after the newest block."""
        return self._book.copy()

    def append(
        self, transactions: Iterable[Transaction], *, interval: str | None, time: str
    ) -> Block:
        """Sign and durably store one block; returns it once it is on disk.

        Raises ``LedgerError`` (code ``overdraft``) and writes nothing if a transfer
        would overdraw; ``InvalidInput`` if a body is not JSON-encodable.
        """
        txs = tuple(transactions)
        staged = self._book.copy()
        staged.apply_all(txs)
        rows = []
        hashes = []
        sha = hashlib.sha256
        for i, t in enumerate(txs):
            kind = t.kind.value
            try:
                body = encode_body(t.body)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"transaction {i} ({kind}) has a body that is not plain "
                                   f"JSON: {exc}", code="bad-transaction") from None
            leaf = sha(b"\x00" + leaf_bytes(kind, body)).digest()
            hashes.append(leaf)
            rows.append((kind, body, leaf.hex()))
        header = BlockHeader(
            height=self._height + 1, prev_hash=self._head,
            merkle_root=merkle.root_from_hashes(hashes).hex(), interval=interval, time=time,
            operator=self._operator.public_hex, tx_count=len(txs),
        )
        header_bytes = canonical_bytes(header)
        block_hash = sha(header_bytes).hexdigest()
        signature = self._operator.sign(header_bytes)
        self._store.append_encoded(EncodedBlock(header.height, block_hash,
                                                header_bytes.decode("utf-8"), signature,
                                                tuple(rows)))
        self._book, self._height, self._head = staged, header.height, block_hash
        return Block(header=header, signature=signature, transactions=txs)

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
