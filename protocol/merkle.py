"""RFC 6962 / RFC 9162 Merkle trees over SHA-256, as pure functions.

Leaves and inner nodes are hashed with different one-byte prefixes (0x00 and 0x01) so a
leaf can never be passed off as an inner node (second-preimage defence); both hashes are
``voisin.protocol.encoding``'s, the only ones in voisin. The tree over
``n`` leaves splits at the largest power of two below ``n``; an odd node is carried up
unchanged, never duplicated. Proofs are plain lists of 32-byte hashes that anyone can
check with the public root alone, which is what lets a household check its trade with
only the block headers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from voisin.errors import VerificationError
from voisin.protocol.encoding import leaf_hash, node_hash

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the tree with no leaves (RFC 6962 section 2.1)."""


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Tree head over already hashed leaves, bottom-up (same tree as the RFC's recursion)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """Tree head over raw leaf data (each hashed with :func:`leaf_hash`)."""
    return root_from_hashes([leaf_hash(x) for x in leaves])


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` (RFC 6962 section 2.1.1), leaf side first."""
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"leaf index {index} outside a tree of {len(leaf_hashes)} leaves")
    proof: list[bytes] = []
    lo, hi = 0, len(leaf_hashes)
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            proof.append(root_from_hashes(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(root_from_hashes(leaf_hashes[lo : lo + k]))
            lo += k
    proof.reverse()
    return proof


def consistency_proof(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Proof that the first ``m`` leaves are a prefix of ``leaf_hashes`` (RFC 6962 2.1.2)."""
    n = len(leaf_hashes)
    if not 0 < m <= n:
        raise ValueError(f"old size {m} must be in 1..{n}")
    proof: list[bytes] = []
    lo, hi, whole = 0, n, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(root_from_hashes(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(root_from_hashes(leaf_hashes[lo : lo + k]))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(root_from_hashes(leaf_hashes[lo:hi]))
    proof.reverse()
    return proof


def _fail(message: str) -> bool:
    raise VerificationError(message, code="bad-proof")


def _check_hashes(*values: bytes) -> None:
    for value in values:
        if len(value) != HASH_SIZE:
            _fail(f"hash of {len(value)} bytes, expected {HASH_SIZE}")


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """True when ``leaf`` (a leaf hash) sits at ``index`` of the tree with ``root_hash``.

    Follows RFC 9162 section 2.1.3.2; raises :class:`VerificationError` otherwise.
    """
    if not 0 <= index < tree_size:
        _fail(f"leaf index {index} outside a tree of {tree_size} leaves")
    _check_hashes(leaf, root_hash, *proof)
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            _fail("inclusion proof longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        _fail("inclusion proof shorter than the tree is deep")
    if r != root_hash:
        _fail("inclusion proof does not lead to the root")
    return True


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """True when the tree (``size1``, ``root1``) is a prefix of (``size2``, ``root2``).

    Follows RFC 9162 section 2.1.4.2. A proof from the empty tree proves nothing and is
    refused. Raises :class:`VerificationError` on any mismatch.
    """
    if size1 < 1 or size2 < size1:
        _fail(f"sizes {size1} -> {size2}: need 1 <= old size <= new size")
    if size1 == size2:
        if proof:
            _fail("equal sizes need an empty proof")
        if root1 != root2:
            _fail("equal sizes but different roots")
        return True
    if not proof:
        _fail("empty consistency proof for different sizes")
    _check_hashes(root1, root2, *proof)
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            _fail("consistency proof longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        _fail("consistency proof shorter than needed")
    if fr != root1:
        _fail("consistency proof does not lead to the old root")
    if sr != root2:
        _fail("consistency proof does not lead to the new root")
    return True
