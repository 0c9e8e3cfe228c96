"""The suite's shared fixtures are made once only if xdist's groups take effect."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("groups-probe")
def test_under_loadgroup_a_marked_test_is_scheduled_by_its_group(
    request: pytest.FixtureRequest,
) -> None:
    """pytest 9.2 ignores the group suffix xdist 3.8 writes into the node id (pytest-xdist
    issue 1386): the groups then silently vanish and every worker makes the default day
    and the SimBench nets (tests/conftest.py). This fails instead."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs only under -n N --dist loadgroup")
    assert request.node.nodeid.endswith("@groups-probe"), (
        f"xdist groups are not applied ({request.node.nodeid}): check the pytest and "
        "pytest-xdist versions in pyproject.toml"
    )


@pytest.fixture(scope="module")
def made_once_per_module() -> int:
    return 1


def test_a_module_fixture_keeps_its_module_on_one_worker(
    request: pytest.FixtureRequest, made_once_per_module: int
) -> None:
    """A test reading a module-scoped fixture of ours is in its module's group, so the
    fixture is made on one worker only (tests/conftest.py)."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs only under -n N --dist loadgroup")
    assert request.node.nodeid.endswith("@tests/test_xdist_groups.py"), request.node.nodeid
