"""Fixtures shared across test folders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ledger.pg_server import new_database, postgres_server
from voisin.cli.simulation import SimulationConfig, SimulationReport, run_simulation


@pytest.fixture(scope="session")
def default_day(tmp_path_factory: pytest.TempPathFactory) -> SimulationReport:
    """`voisin simulate` with its defaults (30 households and a school, 96 intervals, the
    AC check), run once per test process: the most expensive thing the suite makes, read
    by several folders' tests. Nothing may change its files: copy the ledger first."""
    return run_simulation(SimulationConfig(out=tmp_path_factory.mktemp("default-day")))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A real PostgreSQL server for this test process (``pg_server.postgres_server``)."""
    try:
        with postgres_server() as url:
            yield url
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL server could be started: {exc}")


@pytest.fixture
def pg_url(pg_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test server, named after the test (the ledger
    tests and the city's in PostgreSQL share the server)."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[-50:].lower()
    return new_database(pg_server, name)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On several workers (`-n auto --dist loadgroup`), the tests that share an expensive
    per-process thing run on one worker, so it is made once: the default day, and the
    SimBench nets (``voisin.grid.simbench_net`` reads each once per process)."""
    for item in items:
        if "default_day" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("default-day"))
        elif "simbench" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("simbench"))
