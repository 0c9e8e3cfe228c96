"""A participant's statement from the ledger, readable only with that participant's key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voisin.cli.main import main
from voisin.errors import InvalidInput
from voisin.ledger import Ledger
from voisin.ledger.statements import open_statement, seal_statement, statement_for
from voisin.protocol import KeyPair, Participant

HOUSE, SCHOOL, SHOP = (KeyPair.derive("test", n) for n in ("house", "school", "shop"))


def test_statement_of_the_house(chain: Path) -> None:
    s = statement_for(chain, HOUSE.public_hex)
    assert (s.p2p_sold_kwh, s.p2p_sold_eur) == (3.0, 0.15)
    assert (s.grid_export_kwh, s.grid_export_eur) == (0.0, 0.0)
    assert (s.p2p_bought_kwh, s.grid_import_kwh) == (0.0, 0.0)
    # metered 4.5 kWh out against 3 traded: 1.5 kWh surplus at the 0.08 feed-in tariff
    assert (s.imbalance_kwh, s.imbalance_eur) == (1.5, 0.12)
    assert (s.rewards_kwh, s.rewards_micro) == (3.0, 30_000)
    assert s.estimated_intervals == 0
    assert s.head_height == 4
    assert len(s.lines) == 1
    assert s.lines[0].market_eur == pytest.approx(-0.15)


def test_statement_of_the_school_and_the_silent_shop(chain: Path) -> None:
    school = statement_for(chain, SCHOOL.public_hex)
    assert (school.p2p_bought_kwh, school.p2p_bought_eur) == (3.0, 0.84)
    assert (school.grid_import_kwh, school.grid_import_eur) == (2.0, 0.56)
    assert school.tokens_paid_micro == 840_000 + 1_000_000  # trade incl. rent, the gift
    shop = statement_for(chain, SHOP.public_hex)
    assert shop.estimated_intervals == 1  # no reading: estimated and flagged
    assert shop.tokens_received_micro == 50_000_000 + 1_000_000


def test_balances_agree_with_the_token_book(
    chain: Path, operator: KeyPair, participants: list[Participant]
) -> None:
    with Ledger.open(chain, operator) as ledger:
        book = ledger.tokens
    for p in participants:
        assert statement_for(chain, p.participant_id).balance_micro == book.balance(
            p.participant_id
        )


def test_only_the_participants_key_opens_its_statement(chain: Path) -> None:
    statement = statement_for(chain, HOUSE.public_hex)
    sealed = seal_statement(statement)
    assert sealed.recipient == HOUSE.public_hex
    assert "p2p" not in sealed.sealed
    assert open_statement(sealed, HOUSE) == statement
    for other in (SCHOOL, KeyPair.derive("test", "operator"), KeyPair.generate()):
        with pytest.raises(InvalidInput) as caught:
            open_statement(sealed, other)
        assert caught.value.code == "wrong-key"
    damaged = sealed.model_copy(update={"sealed": sealed.sealed[:-8] + "AAAAAAA="})
    with pytest.raises(InvalidInput, match="sealed to another key, or damaged"):
        open_statement(damaged, HOUSE)
    with pytest.raises(InvalidInput, match="not an Ed25519 public key"):
        seal_statement(statement.model_copy(update={"participant": "fund"}))


def test_cli_statement_clear_sealed_and_refused(
    chain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(chain)
    assert main(["ledger", "show", db, "--key", HOUSE.seed_hex]) == 0
    assert "sold to neighbours" in capsys.readouterr().out

    sealed_file = tmp_path / "house.sealed.json"
    assert (
        main(["ledger", "show", db, "--participant", HOUSE.public_hex, "--seal", str(sealed_file)])
        == 0
    )
    capsys.readouterr()
    assert json.loads(sealed_file.read_text())["recipient"] == HOUSE.public_hex
    assert main(["ledger", "open-statement", str(sealed_file), "--key", HOUSE.seed_hex]) == 0
    assert "green rewards (3.000 kWh proven)" in capsys.readouterr().out
    assert main(["ledger", "open-statement", str(sealed_file), "--key", SCHOOL.seed_hex]) == 2
    assert "wrong-key" in capsys.readouterr().err

    # without a key the statement leaves only sealed
    assert main(["ledger", "show", db, "--participant", HOUSE.public_hex]) == 0
    out = capsys.readouterr().out
    assert '"sealed"' in out
    assert "sold to neighbours" not in out
    assert (
        main(["ledger", "show", db, "--participant", SCHOOL.public_hex, "--key", HOUSE.seed_hex])
        == 2
    )
    assert "--key belongs to participant" in capsys.readouterr().err
    assert main(["ledger", "show", db, "--key", "zz"]) == 2


def test_cli_key_of_a_simulated_member(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "key", "household", "3", "--seed", "7"]) == 0
    assert KeyPair.derive("seed", 7, "household", 3).public_hex in capsys.readouterr().out
    assert main(["ledger", "key", "mayor"]) == 2
