"""Block stamps: a chain the operator re-signed with a stamp that goes backwards, is not
UTC ISO-8601, or says another time than what the block seals fails verification at that
block (rule ``time``), on a SQLite file and a PostgreSQL database alike; the ledger
refuses to write such a block in the first place.

``chain`` stamps: genesis and registrations 2026-06-21T00:00, clearing and settlement of
interval 12:00Z at its end 12:15, a transfer at 13:00 (heights 0-4).
"""

from __future__ import annotations

import json

import pytest

from voisin.cli.main import main
from voisin.errors import LedgerError, VerificationError
from voisin.ledger import Ledger, verify_ledger
from voisin.ledger import transactions as tx
from voisin.protocol import KeyPair, canonical_bytes, sha256_hex

from .conftest import FUND, INTERVAL
from .stores import StoredLedger


def _restamp(chain: StoredLedger, key: KeyPair, height: int, time: object) -> None:
    """Stamp block ``height`` with ``time`` and re-sign it and every later block with
    ``key``, so hashes, links and signatures all verify: only the stamp is wrong."""
    headers = [json.loads(h) for (h,) in chain.rows("SELECT header FROM blocks ORDER BY height")]
    headers[height]["time"] = time
    prev = headers[height]["prev_hash"]
    for header in headers[height:]:
        header["prev_hash"] = prev
        data = canonical_bytes(header)
        prev = sha256_hex(data)
        chain.sql(
            "UPDATE blocks SET hash = ?, header = ?, signature = ? WHERE height = ?",
            (prev, data.decode(), key.sign(data), header["height"]),
        )


def _finding(chain: StoredLedger, operator: KeyPair) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_ledger(chain.source, operator=operator.public_hex)
    return caught.value


@pytest.mark.parametrize(
    ("height", "time", "why"),
    [
        (4, "2026-06-21T12:00:00+00:00", "goes back before the previous stamp"),
        (1, "2025-12-31T23:59:59+00:00", "before the genesis time"),
        (4, "2026-06-21 13:00:00+00:00", "not UTC ISO-8601"),
        (4, "2026-06-21T13:00:00Z", "not UTC ISO-8601"),
        (4, "2026-06-21T15:00:00+02:00", "not UTC ISO-8601"),
        (4, "2026-06-21T13:00:00", "not UTC ISO-8601"),
        (4, "yesterday", "not an ISO-8601 timestamp"),
        (4, "2026-02-30T13:00:00+00:00", "not an ISO-8601 timestamp"),
        (4, 1782046800, "time is not a string"),
        (4, None, "time is not a string"),
        (2, "2099-06-21T12:15:00+00:00", "not the end of interval 2026-06-21T12:00Z"),
        (2, "2026-06-21T12:00:00+00:00", "not the end of interval"),
        (3, "2026-06-21T12:30:00+00:00", "not the end of interval"),
    ],
)
def test_a_resigned_chain_with_a_bad_stamp_fails_at_that_block(
    stored_chain: StoredLedger, operator: KeyPair, height: int, time: object, why: str
) -> None:
    assert verify_ledger(stored_chain.source, operator=operator.public_hex).height == 4
    _restamp(stored_chain, operator, height, time)
    found = _finding(stored_chain, operator)
    assert (found.height, found.rule) == (height, "time")
    assert why in found.detail
    assert found.message.startswith(f"block {height}: rule time: ")


def test_the_genesis_stamp_must_be_a_timestamp_too(
    stored_chain: StoredLedger, operator: KeyPair
) -> None:
    _restamp(stored_chain, operator, 0, "genesis")
    assert (_finding(stored_chain, operator).height, _finding(stored_chain, operator).rule) == (
        0,
        "time",
    )


def test_an_interval_sealed_before_the_chain_opened_is_refused(
    stored_chain: StoredLedger, operator: KeyPair
) -> None:
    """Genesis stamped after the interval the clearing seals: the registrations (stamped
    at 00:00) already fail, the first block after genesis."""
    _restamp(stored_chain, operator, 0, "2026-06-22T00:00:00+00:00")
    found = _finding(stored_chain, operator)
    assert (found.height, found.rule) == (1, "time")
    assert "before the genesis time" in found.detail


def test_a_settlement_after_the_next_clearing_keeps_its_own_stamp(
    tmp_path: object, operator: KeyPair
) -> None:
    """The live market clears t+1 before it settles t: stamped with t's end, the
    settlement steps back one interval, which is what its interval id says."""
    path = f"{tmp_path}/live.sqlite"
    with Ledger.open(path, operator, fund=FUND, time="2026-06-21T00:00:00+00:00") as ledger:
        ledger.append([], interval="2026-06-21T12:00Z", time="2026-06-21T12:15:00+00:00")
        ledger.append([], interval="2026-06-21T12:15Z", time="2026-06-21T12:30:00+00:00")
        ledger.append([], interval="2026-06-21T12:00Z", time="2026-06-21T12:15:00+00:00")
        assert ledger.time == "2026-06-21T12:30:00+00:00"
        with pytest.raises(LedgerError, match="goes back before the previous stamp") as caught:
            ledger.append(
                [tx.transfer(FUND, "x", 1)], interval=None, time="2026-06-21T12:15:00+00:00"
            )
        assert caught.value.code == "bad-time"
        ledger.append([tx.transfer(FUND, "x", 1)], interval=None, time="2026-06-21T12:30:00+00:00")
    assert verify_ledger(path).height == 4


@pytest.mark.parametrize(
    ("interval", "time"),
    [
        (None, "t"),
        (None, "2026-06-21T13:00:00Z"),
        (None, "2026-06-21T12:59:59+00:00"),
        (INTERVAL, "2026-06-21T13:00:00+00:00"),
        ("12:00", "2026-06-21T13:00:00+00:00"),
    ],
)
def test_the_ledger_refuses_to_write_a_stamp_verify_would_refuse(
    stored_chain: StoredLedger, operator: KeyPair, interval: str | None, time: str
) -> None:
    with Ledger.open(stored_chain.source, operator) as ledger:
        with pytest.raises(LedgerError) as caught:
            ledger.append([tx.transfer(FUND, "x", 1)], interval=interval, time=time)
        assert caught.value.code == "bad-time"
        assert ledger.height == 4
    assert verify_ledger(stored_chain.source).height == 4


def test_cli_verify_names_the_bad_stamp_in_one_line(
    stored_chain: StoredLedger, operator: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    _restamp(stored_chain, operator, 4, "2026-06-21T12:00:00+00:00")
    assert main(["ledger", "verify", stored_chain.source]) == 2
    captured = capsys.readouterr()
    assert "block 4: rule time: time 2026-06-21T12:00:00+00:00 goes back" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err
