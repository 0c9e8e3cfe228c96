"""`voisin ledger ...` and `voisin audit` on a recorded run, in-process: what each command
prints or writes, and each bad input as one line on stderr with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ledger.forge import copy_ledger, first, resign, shift_prices
from voisin.cli.ledger_proof import existing_ledger, shown
from voisin.cli.main import main
from voisin.cli.simulation import SimulationReport
from voisin.ledger import SqliteStore, verify_ledger
from voisin.ledger.contracts import accept_contract
from voisin.protocol import KeyPair

SEED = 7  # the recorded run's seed (SimulationConfig's default)
HOUSE = KeyPair.derive("seed", SEED, "household", 0)


def _one_line(capsys: pytest.CaptureFixture[str], start: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(start), err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def db(recorded_run: SimulationReport) -> str:
    return str(recorded_run.ledger_path)


def test_show_lists_the_last_blocks_with_their_hashes(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "show", db, "--limit", "3"]) == 0
    out = capsys.readouterr().out
    with SqliteStore(db, read_only=True) as store:
        height = store.height()
        hashes = {h: store.block(h).header.block_hash()[:12] for h in range(height + 1)}
    shown = [h for h, digest in hashes.items() if digest in out]
    assert shown == [height - 2, height - 1, height]
    assert "Last 3 blocks of" in out


def test_verify_pins_operator_and_head(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = verify_ledger(db)
    operator = KeyPair.derive("seed", SEED, "operator").public_hex
    assert main(["ledger", "verify", db, "--operator", operator.upper()]) == 0
    assert "verified (operator pinned)" in capsys.readouterr().out
    assert main(["ledger", "verify", db, "--operator", operator, "--head", report.head_hash]) == 0
    assert "verified (operator and head pinned)" in capsys.readouterr().out
    assert main(["ledger", "verify", db, "--operator", HOUSE.public_hex]) == 2
    _one_line(capsys, "voisin: ")


@pytest.mark.parametrize("value", ["zz", "ab" * 31, "g" * 64])
def test_a_key_that_is_not_64_hex_digits_is_a_usage_error(
    value: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ledger", "verify", db, "--head", value])
    assert done.value.code == 2
    assert "argument --head: expected 64 hex digits" in capsys.readouterr().err


@pytest.mark.parametrize("member", ["school", "fund", "operator"])
def test_key_of_a_simulated_role(member: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "key", member, "--seed", str(SEED)]) == 0
    pair = KeyPair.derive("seed", SEED, member)
    assert capsys.readouterr().out.split() == [
        "participant",
        pair.public_hex,
        "seed",
        pair.seed_hex,
    ]


def test_a_statement_sealed_into_a_new_folder_opens_with_its_key(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "show", db, "--key", HOUSE.seed_hex]) == 0
    clear = capsys.readouterr().out
    sealed = tmp_path / "statements" / "house.json"
    assert (
        main(["ledger", "show", db, "--participant", HOUSE.public_hex, "--seal", str(sealed)]) == 0
    )
    capsys.readouterr()
    assert json.loads(sealed.read_text(encoding="utf-8"))["recipient"] == HOUSE.public_hex
    assert main(["ledger", "open-statement", str(sealed), "--key", HOUSE.seed_hex]) == 0
    assert capsys.readouterr().out == clear  # the same statement, opened


def test_a_statement_sealed_to_an_unwritable_place_is_one_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    target = blocker / "house.json"
    code = main(["ledger", "show", db, "--participant", HOUSE.public_hex, "--seal", str(target)])
    assert code == 2
    _one_line(capsys, f"voisin: bad-output: cannot write {target}")


def test_a_statement_needs_a_participant_and_a_member(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "show", db, "--seal", "x.json"]) == 2
    _one_line(capsys, "voisin: no-participant: name a --participant")
    stranger = KeyPair.derive("stranger")
    assert main(["ledger", "show", db, "--key", stranger.seed_hex]) == 2
    _one_line(capsys, f"voisin: not-a-member: {stranger.public_hex[:16]}... is not a member of")


def test_a_signed_contract_is_accepted_as_printed(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "ledger",
        "contract",
        "price-cap",
        "--key",
        HOUSE.seed_hex,
        "--from",
        "2026-06-22T10:00Z",
    ]
    assert main([*args, "--cap", "0.2"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["owner"], body["template"], body["cap_eur_per_kwh"]) == (
        HOUSE.public_hex,
        "price_cap",
        0.2,
    )
    accept_contract(body)  # the operator's check: signature and terms
    with pytest.raises(Exception, match="signature|bad-contract"):
        accept_contract({**body, "cap_eur_per_kwh": 0.9})


@pytest.mark.parametrize(
    ("template", "missing"),
    [("gift-share", "recipient, share"), ("priority-partner", "partner"), ("revoke", "revokes")],
)
def test_a_contract_without_its_terms_is_one_line(
    template: str, missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["ledger", "contract", template, "--key", HOUSE.seed_hex, "--from", "2026-06-22T10:00Z"]
    )
    assert code == 2
    _one_line(capsys, f"voisin: bad-contract: {template} needs {missing}")


def test_proof_checks_against_the_headers_alone(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof, headers = tmp_path / "proof.json", tmp_path / "headers.json"
    assert main(["ledger", "proof", db, "--height", "2", "--index", "0"]) == 0
    proof.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["ledger", "headers", db]) == 0
    headers.write_text(capsys.readouterr().out, encoding="utf-8")
    operator = KeyPair.derive("seed", SEED, "operator").public_hex
    assert main(["ledger", "check-proof", str(proof), "--headers", str(headers),
                 "--operator", operator]) == 0  # fmt: skip
    out = capsys.readouterr().out.replace("\n", " ")
    assert "proof OK: contract 0 of 1 in block 2" in out
    forged = json.loads(proof.read_text(encoding="utf-8"))
    forged["transaction"]["body"]["share"] = 0.9
    proof.write_text(json.dumps(forged), encoding="utf-8")
    assert main(["ledger", "check-proof", str(proof), "--headers", str(headers)]) == 2
    _one_line(capsys, "voisin: ")


@pytest.mark.parametrize("command", [["proof", "--height", "0", "--index", "0"], ["headers"]])
def test_proof_and_headers_of_no_ledger_create_no_file(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite"
    assert main(["ledger", command[0], str(missing), *command[1:]]) == 2
    _one_line(capsys, f"voisin: no-ledger: no ledger at {missing}")
    assert not missing.exists()


def test_open_readings_opens_the_members_own(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "open-readings", db, "--key", HOUSE.seed_hex]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "24 readings opened, each the ledger's public reading by hash" in out
    assert "0 one-time key links opened" in out


def test_open_readings_with_no_sealed_file_is_one_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "sealed.jsonl"
    assert (
        main(["ledger", "open-readings", db, "--sealed", str(missing), "--key", HOUSE.seed_hex])
        == 2
    )
    _one_line(capsys, "voisin: ")


def test_audit_reproduces_every_interval(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", db]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "audit: 24/24 intervals re-cleared and re-settled byte for byte" in out


def test_audit_of_no_ledger_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path / "none.sqlite")]) == 2
    _one_line(capsys, "voisin: no-ledger:")


def test_audit_names_the_first_difference_of_a_re_signed_lie(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator moved one clearing's prices with its trades and payments and re-signed
    the chain: verify alone passes, the audit names that interval (exit 1)."""
    lie = copy_ledger(Path(db), tmp_path / "lie.sqlite")
    height, index = first(lie, "clearing", lambda b: b["trade_count"] > 0)
    resign(lie, KeyPair.derive("seed", SEED, "operator"), shift_prices(lie, height, index))
    verify_ledger(lie)
    assert main(["audit", str(lie)]) == 1
    out = capsys.readouterr().out.replace("\n", " ")
    assert "audit: 23/24 intervals reproduce; first difference: interval" in out
    assert f"block {height}, transaction {index}: rule clearing" in out
    assert "DIFF" in out


@pytest.mark.parametrize("seed", ["zz", "ab" * 31])
def test_a_seed_that_is_not_32_bytes_of_hex_is_one_line(
    seed: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "open-readings", db, "--key", seed]) == 2
    _one_line(capsys, "voisin: bad-key: --key must be a 32-byte Ed25519 seed in hex")


def test_a_database_url_is_taken_as_given_and_shown_without_its_password() -> None:
    url = "postgresql://voisin:s3cret@db.example:5433/street"
    assert existing_ledger(url) == url  # no file check: the store opens (or refuses) it
    assert shown(url) == "postgresql://voisin@db.example:5433/street"
    assert shown(Path("run/ledger.sqlite")) == "run/ledger.sqlite"


def test_a_statement_without_a_key_leaves_only_sealed_and_a_key_must_be_its_own(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "show", db, "--participant", HOUSE.public_hex]) == 0
    sealed = json.loads(capsys.readouterr().out)
    assert sealed["recipient"] == HOUSE.public_hex
    assert "sold to neighbours" not in json.dumps(sealed)
    school = KeyPair.derive("seed", SEED, "school")
    assert main(["ledger", "show", db, "--participant", school.public_hex,
                 "--key", HOUSE.seed_hex]) == 2  # fmt: skip
    _one_line(capsys, f"voisin: wrong-key: --key belongs to participant {HOUSE.public_hex[:16]}")


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_show_needs_at_least_one_block(
    limit: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed an empty table titled "Last -3 blocks"."""
    assert main(["ledger", "show", db, "--limit", limit]) == 2
    _one_line(capsys, f"voisin: bad-option: --limit must be at least 1, not {limit}")
