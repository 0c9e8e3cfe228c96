"""`voisin ledger proof|headers|check-proof`: prove one transaction, check with headers only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from rich.console import Console

from voisin.city.places import CITY_LEDGER, city_ledgers, feeder_ledger
from voisin.cli.outputs import LEDGER_FILE
from voisin.errors import InvalidInput
from voisin.ledger.proofs import (
    check_proof,
    export_headers,
    headers_json,
    load_json,
    proof_json,
    prove,
)
from voisin.ledger.store import is_database_url


def ledger_source(text: str) -> str | Path:
    """An argparse type: a ``postgresql://`` URL as given, anything else a file path."""
    return text if is_database_url(text) else Path(text)


def shown(source: str | Path) -> str:
    """How a message names a ledger: a file by its path, a database by its URL without
    the password."""
    if is_database_url(source):
        from voisin.ledger.pg_store import redacted  # psycopg only when asked for

        return redacted(str(source))
    return str(source)


def existing_ledger(db: str | Path) -> str | Path:
    """``db`` if it is a ledger file or a database URL, a run folder's ``ledger.sqlite``,
    else one line saying what is there instead: nothing (no SQLite file is created), or
    a city run's folder, whose ledgers are named one by one. Every command that reads
    one ledger asks here, so each says the same."""
    if is_database_url(db):
        return db
    path = Path(db)
    if path.is_dir() and (path / LEDGER_FILE).is_file():
        return path / LEDGER_FILE
    if path.is_file():
        return db
    if city_ledgers(path).is_city():
        raise InvalidInput(
            f"{db} is a city run's folder: name one of its ledgers, {path / CITY_LEDGER} or "
            f"{feeder_ledger(path, 'F0')} (`ledger verify` and `audit` take the folder)",
            code="city-folder",
        )
    raise InvalidInput(f"no ledger at {db} (run `voisin simulate` first?)", code="no-ledger")


def write_proof(
    db: Path,
    *,
    height: int | None,
    index: int | None,
    tx_hash: str | None,
    hash_only: bool = False,
    out: TextIO | None = None,
) -> int:
    """Print the JSON inclusion proof of one transaction (by height+index or leaf hash)."""
    proof = prove(
        existing_ledger(db), height=height, index=index, leaf_hash=tx_hash, hash_only=hash_only
    )
    print(proof_json(proof), file=out or sys.stdout)
    return 0


def write_headers(db: Path, out: TextIO | None = None) -> int:
    """Print every signed block header as JSON: all `check-proof` needs."""
    print(headers_json(export_headers(existing_ledger(db))), file=out or sys.stdout)
    return 0


def check_proof_files(
    proof: Path, headers: Path, console: Console, *, operator: str | None = None
) -> int:
    """Check PROOF.json against HEADERS.json; a bad proof raises (exit 2 in the CLI)."""
    report = check_proof(
        load_json(proof, "proof"), load_json(headers, "headers file"), operator=operator
    )
    what = report.kind or "transaction (hash only)"
    console.print(
        f"[bold green]proof OK[/]: {what} {report.index} of {report.tree_size} in block "
        f"{report.height} (hash {report.block_hash[:16]}), leaf {report.leaf_hash[:16]}, "
        f"signed by operator {report.operator[:16]}; header chain checked to height "
        f"{report.chain_height}",
        highlight=False,
    )
    return 0
