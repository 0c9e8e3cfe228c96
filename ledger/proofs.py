"""Inclusion proofs a household checks with the block headers alone.

A proof names one transaction (its leaf bytes, or only its leaf hash when the holder
wants to keep the body private), its index, the block's transaction count, the RFC 6962
audit path and the signed block header. ``check_proof`` needs nothing else but the
exported header chain: it re-links every header from genesis by hash, checks each
operator signature, finds the proof's header in that chain and walks the audit path
up to the header's ``merkle_root``. No transaction other than the proven one is seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from voisin.errors import LedgerError, VerificationError
from voisin.ledger.chain import GENESIS_PREV_HASH
from voisin.ledger.store import LedgerStore, open_store
from voisin.ledger.verify import check_header
from voisin.protocol import Transaction, canonical_bytes, merkle, parse, verify
from voisin.protocol.validation import read_json_file

PROOF_VERSION: Final = 1
_HEX64 = r"^[0-9a-f]{64}$"


def _integer(value: object) -> object:
    """A JSON integer as written: ``true`` equals 1 and ``1.0`` too, in Python."""
    if type(value) is not int:
        raise ValueError(f"expected the integer {PROOF_VERSION}, not {value!r}")
    return value


Version = Annotated[Literal[1], BeforeValidator(_integer)]
"""A proof or headers file's format version, the integer 1 and nothing equal to it."""


class SignedHeader(BaseModel):
    """One block header as exported: the header object, its hash and the signature."""

    model_config = ConfigDict(frozen=True)

    header: dict[str, Any]
    hash: str = Field(pattern=_HEX64)
    signature: str


class HeaderChain(BaseModel):
    """The headers file (`voisin ledger headers`): every header from genesis, in order."""

    model_config = ConfigDict(frozen=True)

    version: Version = PROOF_VERSION
    headers: tuple[SignedHeader, ...]


class TxProof(BaseModel):
    """An inclusion proof as written to a file; ``transaction`` is None when hash-only."""

    model_config = ConfigDict(frozen=True)

    version: Version = PROOF_VERSION
    height: int = Field(ge=0, strict=True)
    index: int = Field(ge=0, strict=True)
    tree_size: int = Field(ge=1, strict=True)
    """Integers as JSON integers (strict): ``5.0`` or ``true`` is no height, and a proof
    file is checked as written, not as Python would coerce it."""
    leaf_hash: str = Field(pattern=_HEX64)
    audit_path: tuple[str, ...]
    transaction: Transaction | None = None
    block: SignedHeader


@dataclass(frozen=True)
class ProofReport:
    """What a successful check established."""

    height: int
    index: int
    tree_size: int
    kind: str | None
    leaf_hash: str
    block_hash: str
    operator: str
    chain_height: int


def _open(source: str | Path | LedgerStore) -> tuple[LedgerStore, bool]:
    if isinstance(source, str | Path):
        return open_store(source, read_only=True), True
    return source, False


def _signed_header(store: LedgerStore, height: int) -> SignedHeader:
    _, block_hash, header_json, signature = store.raw_block(height)
    header, _ = check_header(height, block_hash, header_json)
    return SignedHeader(header=header, hash=block_hash, signature=signature)


def prove(
    source: str | Path | LedgerStore,
    *,
    height: int | None = None,
    index: int | None = None,
    leaf_hash: str | None = None,
    hash_only: bool = False,
) -> TxProof:
    """Build the proof of one transaction, named by (height, index) or by its leaf hash.

    ``hash_only`` leaves the body out: the proof then shows that *some* transaction with
    that leaf hash is in the block, which is enough for a holder who kept the body.
    """
    store, owned = _open(source)
    try:
        if leaf_hash is not None:
            found = store.find_leaf(leaf_hash)
            if found is None:
                raise LedgerError(
                    f"no transaction with leaf hash {leaf_hash} in {store.path}", code="no-tx"
                )
            height, index = found
        if height is None or index is None:
            raise LedgerError(
                "name a transaction by height and index, or by its leaf hash", code="no-tx"
            )
        _, _, kind, body, stored_leaf = store.raw_transaction(height, index)
        hashes = [bytes.fromhex(h) for h in store.leaf_hashes(height)]
        path = merkle.inclusion_proof(index, hashes)
        transaction = (
            None
            if hash_only
            else Transaction.model_validate({"kind": kind, "body": _json_object(body)})
        )
        return TxProof(
            height=height,
            index=index,
            tree_size=len(hashes),
            leaf_hash=stored_leaf,
            audit_path=tuple(p.hex() for p in path),
            transaction=transaction,
            block=_signed_header(store, height),
        )
    finally:
        if owned:
            store.close()


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise LedgerError("stored transaction body is not a JSON object", code="bad-tx")
    return value


def export_headers(source: str | Path | LedgerStore) -> HeaderChain:
    """Every signed header of a ledger, genesis first (each checked against its hash)."""
    store, owned = _open(source)
    try:
        return HeaderChain(
            headers=tuple(
                SignedHeader(
                    header=check_header(h, block_hash, text)[0],
                    hash=block_hash,
                    signature=signature,
                )
                for h, block_hash, text, signature in store.raw_blocks()
            )
        )
    finally:
        if owned:
            store.close()


def _bad(height: int | None, why: str) -> VerificationError:
    where = f"block {height}: " if height is not None else ""
    return VerificationError(f"{where}{why}", height=height, code="bad-proof")


def verify_headers(
    chain: HeaderChain | Mapping[str, Any], *, operator: str | None = None
) -> dict[int, SignedHeader]:
    """Check a header chain from genesis: canonical headers, hash links, signatures.

    Returns the headers by height. Every header must be signed by the genesis operator
    (and by ``operator`` when it is pinned). Raises ``VerificationError``.
    """
    if not isinstance(chain, HeaderChain):
        chain = parse(HeaderChain, chain, "headers file")
    if not chain.headers:
        raise _bad(None, "the headers file holds no headers")
    prev, owner = GENESIS_PREV_HASH, ""
    by_height: dict[int, SignedHeader] = {}
    for height, signed in enumerate(chain.headers):
        header_bytes = _header_bytes(signed)
        header, _ = check_header(height, signed.hash, header_bytes.decode("utf-8"))
        if header["prev_hash"] != prev:
            raise _bad(height, "previous-hash link is broken")
        if height == 0:
            owner = header["operator"]
            if operator is not None and owner != operator:
                raise _bad(0, f"genesis operator is {owner}, expected {operator}")
        elif header["operator"] != owner:
            raise _bad(height, f"signed by {header['operator']}, not the genesis operator")
        if not verify(owner, header_bytes, signed.signature):
            raise _bad(height, "operator signature does not verify")
        by_height[height] = signed
        prev = signed.hash
    return by_height


def _header_bytes(signed: SignedHeader) -> bytes:
    try:
        return canonical_bytes(signed.header)
    except (TypeError, ValueError) as exc:
        raise _bad(None, f"a header is not plain JSON: {exc}") from None


def check_proof(
    proof: TxProof | Mapping[str, Any],
    headers: HeaderChain | Mapping[str, Any],
    *,
    operator: str | None = None,
) -> ProofReport:
    """Check ``proof`` against the header chain alone; raise ``VerificationError`` if bad.

    The proof's block (header, hash and signature) must be the chain's at its height,
    so a proof cannot point at a block hash the headers do not have."""
    if not isinstance(proof, TxProof):
        proof = parse(TxProof, proof, "proof file")
    chain = verify_headers(headers, operator=operator)
    trusted = chain.get(proof.height)
    if trusted is None:
        raise _bad(
            proof.height,
            f"the headers end at height {max(chain)}; the proof names block {proof.height}",
        )
    if trusted.header != proof.block.header or trusted.signature != proof.block.signature:
        raise _bad(proof.height, "the proof's block header differs from the signed chain")
    if trusted.hash != proof.block.hash:
        raise _bad(
            proof.height,
            f"the proof names block hash {proof.block.hash[:16]}, the "
            f"signed chain {trusted.hash[:16]}",
        )
    header = trusted.header
    if proof.tree_size != header["tx_count"]:
        raise _bad(
            proof.height,
            f"proof says {proof.tree_size} transactions, the header {header['tx_count']}",
        )
    leaf = bytes.fromhex(proof.leaf_hash)
    if proof.transaction is not None:
        try:
            recomputed = proof.transaction.leaf_hash()
        except (TypeError, ValueError) as exc:
            raise _bad(
                proof.height, f"transaction {proof.index}: its body is not JSON ({exc})"
            ) from None
        if recomputed != leaf:
            raise _bad(
                proof.height,
                f"transaction {proof.index}: its bytes do not hash to the proof's leaf hash",
            )
    try:
        merkle.verify_inclusion(
            leaf,
            proof.index,
            proof.tree_size,
            [_hash(p) for p in proof.audit_path],
            bytes.fromhex(header["merkle_root"]),
        )
    except VerificationError as exc:
        raise _bad(proof.height, f"transaction {proof.index}: {exc.message}") from None
    return ProofReport(
        height=proof.height,
        index=proof.index,
        tree_size=proof.tree_size,
        kind=None if proof.transaction is None else proof.transaction.kind.value,
        leaf_hash=proof.leaf_hash,
        block_hash=trusted.hash,
        operator=header["operator"],
        chain_height=max(chain),
    )


def _hash(hex_text: str) -> bytes:
    try:
        return bytes.fromhex(hex_text)
    except ValueError:
        raise _bad(None, f"audit path entry {hex_text[:16]!r} is not hex") from None


def proof_json(proof: TxProof) -> str:
    """The proof as indented JSON for a file (any JSON layout checks the same)."""
    return proof.model_dump_json(indent=2)


def headers_json(chain: HeaderChain) -> str:
    return chain.model_dump_json(indent=1)


def load_json(path: str | Path, what: str) -> Any:
    """Read a JSON file given on the command line, with a one-line error if it is bad."""
    return read_json_file(path, what, "bad-file")
