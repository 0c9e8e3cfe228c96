"""Inclusion proofs check with the header chain alone; any tampering fails clearly. Each
test runs on a SQLite file and on a PostgreSQL database (``stored_chain``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from voisin.cli.main import main
from voisin.errors import LedgerError, VerificationError
from voisin.ledger.proofs import check_proof, export_headers, prove, verify_headers
from voisin.ledger.store import open_store
from voisin.protocol import KeyPair

from .stores import StoredLedger


def _flip_hex(value: str) -> str:
    return ("0" if value[0] != "0" else "1") + value[1:]


def test_every_transaction_proves_against_the_headers(stored_chain: StoredLedger) -> None:
    chain = stored_chain.source
    headers = export_headers(chain)
    with open_store(chain, read_only=True) as store:
        rows = [(h, i) for h, i, *_ in store.raw_transactions()]
    assert len(rows) > 10
    for height, index in rows:
        report = check_proof(prove(chain, height=height, index=index), headers)
        assert (report.height, report.index) == (height, index)
        assert report.chain_height == 4


def test_proof_by_leaf_hash_and_hash_only(stored_chain: StoredLedger) -> None:
    chain = stored_chain.source
    full = prove(chain, height=2, index=5)
    assert full.transaction is not None
    assert full.transaction.kind.value == "trade"
    by_hash = prove(chain, leaf_hash=full.leaf_hash, hash_only=True)
    assert (by_hash.height, by_hash.index, by_hash.transaction) == (2, 5, None)
    assert check_proof(by_hash, export_headers(chain)).kind is None
    with pytest.raises(LedgerError, match="no transaction with leaf hash"):
        prove(chain, leaf_hash="ab" * 32)
    with pytest.raises(LedgerError, match="no transaction 99"):
        prove(chain, height=2, index=99)


def test_proof_survives_a_json_file_round_trip(stored_chain: StoredLedger, tmp_path: Path) -> None:
    chain = stored_chain.source
    proof = json.loads(prove(chain, height=2, index=6).model_dump_json())
    headers = json.loads(export_headers(chain).model_dump_json())
    assert check_proof(proof, headers).kind == "trade"


def _tampered(chain: str) -> list[tuple[str, dict[str, Any]]]:
    base = json.loads(prove(chain, height=2, index=5).model_dump_json())
    cases: list[tuple[str, dict[str, Any]]] = []

    def case(name: str, edit: Any) -> None:
        proof = copy.deepcopy(base)
        edit(proof)
        cases.append((name, proof))

    case("body", lambda p: p["transaction"]["body"].update(energy_kwh=99.0))
    case("kind", lambda p: p["transaction"].update(kind="reading"))
    case("leaf hash", lambda p: p.update(leaf_hash=_flip_hex(p["leaf_hash"])))
    case("audit path", lambda p: p["audit_path"].__setitem__(0, _flip_hex(p["audit_path"][0])))
    case("short path", lambda p: p["audit_path"].pop())
    case("index", lambda p: p.update(index=p["index"] + 1))
    case("tree size", lambda p: p.update(tree_size=p["tree_size"] + 1))
    case("height", lambda p: p.update(height=3))
    case("header root", lambda p: p["block"]["header"].update(merkle_root="00" * 32))
    case("signature", lambda p: p["block"].update(signature=_flip_hex(p["block"]["signature"])))
    case("block hash", lambda p: p["block"].update(hash=_flip_hex(p["block"]["hash"])))
    return cases


def test_the_proofs_block_hash_must_be_the_chains(stored_chain: StoredLedger) -> None:
    chain = stored_chain.source
    proof = json.loads(prove(chain, height=2, index=5).model_dump_json())
    proof["block"]["hash"] = _flip_hex(proof["block"]["hash"])
    with pytest.raises(VerificationError, match="names block hash") as caught:
        check_proof(proof, export_headers(chain))
    assert caught.value.height == 2


def test_a_tampered_proof_fails(stored_chain: StoredLedger) -> None:
    chain = stored_chain.source
    headers = export_headers(chain)
    for name, proof in _tampered(chain):
        with pytest.raises(VerificationError) as caught:
            check_proof(proof, headers)
        assert caught.value.code == "bad-proof", name
        assert caught.value.message, name


def test_tampered_headers_fail(stored_chain: StoredLedger, operator: KeyPair) -> None:
    chain = stored_chain.source
    proof = prove(chain, height=2, index=5)
    good = json.loads(export_headers(chain).model_dump_json())
    verify_headers(good, operator=operator.public_hex)
    for height, field, value in (
        (1, "time", "2030-01-01T00:00:00+00:00"),
        (3, "prev_hash", "00" * 32),
        (0, "tx_count", 2),
    ):
        bad = copy.deepcopy(good)
        bad["headers"][height]["header"][field] = value
        with pytest.raises(VerificationError) as caught:
            check_proof(proof, bad)
        assert caught.value.height == height
    cut = copy.deepcopy(good)
    del cut["headers"][2:]
    with pytest.raises(VerificationError, match="headers end at height 1"):
        check_proof(proof, cut)
    with pytest.raises(VerificationError, match="genesis operator"):
        check_proof(proof, good, operator=KeyPair.derive("someone").public_hex)


def test_forged_operator_resigning_is_caught(stored_chain: StoredLedger) -> None:
    chain = stored_chain.source
    """An impostor re-signs a changed header with its own key: the chain breaks."""
    impostor = KeyPair.derive("impostor")
    good = json.loads(export_headers(chain).model_dump_json())
    good["headers"][2]["signature"] = impostor.sign(b"anything")
    with pytest.raises(VerificationError, match="signature does not verify"):
        verify_headers(good)


def test_cli_proof_headers_check(
    stored_chain: StoredLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = stored_chain.source
    assert main(["ledger", "proof", chain, "--height", "2", "--index", "3"]) == 0
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(capsys.readouterr().out)
    assert main(["ledger", "headers", chain]) == 0
    headers_file = tmp_path / "headers.json"
    headers_file.write_text(capsys.readouterr().out)
    assert main(["ledger", "check-proof", str(proof_file), "--headers", str(headers_file)]) == 0
    assert "proof OK" in capsys.readouterr().out

    leaf = json.loads(proof_file.read_text())["leaf_hash"]
    assert main(["ledger", "proof", chain, "--tx", leaf, "--hash-only"]) == 0
    assert '"transaction": null' in capsys.readouterr().out

    proof = json.loads(proof_file.read_text())
    proof["transaction"]["body"]["energy_kwh"] = 30.0
    proof_file.write_text(json.dumps(proof))
    assert main(["ledger", "check-proof", str(proof_file), "--headers", str(headers_file)]) == 2
    err = capsys.readouterr().err
    assert "bad-proof: block 2: transaction 3" in err
    assert "Traceback" not in err
    proof_file.write_text("{not json")
    assert main(["ledger", "check-proof", str(proof_file), "--headers", str(headers_file)]) == 2
    assert "is not JSON" in capsys.readouterr().err
