"""Contracts on the ledger: signed by their owner, refused otherwise, revocable forward."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.cli.main import main
from voisin.errors import InvalidInput, LedgerError, VerificationError
from voisin.ledger import (
    ContractBook,
    GiftShare,
    GreenOnly,
    Ledger,
    PriceCap,
    PriorityPartner,
    accept_contract,
    contract_transaction,
    revoke,
    verify_ledger,
)
from voisin.protocol import KeyPair, Transaction, TxKind, canonical_bytes

from .conftest import append_unchecked

HOUSE, SCHOOL, MALLORY = (KeyPair.derive("contracts", n) for n in ("house", "school", "mallory"))
T0 = "2026-06-22T00:00Z"


def _intervals(n: int) -> list[str]:
    return [f"2026-06-22T{h:02d}:{m:02d}Z" for h in range(24) for m in (0, 15, 30, 45)][:n]


def _gift(share: float = 0.3, start: str = "2026-06-22T10:00Z", nonce: int = 0) -> GiftShare:
    return GiftShare(
        owner=HOUSE.public_hex,
        recipient=SCHOOL.public_hex,
        share=share,
        from_interval=start,
        nonce=nonce,
    )


@pytest.fixture
def ledger(tmp_path: Path, operator: KeyPair):  # noqa: ANN201 - a generator fixture
    with Ledger.open(tmp_path / "c.sqlite", operator) as opened:
        yield opened


def test_signed_contracts_register_and_survive_a_reopen(
    ledger: Ledger, operator: KeyPair, tmp_path: Path
) -> None:
    gift = _gift()
    partner = PriorityPartner(owner=HOUSE.public_hex, partner=SCHOOL.public_hex, from_interval=T0)
    cap = PriceCap(owner=SCHOOL.public_hex, cap_eur_per_kwh=0.25, from_interval=T0)
    ledger.append(
        [contract_transaction(c, k) for c, k in ((gift, HOUSE), (partner, HOUSE), (cap, SCHOOL))],
        interval=None,
        time="2026-06-23T00:00:00+00:00",
    )
    ledger.append(
        [revoke(gift, HOUSE, "2026-06-22T12:00Z")], interval=None, time="2026-06-23T00:00:00+00:00"
    )
    book = ledger.contracts
    assert book.active(HOUSE.public_hex, "2026-06-22T11:45Z") == (gift, partner)
    assert book.active(HOUSE.public_hex, "2026-06-22T12:00Z") == (partner,)
    assert book.active(SCHOOL.public_hex, T0) == (cap,)
    assert book.revoked_from(gift.contract_id) == "2026-06-22T12:00Z"
    path = tmp_path / "c.sqlite"
    ledger.close()
    assert verify_ledger(path).blocks == 3
    with Ledger.open(path, operator) as again:
        assert again.contracts.active_all("2026-06-22T11:00Z") == (gift, partner, cap)


@pytest.mark.parametrize(
    "edit", ["unsigned", "forged", "other-signer", "changed-terms", "not-canonical", "bad-template"]
)
def test_badly_signed_contracts_are_refused_at_append(ledger: Ledger, edit: str) -> None:
    body = dict(contract_transaction(_gift(), HOUSE).body)
    if edit == "unsigned":
        del body["signature"]
    elif edit == "forged":
        body["signature"] = "00" * 64
    elif edit == "other-signer":
        body["signature"] = MALLORY.sign(
            canonical_bytes({k: v for k, v in body.items() if k != "signature"})
        )
    elif edit == "changed-terms":
        body["share"] = 0.9
    elif edit == "not-canonical":
        body["share"] = 1
    else:
        body["template"] = "steal_everything"
    with pytest.raises(LedgerError) as caught:
        ledger.append(
            [Transaction(kind=TxKind.CONTRACT, body=body)],
            interval=None,
            time="2026-06-23T00:00:00+00:00",
        )
    assert caught.value.code == "bad-contract"
    assert ledger.height == 0
    assert len(ledger.contracts) == 0


def test_contract_builder_refuses_a_key_that_is_not_the_owner() -> None:
    with pytest.raises(InvalidInput, match="owner"):
        contract_transaction(_gift(), MALLORY)


def test_operator_intake_gives_reasoned_rejections() -> None:
    good = contract_transaction(_gift(), HOUSE)
    assert accept_contract(dict(good.body)) == good
    with pytest.raises(InvalidInput, match="owner signature does not verify") as caught:
        accept_contract(good.body | {"share": 0.5})
    assert caught.value.code == "bad-contract"
    with pytest.raises(InvalidInput, match="share"):
        accept_contract(good.body | {"share": 1.5})


def test_revocations_are_checked(ledger: Ledger) -> None:
    gift = _gift()
    ledger.append(
        [contract_transaction(gift, HOUSE)], interval=None, time="2026-06-23T00:00:00+00:00"
    )
    stolen = revoke(gift, HOUSE, "2026-06-22T11:00Z").body | {"owner": MALLORY.public_hex}
    stolen["signature"] = MALLORY.sign(
        canonical_bytes({k: v for k, v in stolen.items() if k != "signature"})
    )
    with pytest.raises(LedgerError, match="other than its owner"):
        ledger.append(
            [Transaction(kind=TxKind.CONTRACT, body=stolen)],
            interval=None,
            time="2026-06-23T00:00:00+00:00",
        )
    unknown = _gift(nonce=5)
    with pytest.raises(LedgerError, match="unknown contract"):
        ledger.append(
            [revoke(unknown, HOUSE, "2026-06-22T11:00Z")],
            interval=None,
            time="2026-06-23T00:00:00+00:00",
        )
    ledger.append(
        [revoke(gift, HOUSE, "2026-06-22T11:00Z")], interval=None, time="2026-06-23T00:00:00+00:00"
    )
    with pytest.raises(LedgerError, match="revoked already"):
        ledger.append(
            [revoke(gift, HOUSE, "2026-06-22T11:30Z", nonce=1)],
            interval=None,
            time="2026-06-23T00:00:00+00:00",
        )
    with pytest.raises(LedgerError, match="registered already"):
        ledger.append(
            [contract_transaction(gift, HOUSE)], interval=None, time="2026-06-23T00:00:00+00:00"
        )
    assert ledger.height == 2


def test_contracts_cannot_act_on_intervals_the_ledger_holds(ledger: Ledger) -> None:
    ledger.append([], interval="2026-06-22T10:00Z", time="2026-06-22T10:15:00+00:00")
    with pytest.raises(LedgerError) as caught:
        ledger.append(
            [contract_transaction(_gift(start="2026-06-22T10:00Z"), HOUSE)],
            interval=None,
            time="2026-06-23T00:00:00+00:00",
        )
    assert caught.value.code == "retroactive-contract"
    with pytest.raises(LedgerError, match="retroactive|already holds"):
        ledger.append(
            [contract_transaction(_gift(start="2026-06-22T10:15Z"), HOUSE)],
            interval="2026-06-22T10:15Z",
            time="2026-06-22T10:30:00+00:00",
        )
    ledger.append(
        [contract_transaction(_gift(start="2026-06-22T10:15Z"), HOUSE)],
        interval=None,
        time="2026-06-23T00:00:00+00:00",
    )


def test_verify_names_a_block_with_a_forged_contract(
    ledger: Ledger, operator: KeyPair, tmp_path: Path
) -> None:
    ledger.append(
        [contract_transaction(_gift(), HOUSE)], interval=None, time="2026-06-23T00:00:00+00:00"
    )
    path = tmp_path / "c.sqlite"
    ledger.close()
    forged = dict(contract_transaction(_gift(nonce=1), HOUSE).body)
    forged["share"] = 1.0  # the operator inflates the gift after the owner signed
    append_unchecked(path, operator, [Transaction(kind=TxKind.CONTRACT, body=forged)])
    with pytest.raises(VerificationError) as caught:
        verify_ledger(path)
    assert caught.value.height == 2
    assert "owner signature does not verify" in caught.value.message
    with pytest.raises(LedgerError, match="signature"):
        Ledger.open(path, operator)


def test_verify_catches_a_tampered_contract_row(ledger: Ledger, tmp_path: Path) -> None:
    ledger.append(
        [contract_transaction(_gift(), HOUSE)], interval=None, time="2026-06-23T00:00:00+00:00"
    )
    path = tmp_path / "c.sqlite"
    ledger.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE transactions SET body = replace(body, '0.3', '0.9') WHERE height = 1")
    db.commit()
    db.close()
    with pytest.raises(VerificationError) as caught:
        verify_ledger(path)
    assert caught.value.height == 1


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 40), end=st.one_of(st.none(), st.integers(0, 40)), probe=st.integers(0, 47)
)
def test_revocation_takes_effect_from_the_named_interval_exactly(
    start: int, end: int | None, probe: int
) -> None:
    names = _intervals(48)
    cap = PriceCap(owner=HOUSE.public_hex, cap_eur_per_kwh=0.2, from_interval=names[start])
    book = ContractBook()
    book.apply_body(contract_transaction(cap, HOUSE).body)
    if end is not None:
        book.apply_body(revoke(cap, HOUSE, names[end]).body)
    expected = start <= probe and (end is None or probe < end)
    assert (book.active(HOUSE.public_hex, names[probe]) == (cap,)) is expected
    assert book.in_force(cap.contract_id, names[probe]) is expected


def test_green_only_is_registered_like_any_contract(ledger: Ledger) -> None:
    green = GreenOnly(owner=SCHOOL.public_hex, from_interval=T0)
    ledger.append(
        [contract_transaction(green, SCHOOL)], interval=None, time="2026-06-23T00:00:00+00:00"
    )
    assert ledger.contracts.active(SCHOOL.public_hex, T0) == (green,)


def test_cli_signs_a_contract_the_ledger_accepts(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "ledger",
                "contract",
                "gift-share",
                "--key",
                HOUSE.seed_hex,
                "--from",
                "2026-06-22T10:00Z",
                "--recipient",
                SCHOOL.public_hex,
                "--share",
                "0.3",
            ]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    ledger.append([accept_contract(body)], interval=None, time="2026-06-23T00:00:00+00:00")
    assert ledger.contracts.active(HOUSE.public_hex, "2026-06-22T10:00Z") == (_gift(),)
    assert (
        main(
            [
                "ledger",
                "contract",
                "revoke",
                "--key",
                HOUSE.seed_hex,
                "--from",
                "2026-06-22T11:00Z",
                "--revokes",
                _gift().contract_id,
            ]
        )
        == 0
    )
    ledger.append(
        [accept_contract(json.loads(capsys.readouterr().out))],
        interval=None,
        time="2026-06-23T00:00:00+00:00",
    )
    assert ledger.contracts.revoked_from(_gift().contract_id) == "2026-06-22T11:00Z"
    assert (
        main(
            [
                "ledger",
                "contract",
                "price-cap",
                "--key",
                HOUSE.seed_hex,
                "--from",
                "2026-06-22T10:00Z",
            ]
        )
        == 2
    )
    assert "needs cap_eur_per_kwh" in capsys.readouterr().err
