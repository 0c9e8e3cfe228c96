"""A city's ledgers in PostgreSQL (one schema each): the bytes of the files, the whole
city verified and audited from its URL, tampering named by schema, targets claimed.

The same tiny city (3 feeders of 3 households, 4 intervals around noon) runs once per
module into a SQLite folder and into a database of a real server (``pg_server``), on
one in-process Dask client; each test that edits the database edits a copy of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ledger.pg_server import new_database
from voisin.city.places import FolderLedgers, city_ledgers, feeder_schema
from voisin.city.run import run_city
from voisin.city.scenario import CitySpec
from voisin.city.verify import verify_city
from voisin.cli.main import main
from voisin.errors import InvalidInput, LedgerError, VerificationError
from voisin.ledger.pg_store import in_schema
from voisin.ledger.store import open_store

TINY = CitySpec(
    name="tiny", feeders=3, households_per_feeder=3, intervals=4, first_interval=46, seed=4
)
NAMES = ("F0", "F1", "F2")


def _stored(source: str | Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every stored block row and transaction row, as the store returns them."""
    store = open_store(source, read_only=True)
    try:
        return list(store.raw_blocks()), list(store.raw_transactions())
    finally:
        store.close()


@pytest.fixture(scope="module")
def runs(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tiny city into a folder and into database ``city_pg`` (the result file of
    the PostgreSQL run in a folder of its own)."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("city-sqlite") / "out"
    url = new_database(pg_server, "city_pg")
    with Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"
    ) as client:
        run_city(TINY, folder, client)
        run_city(TINY, tmp_path_factory.mktemp("city-pg") / "out", client, ledgers=url)
    return folder, url


@pytest.fixture
def copy(runs: tuple[Path, str], pg_server: str, request: pytest.FixtureRequest) -> str:
    """A copy of the city's database to tamper with."""
    name = "c_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[-50:].lower()
    return new_database(pg_server, name, template="city_pg")


def test_every_ledger_holds_the_bytes_of_its_file(runs: tuple[Path, str]) -> None:
    """Same seed, same blocks and transactions, byte for byte: the city's and every
    feeder's; and one schema per ledger, nothing else."""
    folder, url = runs
    files, database = FolderLedgers(folder), city_ledgers(url)
    assert _stored(database.city) == _stored(files.city)
    for name in NAMES:
        blocks, txs = _stored(database.feeder(name))
        assert (blocks, txs) == _stored(files.feeder(name)), name
        # genesis, registrations, per interval a clearing and a settlement
        assert len(blocks) == 2 + 2 * TINY.intervals
    from voisin.ledger.pg_store import ledger_schemas

    assert ledger_schemas(url) == ["city", "feeder_f0", "feeder_f1", "feeder_f2"]


def test_the_whole_city_verifies_and_audits_from_its_url(runs: tuple[Path, str], capsys) -> None:
    folder, url = runs
    assert verify_city(url) == verify_city(folder)
    assert main(["ledger", "verify", url]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "verified city" in said
    assert "the city ledger and 3 feeder ledgers" in said
    assert "12 links" in said
    for schema in ("city", *(feeder_schema(n) for n in NAMES)):
        assert main(["audit", in_schema(url, schema)]) == 0, schema
        assert "audit: 4/4 intervals re-cleared and re-settled" in " ".join(
            capsys.readouterr().out.split()
        )
    # The database's own URL, like the folder, audits the whole city in one table.
    for where in (url, str(folder)):
        assert main(["audit", where]) == 0
        said = " ".join(capsys.readouterr().out.split())
        assert "the city ledger and 3 feeder ledgers, 16 intervals re-cleared" in said
    # One ledger of the city is verified alone from its own URL.
    assert main(["ledger", "verify", in_schema(url, "feeder_f1")]) == 0
    assert "verified city" not in capsys.readouterr().out


def _trade(url: str) -> tuple[int, int, str]:
    """Block, index and stored body of the first trade of the ledger at ``url``."""
    _, txs = _stored(url)
    height, index, _, body, _ = next(t for t in txs if t[2] == "trade")
    return int(str(height)), int(str(index)), str(body)


def test_one_byte_of_a_feeder_trade_is_named_by_its_schema(copy: str, capsys) -> None:
    import psycopg

    feeder = in_schema(copy, "feeder_f1")
    height, index, stored = _trade(feeder)
    at = stored.index('"energy_kwh":') + len('"energy_kwh":')
    changed = stored[:at] + ("1" if stored[at] != "1" else "2") + stored[at + 1 :]
    with psycopg.connect(feeder, autocommit=True) as db:
        db.execute(
            "UPDATE transactions SET body = %s WHERE height = %s AND idx = %s",
            (changed, height, index),
        )
    with pytest.raises(VerificationError) as found:
        verify_city(copy)
    said = found.value.message
    assert said.startswith(f"feeder_f1: block {height}, transaction {index} (trade)")
    assert found.value.rule == "leaf"
    assert main(["ledger", "verify", copy]) == 2
    err = capsys.readouterr().err.strip()
    assert "feeder_f1: block" in err
    assert "\n" not in err


def test_a_missing_or_unlinked_feeder_schema_is_named(copy: str) -> None:
    import psycopg

    with psycopg.connect(copy, autocommit=True) as db:
        db.execute("ALTER SCHEMA feeder_f2 RENAME TO feeder_f9")
    with pytest.raises(VerificationError, match=": feeder_f9: a feeder ledger the city"):
        verify_city(copy)
    with psycopg.connect(copy, autocommit=True) as db:
        db.execute("DROP SCHEMA feeder_f9 CASCADE")
    with pytest.raises(VerificationError, match=": feeder_f2: missing; the city ledger links it"):
        verify_city(copy)


def test_a_feeder_ledger_of_another_run_is_named(copy: str, tmp_path: Path) -> None:
    """F2's schema replaced by F2 of another seed's city: the link names it."""
    import psycopg
    from distributed import Client

    other = tmp_path / "other"
    with Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"
    ) as client:
        run_city(TINY.model_copy(update={"seed": 5}), other, client, verify=False)
    blocks, txs = _stored(FolderLedgers(other).feeder("F2"))
    with psycopg.connect(in_schema(copy, "feeder_f2"), autocommit=True) as db, db.transaction():
        db.execute("DELETE FROM transactions")
        db.execute("DELETE FROM blocks")
        with db.cursor() as cursor:
            cursor.executemany("INSERT INTO blocks VALUES (%s, %s, %s, %s)", blocks)
            cursor.executemany("INSERT INTO transactions VALUES (%s, %s, %s, %s, %s)", txs)
    with pytest.raises(VerificationError, match=": feeder_f2: block 2: rule feeder-link"):
        verify_city(copy)


def test_a_city_database_is_claimed_like_a_folder(copy: str) -> None:
    """A database holding ledgers is refused without --overwrite, replaced whole with
    it (no feeder schema of a larger run left), and a URL naming a schema is refused."""
    place = city_ledgers(copy)
    with pytest.raises(LedgerError, match="already holds ledgers") as refused:
        place.claim(overwrite=False)
    assert refused.value.code == "ledger-exists"
    assert place.is_city()
    place.claim(overwrite=True)
    from voisin.ledger.pg_store import ledger_schemas

    assert ledger_schemas(copy) == []
    assert not place.is_city()
    with pytest.raises(InvalidInput, match="selects no schema"):
        city_ledgers(in_schema(copy, "city")).claim(overwrite=True)
    with pytest.raises(InvalidInput, match="not a city run's folder or database"):
        verify_city(copy)


@pytest.mark.slow
def test_simulate_city_into_postgresql_on_two_worker_processes(
    pg_url: str, tmp_path: Path, capsys
) -> None:
    """``simulate --city FILE --ledger URL --workers 2``: two worker processes, each
    feeder task on its own connection; the summary's verification and ``ledger verify
    URL`` agree; a second run needs --overwrite (one line, exit 2), and gets it."""
    path = tmp_path / "city.json"
    path.write_text(
        json.dumps({"feeders": 3, "households_per_feeder": 2, "intervals": 2, "first_interval": 46})
    )
    out = tmp_path / "out"
    args = ["simulate", "--city", str(path), "--out", str(out), "--workers", "2", "--quiet"]
    assert main([*args, "--ledger", pg_url]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "city and 3 feeders" in said
    assert "schemas city and feeder_f<k>" in said
    assert not (out / "city").exists()
    assert not (out / "feeders").exists()
    assert main(["ledger", "verify", pg_url]) == 0
    assert "the city ledger and 3 feeder ledgers" in " ".join(capsys.readouterr().out.split())
    (out / "city.jsonl").unlink()  # only the database stands in the way now
    assert main([*args, "--ledger", pg_url]) == 2
    err = capsys.readouterr().err.strip()
    assert "--overwrite" in err
    assert "\n" not in err
    assert main([*args, "--ledger", pg_url, "--overwrite"]) == 0
    capsys.readouterr()
    assert main([*args, "--ledger", "sqlite:///x", "--overwrite"]) == 2
    assert "expected a postgresql:// URL" in capsys.readouterr().err
