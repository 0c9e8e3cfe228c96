"""A participant's statement from the ledger, readable only with that participant's key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import SealedBox

from voisin.cli.main import main
from voisin.errors import InvalidInput
from voisin.ledger import Ledger
from voisin.ledger.statements import (
    Statement,
    StatementLine,
    open_statement,
    seal_statement,
    statement_bytes,
    statement_for,
)
from voisin.protocol import KeyPair, Participant, canonical_bytes
from voisin.protocol.sealing import curve_public

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


LONGEST = -1.2345678901234567e-6  # 25 characters, the most RFC 8785 writes for a double
LARGEST = -(2**53 - 1)
amounts = st.floats(allow_nan=False, allow_infinity=False)
counts = st.integers(LARGEST, -LARGEST)


def _statement(
    lines: int, amount: st.SearchStrategy[float], count: st.SearchStrategy[int]
) -> st.SearchStrategy[Statement]:
    """Statements of ``lines`` lines, numbers drawn from ``amount`` and ``count``."""
    fields = Statement.model_fields
    line = st.builds(
        StatementLine,
        interval=st.just("2026-06-22T12:00Z"),
        **{n: amount for n, f in StatementLine.model_fields.items() if f.annotation is float},
        estimated=st.booleans(),
    )
    return st.builds(
        Statement,
        participant=st.just(HOUSE.public_hex),
        head_hash=st.just("e" * 64),
        lines=st.lists(line, min_size=lines, max_size=lines).map(tuple),
        **{n: amount for n, f in fields.items() if f.annotation is float},
        **{n: count for n, f in fields.items() if f.annotation is int},
    )


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 4).flatmap(
        lambda n: st.lists(_statement(n, amounts, counts), min_size=2, max_size=3)
    )
)
def test_statements_of_as_many_lines_seal_to_one_length(statements: list[Statement]) -> None:
    """Whatever their amounts (a cent or a plant's year), statements of one number of
    lines (which the ledger shows: the intervals the key settled in) are boxes of one
    length, and each opens to itself."""
    sealed = [seal_statement(s) for s in statements]
    lines = len(statements[0].lines)
    assert {len(base64.b64decode(s.sealed)) for s in sealed} == {statement_bytes(lines) + 48}
    assert [open_statement(s, HOUSE) for s in sealed] == statements


@pytest.mark.parametrize("lines", [0, 1, 2, 96])
def test_the_longest_statement_fits_its_size(lines: int) -> None:
    """Every number at its longest, every integer at 2^53 - 1 with its sign, ``false``:
    at most 860 bytes and 346 a line, under ``statement_bytes``."""
    fields, line_fields = Statement.model_fields, StatementLine.model_fields
    line = StatementLine(
        interval="2026-06-22T12:00Z",
        **{n: LONGEST for n, f in line_fields.items() if f.annotation is float},
    )
    longest = Statement(
        participant=HOUSE.public_hex,
        head_hash="e" * 64,
        lines=(line,) * lines,
        **{n: LONGEST for n, f in fields.items() if f.annotation is float},
        **{n: LARGEST for n, f in fields.items() if f.annotation is int},
    )
    size = len(canonical_bytes(longest.model_dump(mode="json")))
    assert size <= 860 + 346 * lines < statement_bytes(lines)
    assert open_statement(seal_statement(longest), HOUSE) == longest


def test_a_statement_sealed_before_padding_still_opens(chain: Path) -> None:
    statement = statement_for(chain, HOUSE.public_hex)
    bare = SealedBox(curve_public(HOUSE.public_hex)).encrypt(statement.model_dump_json().encode())
    old = {"version": 1, "recipient": HOUSE.public_hex, "sealed": base64.b64encode(bare).decode()}
    assert open_statement(old, HOUSE) == statement
    padded = seal_statement(statement).model_dump()
    for wrong in ({**old, "version": 2}, {**padded, "version": 1}):  # fuzzed: version true
        with pytest.raises(InvalidInput) as damaged:
            open_statement(wrong, HOUSE)
        assert damaged.value.code == "bad-padding"
