"""Fixtures shared across test folders, and the xdist groups that make each shared
fixture once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ledger.pg_server import new_database, postgres_server
from voisin.cli.simulation import SimulationConfig, SimulationReport, run_simulation

TESTS = Path(__file__).resolve().parent

SHARED_SESSION_FIXTURES = {"default_day": "default-day", "recorded_run": "recorded-run"}
"""Session fixtures several modules read, each worth making once: their xdist group."""


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


def _module_fixture_group(item: pytest.Item) -> str | None:
    """The module's own name if ``item`` reads a module-scoped fixture defined under
    tests/: without a group, xdist hands the module's tests to both workers in turn and
    each builds the fixture (measured: test_privacy's two-day run, 7-8 s, made twice)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for defs in info.name2fixturedefs.values():
        # a plugin's fixtures have an empty baseid; ours the folder or module they are in
        if defs[-1].scope == "module" and defs[-1].baseid:
            return str(Path(item.path).relative_to(TESTS.parent))
    return None


def _grouped_or_slow(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("xdist_group", "slow"))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On several workers (`-n auto --dist loadgroup`), the tests that share an expensive
    per-process thing run on one worker, so it is made once: the default day and the
    recorded run (session fixtures), the SimBench nets (``voisin.grid.simbench_net``
    reads each once per process), and each module's module-scoped fixtures. xdist hands
    out the groups first (largest first), then single tests in collection order; the
    ``slow`` ones are moved to the front of those, so that the run does not end with one
    worker on a 10-25 s process test and the other idle. Only when distributing: in one
    process the modules' order is kept, so their fixtures are made once."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        shared = [group for name, group in SHARED_SESSION_FIXTURES.items() if name in names]
        if shared:
            group: str | None = shared[0]
        elif "simbench" in item.nodeid:
            group = "simbench"
        else:
            group = _module_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    if config.getoption("dist", "no") != "no":  # stable: a group's tests keep their order
        items.sort(key=lambda item: not _grouped_or_slow(item))
