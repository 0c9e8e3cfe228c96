"""The top-level package's own helpers: crash points armed from the environment, and
names exported lazily."""

from __future__ import annotations

import pytest

from voisin import faults
from voisin.lazy import lazy_exports


@pytest.mark.parametrize("spec", ["nowhere:1", "block-write", "block-write:0", "block-write:x"])
def test_a_bad_crash_point_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="VOISIN_CRASH_AT"):
        faults._kill_at(spec)


def test_a_crash_point_counts_only_its_own_passes() -> None:
    """Armed for the 3rd pass of a point, two passes and others' passes leave the process
    alive (the 3rd, a real SIGKILL, is the fault suite's: tests/faults)."""
    name = faults.POINTS[0]
    hook = faults._kill_at(f"{name}:3")
    for passed in (name, *faults.POINTS[1:], name):
        hook(passed)


def test_an_unknown_lazy_name_is_an_attribute_error() -> None:
    lookup = lazy_exports("voisin.meters", {"Site": "site"})
    assert lookup("Site").__name__ == "Site"  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no attribute 'Sight'"):
        lookup("Sight")
