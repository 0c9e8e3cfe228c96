"""Where a city's ledgers live: files in the run's folder, or schemas of one database.

A folder holds ``city/ledger.sqlite`` and ``feeders/<F>/ledger.sqlite``. A PostgreSQL
database (``--ledger postgresql://...``) holds the same ledgers, one **schema** each:
``city`` and ``feeder_<f>`` (the feeder's name in lower case, so a URL names it without
quoting). A schema per ledger, not a database per ledger, keeps a run in one database
that one URL names, one ``--overwrite`` replaces and one user's rights cover; the store
itself is unchanged, since it reads and writes the tables of its connection's
``current_schema()`` and each ledger's URL selects its schema
(``ledger.pg_store.in_schema``). Both places are small frozen values: Dask ships them
to the workers, where each feeder task opens its own connection or file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from voisin.errors import InvalidInput, LedgerError
from voisin.ledger.store import is_database_url, sqlite_files

CITY_LEDGER = Path("city") / "ledger.sqlite"
FEEDERS = "feeders"
CITY_SCHEMA = "city"
FEEDER_SCHEMA = "feeder_"


def feeder_ledger(out: Path, name: str) -> Path:
    return out / FEEDERS / name / "ledger.sqlite"


@dataclass(frozen=True)
class FolderLedgers:
    """The city's ledgers as SQLite files under ``out``."""

    out: Path

    @property
    def city(self) -> Path:
        return self.out / CITY_LEDGER

    def feeder(self, name: str) -> Path:
        return feeder_ledger(self.out, name)

    def shown(self, name: str | None = None) -> str:
        """How messages name the city's ledger (``name`` None) or a feeder's."""
        return str(CITY_LEDGER if name is None else feeder_ledger(Path(), name))

    def is_city(self) -> bool:
        return self.out.is_dir() and self.city.is_file()

    def has(self, name: str) -> bool:
        return self.feeder(name).is_file()

    def unlinked(self, names: set[str]) -> list[str]:
        """Feeder ledgers present under none of ``names``, as messages name them."""
        folder = self.out / FEEDERS
        present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
        return [f"{FEEDERS}/{extra}" for extra in sorted(present - names)]

    def fresh(self, name: str | None = None) -> None:
        """An empty place for the city's ledger (``name`` None) or a feeder's."""
        path = self.city if name is None else self.feeder(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in sqlite_files(path):
            stale.unlink(missing_ok=True)

    @property
    def entries(self) -> tuple[str, str]:
        """The folders under ``out`` that hold the city's ledgers."""
        return str(CITY_LEDGER.parent), FEEDERS

    def refuse(self, *, overwrite: bool) -> None:
        """Refuse a folder holding a city's ledgers unless ``overwrite``."""
        for target in (self.out / name for name in self.entries):
            if target.exists() and not overwrite:
                raise InvalidInput(
                    f"{target} exists; pass --overwrite to replace it", code="file-exists"
                )

    def claim(self, *, overwrite: bool) -> None:
        """``refuse``, then remove the city's ledgers all (a run of fewer feeders must
        not leave other ledgers)."""
        self.refuse(overwrite=overwrite)
        for name in self.entries:
            shutil.rmtree(self.out / name, ignore_errors=True)

    def described(self) -> str:
        return f"{self.city}, {self.out / FEEDERS}/F<k>/ledger.sqlite"


@dataclass(frozen=True)
class DatabaseLedgers:
    """The city's ledgers in schemas of the PostgreSQL database at ``url``."""

    url: str

    @property
    def city(self) -> str:
        from voisin.ledger.pg_store import in_schema

        return in_schema(self.url, CITY_SCHEMA)

    def feeder(self, name: str) -> str:
        from voisin.ledger.pg_store import in_schema

        return in_schema(self.url, feeder_schema(name))

    def shown(self, name: str | None = None) -> str:
        return CITY_SCHEMA if name is None else feeder_schema(name)

    def _schemas(self) -> list[str]:
        from voisin.ledger.pg_store import ledger_schemas

        return ledger_schemas(self.url)

    def is_city(self) -> bool:
        """A database URL that selects no schema, whose ``city`` schema holds a ledger."""
        from voisin.ledger.pg_store import schema_of

        return schema_of(self.url) is None and CITY_SCHEMA in self._schemas()

    def has(self, name: str) -> bool:
        return feeder_schema(name) in self._schemas()

    def unlinked(self, names: set[str]) -> list[str]:
        linked = {feeder_schema(name) for name in names}
        return [
            schema
            for schema in self._schemas()
            if schema.startswith(FEEDER_SCHEMA) and schema not in linked
        ]

    def fresh(self, name: str | None = None) -> None:
        from voisin.ledger.pg_store import fresh_schemas

        schema = self.shown(name)
        fresh_schemas(self.url, drop=[schema], create=[schema])

    def claim(self, *, overwrite: bool) -> None:
        """Refuse a database holding any voisin ledger unless ``overwrite``; then drop the
        city's schemas (``city``, every ``feeder_*``) and a ledger in the URL's own
        schema (a lone feeder's run), as ``pg_store.claim_database`` does."""
        from voisin.ledger.pg_store import claim_database, fresh_schemas, redacted, schema_of

        if schema_of(self.url) is not None:
            raise InvalidInput(
                f"--ledger {redacted(self.url)}: a city takes a database URL that selects "
                "no schema (it writes one schema per ledger)",
                code="bad-ledger",
            )
        found = self._schemas()
        if found and not overwrite:
            raise LedgerError(
                f"{redacted(self.url)} already holds ledgers (schemas {', '.join(found)}); "
                "pass --overwrite to replace them",
                code="ledger-exists",
            )
        ours = [s for s in found if s == CITY_SCHEMA or s.startswith(FEEDER_SCHEMA)]
        fresh_schemas(self.url, drop=ours)
        claim_database(self.url, overwrite=True)

    def described(self) -> str:
        from voisin.ledger.pg_store import redacted

        return f"{redacted(self.url)}, schemas {CITY_SCHEMA} and {FEEDER_SCHEMA}f<k>"


CityLedgers = FolderLedgers | DatabaseLedgers


def feeder_schema(name: str) -> str:
    return FEEDER_SCHEMA + name.lower()


def city_ledgers(place: str | Path | CityLedgers) -> CityLedgers:
    """The city's ledgers at ``place``: a ``postgresql://`` URL, else a run's folder."""
    if isinstance(place, FolderLedgers | DatabaseLedgers):
        return place
    if is_database_url(place):
        return DatabaseLedgers(str(place))
    return FolderLedgers(Path(place))
