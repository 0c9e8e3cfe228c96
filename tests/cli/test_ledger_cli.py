"""`voisin ledger ...` on files it must refuse: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from voisin.cli.main import main
from voisin.ledger import Ledger
from voisin.protocol import KeyPair

OPERATOR = KeyPair.derive("test", "ledger-cli")


def _ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path, OPERATOR).close()
    return path


@pytest.mark.parametrize(
    "command", [["ledger", "verify"], ["ledger", "headers"], ["ledger", "show"]]
)
def test_a_schema_1_ledger_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = _ledger(tmp_path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    assert main([*command, str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("voisin: schema-version: ")
    for words in ("schema 1 ledger", "RFC 8785", "voisin simulate"):
        assert words in err


def test_a_schema_2_ledger_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schema 2 showed whole meter readings and member groups in clear (docs/privacy.md)."""
    path = _ledger(tmp_path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    assert main(["ledger", "verify", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("voisin: schema-version: ")
    for words in ("schema 2 ledger", "meter readings", "groups in clear", "voisin simulate"):
        assert words in err
