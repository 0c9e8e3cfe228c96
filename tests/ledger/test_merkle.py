"""RFC 6962 Merkle trees: the transparency-dev vectors, and our proofs round-trip."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import VerificationError
from voisin.protocol import merkle


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _cases(testdata: Path, kind: str) -> list[Path]:
    files = sorted((testdata / "merkle" / kind).rglob("*.json"))
    assert files, f"no {kind} vectors found"
    return files


def _accepts(call) -> bool:
    try:
        return call() is True
    except VerificationError:
        return False


def test_inclusion_vectors(testdata: Path) -> None:
    for path in _cases(testdata, "inclusion"):
        case = json.loads(path.read_text())
        ok = _accepts(
            lambda c=case: merkle.verify_inclusion(
                _b64(c["leafHash"]),
                c["leafIdx"],
                c["treeSize"],
                [_b64(p) for p in c["proof"] or []],
                _b64(c["root"]),
            )
        )
        assert ok is not case["wantErr"], f"{path}: {case['desc']}"


def test_consistency_vectors(testdata: Path) -> None:
    for path in _cases(testdata, "consistency"):
        case = json.loads(path.read_text())
        ok = _accepts(
            lambda c=case: merkle.verify_consistency(
                c["size1"],
                c["size2"],
                _b64(c["root1"]),
                _b64(c["root2"]),
                [_b64(p) for p in c["proof"] or []],
            )
        )
        assert ok is not case["wantErr"], f"{path}: {case['desc']}"


def _reference_root(hashes: list[bytes]) -> bytes:
    """The RFC's recursive definition, to hold the bottom-up code to it."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return merkle.node_hash(_reference_root(hashes[:k]), _reference_root(hashes[k:]))


def test_known_roots() -> None:
    assert merkle.root([]) == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.root([b""]) == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_proofs_round_trip(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(x) for x in leaves]
    head = merkle.root(leaves)
    assert head == _reference_root(hashes)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle.inclusion_proof(index, hashes)
    assert merkle.verify_inclusion(hashes[index], index, len(leaves), proof, head)
    if len(leaves) > 1:
        other = (index + 1) % len(leaves)
        if hashes[other] != hashes[index]:
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(hashes[other], index, len(leaves), proof, head)
    m = data.draw(st.integers(1, len(leaves)))
    old = merkle.root_from_hashes(hashes[:m])
    assert merkle.verify_consistency(m, len(leaves), old, head, merkle.consistency_proof(m, hashes))
